"""eventstore probe kind: EventStoreDB ``/health/live`` (204 by default)."""
from __future__ import annotations

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, http_down, outcome, spec_path
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class EventStore(ProbeKind):
    """The eventstore probe kind."""

    name = "eventstore"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """EventStoreDB ``/health/live`` (204 by default)."""
        r = http_get(spec, spec_path(spec, "/health/live"))
        if 200 <= r.status < 300:
            return outcome("up", f"HTTP {r.status}", via=r.via)
        return http_down(r, "/health/live")
