"""The engine's container events over a span, as rows for the history store and the postmortem.

Read through ``logs.read_events`` (the keep-alive transport, else docker-py's ``client.api.events``)
with ``since``/``until`` (sub-second) and a total deadline: what came by then is kept. Only the actions that tell a story are kept
(``logs.EVENT_ACTIONS``: die, oom, kill, health_status, restart, start, stop); texts are masked.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.logs import EVENT_ACTIONS, normalise_event, read_events as engine_events

DEFAULT_DEADLINE_S = 10.0
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


def event_row(ev: dict[str, Any], host: str = "") -> dict[str, Any] | None:
    """One raw engine event → {ts, host, project, service, container, container_id, action, exit_code, detail}."""
    n = normalise_event(ev)
    if n is None or n["time"] is None:
        return None
    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
    name = str(attrs.get("name") or "")
    return {"ts": pd.Timestamp(n["time"]), "host": host, "project": str(attrs.get(COMPOSE_PROJECT) or ""),
            "service": str(attrs.get(COMPOSE_SERVICE) or name), "container": redact.mask_text(name),
            "container_id": n["id"], "action": n["action"], "exit_code": n["exit_code"], "detail": n["detail"]}


def read_events(client: Any, since: Any, until: Any, *, project: str | None = None, label: str | None = None,
                host: str = "", deadline_s: float = DEFAULT_DEADLINE_S) -> list[dict[str, Any]]:
    """Container events in [since, until] (``until`` must not be in the future: the stream would wait for it)."""
    filters: dict[str, Any] = {"type": "container", "event": list(EVENT_ACTIONS)}
    labels = [f"{COMPOSE_PROJECT}={project}"] if project else []
    if label:
        labels.append(label)
    if labels:
        filters["label"] = labels
    rows = (event_row(ev, host) for ev in engine_events(client, since, until, filters, deadline_s))
    return [r for r in rows if r is not None]
