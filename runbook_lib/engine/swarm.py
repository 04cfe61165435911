"""Docker Swarm from a manager's API: nodes, services and tasks as frames (UTC times).

Read-only. ``gather_swarm(client)`` returns a ``SwarmFrames`` with three frames and the
service logs of the services that do not converge (the diagnosis reads them). An engine
that is not a Swarm manager gives empty frames and a note, never an exception; a manager
that fails mid-way gives what was read plus the reason in ``error``.

Frames:
- nodes: node_id, hostname, role, availability, status, status_message, manager_reachability,
  leader, engine_version, address, labels;
- services: service_id, service, stack, mode, desired_replicas, running_replicas, image,
  update_state, update_message, update_started_at, update_completed_at, created_at, updated_at;
- tasks: task_id, service_id, service, stack, slot, node_id, node, desired_state, state,
  message, error, exit_code, container_id, created_at, updated_at.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.inventory import to_timestamp
from runbook_lib.exceptions import EngineError

STACK_LABEL = "com.docker.stack.namespace"
NODE_COLUMNS = ["node_id", "hostname", "role", "availability", "status", "status_message",
                "manager_reachability", "leader", "engine_version", "address", "labels"]
SERVICE_COLUMNS = ["service_id", "service", "stack", "mode", "desired_replicas", "running_replicas", "image",
                   "update_state", "update_message", "update_started_at", "update_completed_at",
                   "created_at", "updated_at"]
TASK_COLUMNS = ["task_id", "service_id", "service", "stack", "slot", "node_id", "node", "desired_state", "state",
                "message", "error", "exit_code", "container_id", "created_at", "updated_at"]
# task states that mean "this task will not run now": the diagnosis reads them
PROBLEM_STATES = frozenset({"pending", "rejected", "failed", "orphaned", "remove"})


@dataclass
class SwarmFrames:
    """What one Swarm manager told us; empty frames when the engine is no manager."""

    nodes: pd.DataFrame
    services: pd.DataFrame
    tasks: pd.DataFrame
    logs: dict[str, list[str]] = field(default_factory=dict)  # service name -> masked log lines
    is_manager: bool = False
    swarm_state: str = "inactive"
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame(rows, columns=columns)


def swarm_state(client: Any) -> tuple[str, bool]:
    """(LocalNodeState, is this engine a manager): ('inactive', False) outside a Swarm."""
    info = client.info().get("Swarm") or {}
    return str(info.get("LocalNodeState") or "inactive"), bool(info.get("ControlAvailable"))


def node_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One node of ``GET /nodes`` as a row."""
    spec, desc = raw.get("Spec") or {}, raw.get("Description") or {}
    status, mgr = raw.get("Status") or {}, raw.get("ManagerStatus") or {}
    return {
        "node_id": raw.get("ID", "")[:25],
        "hostname": desc.get("Hostname"),
        "role": spec.get("Role"),
        "availability": spec.get("Availability"),
        "status": status.get("State"),
        "status_message": redact.mask_text(status.get("Message") or ""),
        "manager_reachability": mgr.get("Reachability") if mgr else None,
        "leader": bool(mgr.get("Leader")) if mgr else False,
        "engine_version": (desc.get("Engine") or {}).get("EngineVersion"),
        "address": status.get("Addr"),
        "labels": redact.mask_obj(dict(spec.get("Labels") or {})),
    }


def _mode(spec: Mapping[str, Any]) -> tuple[str, int | None]:
    mode = spec.get("Mode") or {}
    if "Replicated" in mode:
        return "replicated", int((mode["Replicated"] or {}).get("Replicas") or 0)
    if "Global" in mode:
        return "global", None
    if "ReplicatedJob" in mode:
        return "replicated-job", int((mode["ReplicatedJob"] or {}).get("TotalCompletions") or 0)
    return ("global-job" if "GlobalJob" in mode else "unknown"), None


def service_row(raw: Mapping[str, Any], running: int, desired: int | None) -> dict[str, Any]:
    """One service of ``GET /services`` as a row; replica counts come from its tasks or ServiceStatus."""
    spec = raw.get("Spec") or {}
    labels = spec.get("Labels") or {}
    mode, replicas = _mode(spec)
    upd = raw.get("UpdateStatus") or {}
    image = str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image") or "")
    return {
        "service_id": raw.get("ID", "")[:25],
        "service": spec.get("Name"),
        "stack": labels.get(STACK_LABEL),
        "mode": mode,
        "desired_replicas": replicas if replicas is not None else desired,
        "running_replicas": running,
        "image": image.split("@sha256:")[0],
        "update_state": upd.get("State"),
        "update_message": redact.mask_text(upd.get("Message") or ""),
        "update_started_at": to_timestamp(upd.get("StartedAt")),
        "update_completed_at": to_timestamp(upd.get("CompletedAt")),
        "created_at": to_timestamp(raw.get("CreatedAt")),
        "updated_at": to_timestamp(raw.get("UpdatedAt")),
    }


def task_row(raw: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]],
             nodes: Mapping[str, str]) -> dict[str, Any]:
    """One task of ``GET /tasks`` as a row, named by its service and node."""
    status = raw.get("Status") or {}
    cstat = status.get("ContainerStatus") or {}
    svc = services.get(raw.get("ServiceID", "")) or {}
    code = cstat.get("ExitCode")
    state = status.get("State")
    return {
        "task_id": raw.get("ID", "")[:25],
        "service_id": raw.get("ServiceID", "")[:25],
        "service": svc.get("service"),
        "stack": svc.get("stack"),
        "slot": raw.get("Slot"),
        "node_id": raw.get("NodeID") or None,
        "node": nodes.get(raw.get("NodeID") or ""),
        "desired_state": raw.get("DesiredState"),
        "state": state,
        "message": redact.mask_text(status.get("Message") or ""),
        "error": redact.mask_text(status.get("Err") or ""),
        "exit_code": int(code) if code is not None and state in ("failed", "complete", "shutdown") else None,
        "container_id": (cstat.get("ContainerID") or "")[:12] or None,
        "created_at": to_timestamp(raw.get("CreatedAt")),
        "updated_at": to_timestamp(status.get("Timestamp") or raw.get("UpdatedAt")),
    }


