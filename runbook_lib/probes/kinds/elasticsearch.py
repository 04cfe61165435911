"""elasticsearch probe kind: ``GET /_cluster/health``: green up, yellow degraded, red down (Basic
auth if a password is known).
"""
from __future__ import annotations

from collections.abc import Mapping


from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, basic_auth, outcome, spec_path
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown

_ES_STATES = {"green": "up", "yellow": "degraded", "red": "down"}


class Elasticsearch(ProbeKind):
    """The elasticsearch probe kind."""

    name = "elasticsearch"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """``GET /_cluster/health``: green up, yellow degraded, red down (Basic auth if a password is known)."""
        auth = None if spec.via == "exec" else basic_auth(spec, "elastic")
        r = http_get(spec, spec_path(spec, "/_cluster/health"), auth=auth)
        if r.status in (401, 403):
            if spec.via == "exec":
                raise ProbeUnknown("Elasticsearch needs credentials, which are not sent through docker exec: "
                                   "publish port 9200 on 127.0.0.1")
            if auth is None:
                raise ProbeUnknown(f"missing credentials: Elasticsearch answered HTTP {r.status}; set ELASTIC_PASSWORD "
                                   "in the service's environment or password in runbook.yaml probes:")
            raise ProbeDown(f"authentication failed (HTTP {r.status}): check ELASTIC_PASSWORD")
        data = r.json("Elasticsearch _cluster/health")
        if r.status != 200:
            err = data.get("error") if isinstance(data, Mapping) else None
            reason = (err.get("type") if isinstance(err, Mapping) else err) or f"HTTP {r.status}"
            return outcome("down", f"HTTP {r.status}", via=r.via, error=f"cluster health failed: {reason}")
        if not isinstance(data, Mapping) or str(data.get("status")) not in _ES_STATES:
            raise ProbeDown("reply has no green/yellow/red status: not an Elasticsearch _cluster/health")
        colour = str(data["status"])
        state = _ES_STATES[colour]
        msg = (f"nodes {data.get('number_of_nodes')}, active shards {data.get('active_shards_percent_as_number')} %, "
               f"unassigned {data.get('unassigned_shards')}, pending tasks {data.get('number_of_pending_tasks')}")
        detail = [{"component": f"cluster {data.get('cluster_name', '')}".strip(), "status": colour, "message": msg}]
        error = None if state == "up" else f"cluster {colour}: {data.get('unassigned_shards')} unassigned shards"
        return outcome(state, f"cluster {colour}", via=r.via, detail=detail, error=error)
