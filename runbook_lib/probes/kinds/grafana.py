"""grafana probe kind: Grafana ``/api/health``: ``database: ok``."""
from __future__ import annotations

from collections.abc import Mapping

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, outcome, spec_path
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec


class Grafana(ProbeKind):
    """The grafana probe kind."""

    name = "grafana"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Grafana ``/api/health``: ``database: ok``."""
        r = http_get(spec, spec_path(spec, "/api/health"))
        data = r.json("Grafana /api/health")
        if not isinstance(data, Mapping) or "database" not in data:
            raise ProbeDown(f"HTTP {r.status} without a 'database' field: not Grafana's /api/health")
        db = str(data.get("database"))
        detail = [{"component": "database", "status": "up" if db == "ok" else "down", "message": db}]
        reply = f"Grafana {data.get('version', '?')}, database {db}"
        if r.status == 200 and db == "ok":
            return outcome("up", reply, via=r.via, detail=detail)
        return outcome("down", reply, via=r.via, detail=detail, error=f"database {db} (HTTP {r.status})")
