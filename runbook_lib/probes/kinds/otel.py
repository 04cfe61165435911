"""otel probe kind: OpenTelemetry collector health_check extension (port 13133): ``Server available``."""
from __future__ import annotations

import json
from collections.abc import Mapping

from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, outcome, spec_path
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec


class Otel(ProbeKind):
    """The otel probe kind."""

    name = "otel"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """OpenTelemetry collector health_check extension (port 13133): ``Server available``."""
        r = http_get(spec, spec_path(spec, "/"))
        try:
            data = json.loads(r.body) if r.body.strip() else {}
        except ValueError:
            data = None
        status = str(data.get("status")) if isinstance(data, Mapping) and data.get("status") is not None else None
        if r.status == 200:
            if data is None:
                raise ProbeDown("HTTP 200 but not the health_check extension's JSON: wrong port (13133)?")
            reply = status or ("healthy" if data.get("healthy") else "HTTP 200")
            return outcome("up", reply, via=r.via)
        return outcome("down", status or f"HTTP {r.status}", via=r.via,
                        error=f"collector not available (HTTP {r.status})")
