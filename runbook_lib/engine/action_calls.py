"""The engine calls of the recovery actions, each with a TOTAL deadline (not only a per-read timeout).

``engine.actions`` and ``engine.swarm_actions`` make their Docker calls only through
here: start, restart, unpause and inspect of a container, inspect and update of a Swarm
service. On ``unix://`` and plain ``tcp://`` engines they go over the keep-alive
transport (``transport.EngineHTTP``), which clamps every read and write to the time the
call has left, so an engine that trickles its answer fails at the deadline. On the
engines docker-py alone speaks to (ssh, TLS) the docker-py call runs in a helper thread
that is abandoned at the deadline. Either way an overrun raises ``EngineTimeout``
("timed out after N s"). Over the transport a missing container raises ``EngineNotFound``
and any other refusal ``EngineAPIError``; through docker-py, docker-py's own ``NotFound`` /
``APIError`` (``dockerpy.not_found()`` / ``dockerpy.api_errors()`` catch either).

A restart legitimately takes up to its stop timeout: its deadline is the engine timeout
plus ``t``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from runbook_lib.engine.client import check
from runbook_lib.engine.connection import engine_http
from runbook_lib.engine.transport import DEFAULT_TIMEOUT_S
from runbook_lib.exceptions import ActionRefused, EngineTimeout

T = TypeVar("T")


def engine_timeout_s(client: Any) -> float:
    """The client's per-call engine timeout in seconds (docker-py's ``timeout``)."""
    t = getattr(client.api, "timeout", None)
    return float(t) if isinstance(t, (int, float)) and t > 0 else DEFAULT_TIMEOUT_S


def _timed_out(what: str, deadline_s: float) -> EngineTimeout:
    return EngineTimeout(f"The Docker engine did not finish {what} within {deadline_s:g} s (timed out after "
                         f"{deadline_s:g} s); it may be hung or overloaded. Check `docker info`, then run the "
                         f"plan again (or raise --engine-timeout).")


def _in_thread(fn: Callable[[], T], what: str, deadline_s: float) -> T:
    """Run a docker-py call in a helper thread and give up on it at the deadline."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc
    worker = threading.Thread(target=run, name=f"engine-call {what}", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise _timed_out(what, deadline_s)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _http(client: Any, method: str, path: str, params: dict | None, body: Any, deadline_s: float) -> Any:
    """One call over the keep-alive transport; HTTP errors as EngineNotFound / EngineAPIError."""
    lean = engine_http(client)
    status, data = lean.call_json(method, path, params, body, deadline_s)
    return check(status, data, f"{method} {path}")


def _call(client: Any, method: str, path: str, *, params: dict | None = None, body: Any = None,
          extra_s: float = 0.0, fallback: Callable[[], T]) -> Any:
    deadline_s = engine_timeout_s(client) + max(0.0, float(extra_s))
    if engine_http(client) is not None:
        return _http(client, method, path, params, body, deadline_s)
    return _in_thread(fallback, f"{method} {path}", deadline_s)


def start(client: Any, container: str) -> None:
    """POST /containers/{id}/start within the engine timeout (304 'already started' is fine)."""
    _call(client, "POST", f"/containers/{container}/start", fallback=lambda: client.api.start(container))


def restart(client: Any, container: str, stop_timeout_s: int) -> None:
    """POST /containers/{id}/restart?t=N within the engine timeout plus N seconds."""
    t = int(stop_timeout_s)
    _call(client, "POST", f"/containers/{container}/restart", params={"t": t}, extra_s=t,
          fallback=lambda: client.api.restart(container, timeout=t))


def unpause(client: Any, container: str) -> None:
    """POST /containers/{id}/unpause within the engine timeout."""
    _call(client, "POST", f"/containers/{container}/unpause", fallback=lambda: client.api.unpause(container))


def inspect(client: Any, container: str) -> dict:
    """GET /containers/{id}/json within the engine timeout."""
    return _call(client, "GET", f"/containers/{container}/json",
                 fallback=lambda: client.api.inspect_container(container))


def _service_update(client: Any, service: str, change: Callable[[dict], None], fallback: Callable[[], Any]) -> None:
    """Read the service's spec and version, change the spec, POST it back (each call within its deadline).

    Without the keep-alive transport, docker-py's own update runs (within two call deadlines)."""
    if engine_http(client) is None:
        _in_thread(fallback, f"update of service {service}", 2 * engine_timeout_s(client))
        return
    info = _call(client, "GET", f"/services/{service}", fallback=fallback)
    spec, version = info["Spec"], int(info["Version"]["Index"])
    change(spec)
    _call(client, "POST", f"/services/{info['ID']}/update", params={"version": version}, body=spec,
          fallback=fallback)


def service_force_update(client: Any, service: str) -> None:
    """``docker service update --force``: bump TaskTemplate.ForceUpdate so every task is replaced."""
    def bump(spec: dict) -> None:
        tt = spec.setdefault("TaskTemplate", {})
        tt["ForceUpdate"] = int(tt.get("ForceUpdate") or 0) + 1
    _service_update(client, service, bump, lambda: client.services.get(service).force_update())


def service_scale(client: Any, service: str, replicas: int) -> None:
    """``docker service scale S=N`` for a replicated service."""
    def scale(spec: dict) -> None:
        mode = spec.get("Mode") or {}
        if "Replicated" not in mode:
            raise ActionRefused(f"Service '{service}' is not replicated (mode {', '.join(mode) or 'unknown'}): "
                                f"it cannot be scaled.")
        mode["Replicated"]["Replicas"] = int(replicas)
    _service_update(client, service, scale, lambda: client.services.get(service).scale(int(replicas)))
