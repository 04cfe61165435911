"""minio probe kind: MinIO ``/minio/health/live`` then ``/minio/health/cluster`` (503 = no write
quorum → degraded).
"""
from __future__ import annotations

import time

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, http_down, outcome, spec_path
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class Minio(ProbeKind):
    """The minio probe kind."""

    name = "minio"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """MinIO ``/minio/health/live`` then ``/minio/health/cluster`` (503 = no write quorum → degraded)."""
        deadline = time.monotonic() + spec.timeout_s
        r = http_get(spec, spec_path(spec, "/minio/health/live"), deadline=deadline)
        if r.status != 200:
            return http_down(r, "liveness")
        c = http_get(spec, "/minio/health/cluster", deadline=deadline)
        detail = [{"component": "live", "status": "up", "message": None},
                  {"component": "cluster", "status": "up" if c.status == 200 else "down",
                   "message": None if c.status == 200 else f"HTTP {c.status}"}]
        if c.status == 200:
            return outcome("up", "live, cluster has write quorum", via=r.via, detail=detail)
        return outcome("degraded", f"live, cluster HTTP {c.status}", via=r.via, detail=detail,
                        error="cluster health failed: no write quorum (drives or nodes offline)")
