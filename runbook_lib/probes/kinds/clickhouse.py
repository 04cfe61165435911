"""clickhouse probe kind: ClickHouse HTTP ``/ping`` answers ``Ok.``."""
from __future__ import annotations

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, http_down, outcome, spec_path
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec


class ClickHouse(ProbeKind):
    """The clickhouse probe kind."""

    name = "clickhouse"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """ClickHouse HTTP ``/ping`` answers ``Ok.``."""
        r = http_get(spec, spec_path(spec, "/ping"))
        if r.status != 200:
            return http_down(r, "/ping")
        if r.body.strip() != "Ok.":
            raise ProbeDown(f"/ping answered {r.body.strip()[:40]!r}, not 'Ok.': not ClickHouse's HTTP port?")
        return outcome("up", "Ok.", via=r.via)
