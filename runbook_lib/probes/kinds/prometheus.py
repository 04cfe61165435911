"""prometheus probe kind: Prometheus ``/-/healthy`` then ``/-/ready`` (healthy but not ready → degraded)."""
from __future__ import annotations

import time

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, http_down, outcome, spec_path
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class Prometheus(ProbeKind):
    """The prometheus probe kind."""

    name = "prometheus"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Prometheus ``/-/healthy`` then ``/-/ready`` (healthy but not ready → degraded)."""
        deadline = time.monotonic() + spec.timeout_s
        r = http_get(spec, spec_path(spec, "/-/healthy"), deadline=deadline)
        if r.status != 200:
            return http_down(r, "/-/healthy")
        ready = http_get(spec, "/-/ready", deadline=deadline)
        if ready.status == 200:
            return outcome("up", "healthy, ready", via=r.via)
        return outcome("degraded", f"healthy, /-/ready HTTP {ready.status}", via=r.via,
                        error="not ready yet (starting, replaying the WAL)")
