"""traefik probe kind: Traefik ``/ping`` (needs ``--ping``); without it the API (``/api/version``)
tells it is alive.
"""
from __future__ import annotations

import json
import time

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, http_down, outcome, spec_path
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class Traefik(ProbeKind):
    """The traefik probe kind."""

    name = "traefik"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Traefik ``/ping`` (needs ``--ping``); without it the API (``/api/version``) tells it is alive."""
        deadline = time.monotonic() + spec.timeout_s
        r = http_get(spec, spec_path(spec, "/ping"), deadline=deadline)
        if r.status == 200:
            return outcome("up", r.body.strip()[:40] or "HTTP 200", via=r.via)
        if r.status == 404:
            v = http_get(spec, "/api/version", deadline=deadline)
            if v.status == 200:
                try:
                    version = json.loads(v.body).get("Version")
                except (ValueError, AttributeError):
                    version = None
                return outcome("up", f"API answers (Traefik {version or '?'}); /ping not enabled", via=r.via)
            return outcome("degraded", "HTTP 404", via=r.via,
                            error="Traefik answers but /ping is not enabled: start it with --ping "
                                  "(and --api.insecure for the API port) to get a health endpoint")
        return http_down(r, "/ping")
