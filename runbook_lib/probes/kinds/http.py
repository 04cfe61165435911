"""http probe kind: HTTP GET with expected status, optional json_path/regex, Terminus components."""
from __future__ import annotations

from runbook_lib.probes.conditions import judge_http
from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class Http(ProbeKind):
    """The http probe kind (applications: NestJS Terminus and the like)."""

    name = "http"
    libraries = ("httpx",)

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """HTTP GET: expected status, optional json_path/regex, Terminus components."""
        r = http_get(spec, spec.path or "/", scheme=str(spec.options.get("scheme", "http")),
                     headers=spec.options.get("headers"), method=str(spec.options.get("method", "GET")))
        return judge_http(r.status, r.body, spec.options)
