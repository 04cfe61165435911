"""postgres probe kind: PostgreSQL: connect with the compose credentials, ``SELECT 1``."""
from __future__ import annotations

import psycopg

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.rows import short
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown


def _credentials(spec: ProbeSpec, *names: str) -> tuple:
    return tuple(spec.options.get(n) for n in names)


class Postgres(ProbeKind):
    """The postgres probe kind."""

    name = "postgres"
    libraries = ('psycopg',)

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """PostgreSQL: connect with the compose credentials, ``SELECT 1``."""
        user, password, dbname = _credentials(spec, "user", "password", "dbname")
        if not user:
            raise ProbeUnknown("missing credentials (POSTGRES_PASSWORD not found in the service's environment "
                               "or its clients'); set user and password under probes: in runbook.yaml")
        try:
            conn = psycopg.connect(host=spec.host, port=int(spec.port or 5432), user=user,
                                   password=password or None, dbname=dbname or user,
                                   connect_timeout=max(1, int(round(spec.timeout_s))),
                                   options=f"-c statement_timeout={int(spec.timeout_s * 1000)}",
                                   application_name="runbook-probe")
        except psycopg.OperationalError as exc:
            text = str(exc)
            low = text.lower()
            if "password authentication failed" in low or "authentication failed" in low or "no password supplied" in low:
                raise ProbeDown("authentication failed: check the service's POSTGRES_USER/POSTGRES_PASSWORD") from None
            if "timeout" in low or "timed out" in low:
                raise TimeoutError("timeout") from None
            if "refused" in low:
                raise ConnectionRefusedError("connection refused") from None
            if "does not exist" in low:
                raise ProbeDown(short(text.strip().splitlines()[-1], 200)) from None
            raise ProbeDown(short(" ".join(text.split()), 300)) from None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                value = cur.fetchone()
            version = conn.info.server_version
        finally:
            conn.close()
        if not value or value[0] != 1:
            return ProbeOutcome("down", reply=str(value), error="SELECT 1 returned something else")
        return ProbeOutcome("up", reply=f"SELECT 1 ok (server {version // 10000}.{version % 10000})")
