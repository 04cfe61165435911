"""A round (inventory + probe rows) → one raw state per (project, service) (pure)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.history.debounce import (DEGRADED, DOWN, SEVERITY, STARTING, STATE_CODES, STOPPED, UNKNOWN,
                                          UP)

_ROUND_COLUMNS = ["project", "service", "raw", "latency_ms", "error", "started_ts", "image"]


def _container_state(row: Mapping[str, Any]) -> tuple[int, str | None]:
    state = str(row.get("state") or "unknown")
    health = str(row.get("health") or "none")
    if state == "running":
        if health == "unhealthy":
            out = str(row.get("health_output") or "").strip()
            return DOWN, f"unhealthy: {out}" if out else "unhealthy"
        if health == "starting":
            return STARTING, None
        return UP, None
    if state == "restarting":
        return DOWN, f"restarting (restart count {row.get('restart_count')})"
    if state == "paused":
        return DEGRADED, "paused"
    if state in ("exited", "dead", "created", "removing"):
        code = row.get("exit_code")
        oom = " (OOM killed)" if row.get("oom_killed") else ""
        text = f"{state}" + (f" (exit code {int(code)})" if code is not None and not isnan(code) else "") + oom
        return STOPPED, text
    return UNKNOWN, f"container state {state}"


def isnan(v: Any) -> bool:
    try:
        return isinstance(v, float) and math.isnan(v)
    except TypeError:
        return False


def epoch(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.timestamp()


def combine_round(inventory: pd.DataFrame | None, probe_rows: pd.DataFrame | None) -> pd.DataFrame:
    """Inventory + probe rows of one round → one raw state per (project, service) (pure).

    A stopped container is STOPPED, an unhealthy or restarting one DOWN; probes then make a
    running service worse (down/degraded) or confirm it; an unknown probe changes nothing.
    With no inventory (engine fault) the probes alone decide. Several containers of one
    service: the worst wins. Error texts are masked.
    """
    acc: dict[tuple[str, str], dict[str, Any]] = {}

    def merge(key: tuple[str, str], raw: int, error: str | None, latency_ms: float | None = None,
              started_ts: float | None = None, image: str | None = None) -> None:
        cur = acc.get(key)
        if cur is None:
            acc[key] = {"raw": raw, "error": error, "latency_ms": latency_ms, "started_ts": started_ts,
                        "image": image}
            return
        if latency_ms is not None and not isnan(latency_ms):
            cur["latency_ms"] = latency_ms if cur["latency_ms"] is None else max(cur["latency_ms"], latency_ms)
        if started_ts is not None:
            cur["started_ts"] = started_ts if cur["started_ts"] is None else max(cur["started_ts"], started_ts)
        if cur["raw"] == STOPPED and raw != UNKNOWN:
            return  # a stopped container stays stopped whatever its probes say
        if SEVERITY[raw] > SEVERITY[cur["raw"]]:
            cur["raw"], cur["error"] = raw, error or cur["error"]
        elif cur["error"] is None and error and raw == cur["raw"]:
            cur["error"] = error

    if inventory is not None and not inventory.empty:
        for row in inventory.to_dict("records"):
            key = (str(row.get("project") or ""), str(row.get("service") or row.get("name") or "?"))
            raw, error = _container_state(row)
            merge(key, raw, error, started_ts=epoch(row.get("started_at")) if raw != STOPPED else None,
                  image=str(row.get("image") or "") or None)
    projects_by_service: dict[str, str] = {}
    for (proj, svc) in acc:
        projects_by_service.setdefault(svc, proj)
    if probe_rows is not None and not probe_rows.empty:
        for row in probe_rows.to_dict("records"):
            svc = str(row.get("service") or "?")
            key = (projects_by_service.get(svc, str(row.get("project") or "")), svc)
            state = str(row.get("state") or "unknown")
            raw = STATE_CODES.get(state, UNKNOWN) if state in ("up", "degraded", "down") else UNKNOWN
            lat = row.get("latency_ms")
            lat = float(lat) if lat is not None and not isnan(lat) and raw in (UP, DEGRADED) else None
            err = row.get("error")
            err = f"{row.get('kind') or 'probe'}: {err}" if err and raw in (DOWN, DEGRADED) else None
            if key not in acc and raw == UNKNOWN:
                acc[key] = {"raw": UNKNOWN, "error": f"probe could not run: {row.get('error') or 'unknown'}",
                            "latency_ms": None, "started_ts": None, "image": None}
                continue
            if raw == UNKNOWN:
                continue
            merge(key, raw, err, lat)
    rows = [{"project": k[0], "service": k[1], "raw": v["raw"], "latency_ms": v["latency_ms"],
             "error": redact.mask_text(v["error"]) if v["error"] else None, "started_ts": v["started_ts"],
             "image": v["image"]}
            for k, v in sorted(acc.items())]
    return pd.DataFrame(rows, columns=_ROUND_COLUMNS)