def frames_from_raw(nodes: Iterable[Mapping[str, Any]], services: Iterable[Mapping[str, Any]],
                    tasks: Iterable[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn the three API answers into the three frames (pure; tests feed recorded answers)."""
    node_rows = [node_row(n) for n in nodes]
    node_names = {n.get("ID", ""): (n.get("Description") or {}).get("Hostname") for n in nodes}
    tasks = list(tasks)
    running: dict[str, int] = {}
    wanted: dict[str, int] = {}
    for t in tasks:
        sid = t.get("ServiceID", "")
        if (t.get("Status") or {}).get("State") == "running":
            running[sid] = running.get(sid, 0) + 1
        if t.get("DesiredState") == "running":
            wanted[sid] = wanted.get(sid, 0) + 1
    svc_rows = []
    by_id: dict[str, dict[str, Any]] = {}
    for s in services:
        row = service_row(s, running.get(s.get("ID", ""), 0), wanted.get(s.get("ID", "")))
        svc_rows.append(row)
        by_id[s.get("ID", "")] = row
    task_rows = [task_row(t, by_id, node_names) for t in tasks]
    nf = _frame(node_rows, NODE_COLUMNS)
    sf = _frame(svc_rows, SERVICE_COLUMNS)
    tf = _frame(task_rows, TASK_COLUMNS)
    if len(sf):
        sf = sf.sort_values(["stack", "service"], na_position="last", kind="stable").reset_index(drop=True)
    if len(tf):
        tf = tf.sort_values(["service", "slot", "updated_at"], ascending=[True, True, False],
                            na_position="last", kind="stable").reset_index(drop=True)
    return nf, sf, tf


def service_logs(client: Any, service_id: str, tail_lines: int = 200) -> list[str]:
    """The last lines of a service's logs (all its tasks), decoded and masked."""
    raw = client.api.service_logs(service_id, stdout=True, stderr=True, tail=tail_lines, follow=False)
    data = raw if isinstance(raw, (bytes, bytearray)) else b"".join(raw)
    return [redact.mask_text(line) for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]


def _failing_services(services: pd.DataFrame, tasks: pd.DataFrame) -> list[str]:
    """Services with fewer running replicas than desired, or tasks that failed."""
    out = set()
    for r in services.itertuples():
        want = r.desired_replicas
        if want is not None and not pd.isna(want) and int(r.running_replicas or 0) < int(want):
            out.add(str(r.service_id))
    if len(tasks):
        out.update(tasks.loc[tasks["state"].isin(["failed", "rejected"]), "service_id"].astype(str))
    return sorted(out)


def empty_swarm(note: str | None = None, state: str = "inactive") -> SwarmFrames:
    """Empty frames (the engine is no manager, or could not be read)."""
    nf, sf, tf = frames_from_raw([], [], [])
    return SwarmFrames(nf, sf, tf, swarm_state=state, notes=[note] if note else [])


def gather_swarm(client: Any, stack: str | None = None, *, with_logs: bool = True,
                 tail_lines: int = 200) -> SwarmFrames:
    """Read nodes, services and tasks (one stack's with ``stack``) from a Swarm manager.

    Logs are read only for services that do not converge (``with_logs``).
    """
    try:
        state, manager = swarm_state(client)
    except Exception as exc:  # noqa: BLE001 - an engine that fails is a reason, not a crash
        out = empty_swarm(f"Swarm state not read: {exc}")
        out.error = redact.mask_text(str(exc))
        return out
    if not manager:
        return empty_swarm(f"this engine is not a Swarm manager (Swarm {state}): no Swarm frames", state)
    flt = {"label": f"{STACK_LABEL}={stack}"} if stack else None
    api = client.api
    try:
        raw_services = api.services(filters=flt)
        ids = [s["ID"] for s in raw_services]
        raw_tasks = [t for t in api.tasks() if t.get("ServiceID") in set(ids)] if stack else api.tasks()
        raw_nodes = api.nodes()
    except Exception as exc:  # noqa: BLE001
        out = empty_swarm(f"Swarm frames not read: {exc}", state)
        out.is_manager, out.error = True, redact.mask_text(str(exc))
        return out
    nf, sf, tf = frames_from_raw(raw_nodes, raw_services, raw_tasks)
    out = SwarmFrames(nf, sf, tf, is_manager=True, swarm_state=state)
    if with_logs:
        names = dict(zip(sf["service_id"].astype(str), sf["service"].astype(str)))
        for sid in _failing_services(sf, tf):
            try:
                out.logs[names.get(sid, sid)] = service_logs(client, sid, tail_lines)
            except Exception as exc:  # noqa: BLE001 - logs are evidence, their loss only a note
                out.notes.append(redact.mask_text(f"logs of {names.get(sid, sid)} not read: {exc}"))
    return out


def require_manager(client: Any) -> None:
    """Raise EngineError (with the fix) unless this engine is a Swarm manager."""
    state, manager = swarm_state(client)
    if not manager:
        raise EngineError(f"this engine is not a Swarm manager (Swarm {state}): point --engine-url / --host "
                          f"at a manager node (`docker node ls` works there).")
