"""docker probe kind: The container's own state and HEALTHCHECK result, read from the engine."""
from __future__ import annotations

from runbook_lib.engine import dockerpy
from runbook_lib.probes.inside import engine_client
from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.rows import short
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec, ProbeUnknown


class Docker(ProbeKind):
    """The docker probe kind."""

    name = "docker"
    libraries = ('docker',)
    timeout_is_unknown = True  # a hung engine is lost coverage, not a down service

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """The container's own state and HEALTHCHECK result, read from the engine."""
        client = engine_client()
        if client is None:
            raise ProbeUnknown("engine unreachable: container state not read")
        ref = spec.container or spec.options.get("container_name") or spec.service
        try:
            info = client.api.inspect_container(ref)
        except dockerpy.not_found():
            return ProbeOutcome("down", reply="no container", error=f"no container {ref}")
        except Exception as exc:  # noqa: BLE001 - the engine failed us, not the service
            raise ProbeUnknown(f"engine did not answer ({type(exc).__name__}): container state not read") from None
        st = info.get("State") or {}
        status = st.get("Status")
        health = (st.get("Health") or {}).get("Status")
        log = (st.get("Health") or {}).get("Log") or []
        last = (log[-1].get("Output") or "").strip() if log else None
        reply = f"{status}/{health or 'no healthcheck'}"
        if status != "running":
            return ProbeOutcome("down", reply=reply, error=f"container {status} (exit {st.get('ExitCode')})")
        if health == "unhealthy":
            return ProbeOutcome("down", reply=reply, error=short(last or "unhealthy", 300))
        if health == "starting":
            return ProbeOutcome("degraded", reply=reply, error="healthcheck starting")
        return ProbeOutcome("up", reply=reply)
