"""Container inventory: one row per container, from the engine into a DataFrame.

One cheap list call gives names, labels, state and ports for every container; an
inspect per container adds only what the list lacks (health and its log, exit
code, OOM kill, restart count, start and finish times). Inspects run concurrently
over the client's connection pool. A container removed mid-listing is skipped and
noted in ``df.attrs["notes"]``, never a crash. Secrets are learned from every
container's environment and command first, then masked in every text column of every row.
"""
from __future__ import annotations

import concurrent.futures as cf
import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import docker.errors
import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.connection import engine_http
from runbook_lib.engine.transport import get_many
from runbook_lib.exceptions import EngineError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
WORKDIR_LABEL = "com.docker.compose.project.working_dir"

COLUMNS = [
    "project", "service", "name", "id", "image", "state", "health", "has_healthcheck",
    "failing_streak", "health_output", "health_log", "exit_code", "oom_killed", "restart_count",
    "restart_policy", "created_at", "started_at", "finished_at", "uptime_s", "ports",
    "published_ports", "networks", "labels", "command", "status_text", "config_files",
    "working_dir",
]

_ZERO_TIME = "0001-01-01T00:00:00Z"
_gc_lock = threading.Lock()
_gc_pausers = [0, False]  # gatherings under way (all hosts' threads), whether the collector was on


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a gathering decodes and tabulates (any thread).

    The decoded inspects make ~100k short-lived objects and no reference cycles; left on, the
    collector now and then walks the whole heap (pandas and all: ~0.1 s) in the middle of it.
    Nested and concurrent users are counted; the collector comes back on with the last one.
    """
    with _gc_lock:
        if _gc_pausers[0] == 0:
            _gc_pausers[1] = gc.isenabled()
            gc.disable()
        _gc_pausers[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers[0] -= 1
            if _gc_pausers[0] == 0 and _gc_pausers[1]:
                gc.enable()


def to_timestamp(value: Any) -> pd.Timestamp | None:
    """Docker time (RFC 3339, ns precision, or epoch seconds) -> UTC Timestamp or None."""
    if value in (None, "", _ZERO_TIME) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    try:
        if isinstance(value, (int, float)):
            return pd.Timestamp(value, unit="s", tz="UTC")
        return pd.Timestamp(value).tz_convert("UTC")
    except (ValueError, TypeError):
        return None


def _ports(list_ports: list[dict] | None) -> tuple[str, list[dict]]:
    text, published = [], []
    seen = set()
    for p in list_ports or []:
        private, proto = p.get("PrivatePort"), p.get("Type", "tcp")
        public, ip = p.get("PublicPort"), p.get("IP", "")
        key = (ip, public, private, proto)
        if key in seen:
            continue
        seen.add(key)
        if public:
            published.append({"host_ip": ip or "0.0.0.0", "host_port": int(public),
                              "container_port": int(private), "protocol": proto})
            text.append(f"{ip or '0.0.0.0'}:{public}->{private}/{proto}")
        else:
            text.append(f"{private}/{proto}")
    return ", ".join(sorted(set(text))), published


def _learn(pairs: list[tuple[dict, dict]]) -> None:
    """Learn every container's identifiers and secrets before any row is masked, so a value
    learned from one container is masked in every row (the redactor skips inputs it has
    already learned from: a stack's containers, hosts and collector rounds share most)."""
    names: set[str] = set()
    for summary, detail in pairs:
        labels = summary.get("Labels") or {}
        cfg = detail.get("Config") or {}
        names.update(v for v in ((summary.get("Names") or ["?"])[0].lstrip("/"), labels.get(PROJECT_LABEL),
                                 labels.get(SERVICE_LABEL), cfg.get("Image") or summary.get("Image")) if v)
        redact.learn_env(cfg.get("Env"))
        redact.learn_command(cfg.get("Cmd"))
        redact.learn_command(summary.get("Command"))
    redact.learn_identifiers(names)


def _row(summary: dict, detail: dict | None, now: pd.Timestamp) -> dict:
    """One container's row (its secrets already learned by ``_learn``)."""
    labels = summary.get("Labels") or {}
    st = (detail or {}).get("State", {}) or {}
    cfg = (detail or {}).get("Config", {}) or {}
    host_cfg = (detail or {}).get("HostConfig", {}) or {}
    name = (summary.get("Names") or ["?"])[0].lstrip("/")
    health = st.get("Health") or {}
    hc = cfg.get("Healthcheck") or {}
    has_hc = bool(health) or bool(hc.get("Test")) and hc.get("Test") != ["NONE"]
    log = [{"start": str(to_timestamp(h.get("Start")) or ""), "end": str(to_timestamp(h.get("End")) or ""), "exit_code": h.get("ExitCode"),
            "output": redact.mask_text((h.get("Output") or "").strip())}
           for h in (health.get("Log") or [])]
    state = st.get("Status") or summary.get("State") or "unknown"
    started, finished = to_timestamp(st.get("StartedAt")), to_timestamp(st.get("FinishedAt"))
    uptime = (now - started).total_seconds() if state == "running" and started is not None else None
    ports_text, published = _ports(summary.get("Ports"))
    nets = sorted(((summary.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    return {
        "project": labels.get(PROJECT_LABEL),
        "service": labels.get(SERVICE_LABEL) or name,
        "name": name,
        "id": summary.get("Id", "")[:12],
        "image": (cfg.get("Image") or summary.get("Image") or ""),
        "state": state,
        "health": health.get("Status") or "none",
        "has_healthcheck": has_hc,
        "failing_streak": int(health.get("FailingStreak") or 0),
        "health_output": log[-1]["output"] if log else "",
        "health_log": log,
        "exit_code": st.get("ExitCode") if state != "running" else None,
        "oom_killed": bool(st.get("OOMKilled", False)),
        "restart_count": int((detail or {}).get("RestartCount") or 0),
        "restart_policy": (host_cfg.get("RestartPolicy") or {}).get("Name") or "no",
        "created_at": to_timestamp(summary.get("Created")),
        "started_at": started,
        "finished_at": finished,
        "uptime_s": uptime,
        "ports": ports_text,
        "published_ports": published,
        "networks": ", ".join(nets),
        "labels": redact.mask_obj(dict(labels)),
        "command": redact.mask_text(summary.get("Command") or ""),
        "status_text": summary.get("Status", ""),
        "config_files": labels.get(CONFIG_FILES_LABEL),
        "working_dir": labels.get(WORKDIR_LABEL),
    }


_EMPTY = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def empty_inventory() -> pd.DataFrame:
    """An inventory with the right columns and no rows (engine down, nothing found)."""
    df = _EMPTY.copy()
    df.attrs = {"notes": []}
    return df


def gather_inventory(client, project: str | None = None, include_stopped: bool = True,
                     label: str | None = None, max_workers: int = 8, fast: bool = True) -> pd.DataFrame:
    """List containers (optionally one compose project / one label) into the inventory frame.

    One list call, then one inspect per container, pipelined on one connection (``fast``;
    docker-py's thread pool otherwise, e.g. for ssh:// or TLS engines).
    """
    with gc_paused():
        return _gather(client, project, include_stopped, label, max_workers, fast)


def _gather(client, project: str | None, include_stopped: bool, label: str | None, max_workers: int,
            fast: bool) -> pd.DataFrame:
    filters: dict[str, Any] = {}
    labels = []
    if project:
        labels.append(f"{PROJECT_LABEL}={project}")
    if label:
        labels.append(label)
    if labels:
        filters["label"] = labels
    lean = engine_http(client) if fast else None
    if lean is not None:
        params = {"all": "1" if include_stopped else "0"}
        if filters:
            params["filters"] = json.dumps(filters)
        status, summaries = lean.get_json("/containers/json", params)
        if status != 200:
            raise EngineError(f"listing containers failed with HTTP {status}: {summaries}")

        # one connection, the inspects pipelined: no round trip per container, no thread pool
        details = []
        for s, (code, body) in zip(summaries, get_many(lean, [f"/containers/{s['Id']}/json" for s in summaries])):
            if code not in (200, 404):
                raise EngineError(f"inspecting container {s['Id'][:12]} failed with HTTP {code}: {body}")
            details.append(body if code == 200 else None)
    else:
        api = client.api
        summaries = api.containers(all=include_stopped, filters=filters or None)

        def inspect_py(s: dict) -> dict | None:
            try:
                return api.inspect_container(s["Id"])
            except docker.errors.NotFound:
                return None
        with cf.ThreadPoolExecutor(max_workers=max_workers) as pool:
            details = list(pool.map(inspect_py, summaries))
    notes: list[str] = []
    now = pd.Timestamp(datetime.now(timezone.utc))
    pairs = []
    for s, d in zip(summaries, details):
        if d is None:
            name = (s.get("Names") or ["?"])[0].lstrip("/")
            notes.append(f"container {name} ({s.get('Id', '')[:12]}) was removed while listing; skipped")
            continue
        pairs.append((s, d))
    _learn(pairs)  # every secret first: a value learned from one container is masked in all rows
    rows = [_row(s, d, now) for s, d in pairs]
    if not rows:
        df = empty_inventory()
    else:
        df = pd.DataFrame(rows, columns=COLUMNS)
        df = df.sort_values(["project", "service", "name"], na_position="last", kind="stable").reset_index(drop=True)
    df.attrs["notes"] = notes
    df.attrs["gathered_at"] = now.isoformat()
    return df


def status_table(inv: pd.DataFrame) -> pd.DataFrame:
    """The columns an on-call engineer reads first, worst rows on top."""
    cols = {"project": "project", "service": "service", "name": "container", "state": "state",
            "health": "health", "exit_code": "exit code", "oom_killed": "OOM", "restart_count": "restarts",
            "uptime_s": "uptime", "ports": "ports", "image": "image", "command": "command",
            "health_output": "last health output"}
    if len(inv) == 0:
        return pd.DataFrame(columns=list(cols.values()))
    rank = {"dead": 0, "exited": 1, "restarting": 2, "created": 3, "paused": 4, "running": 5}
    hrank = {"unhealthy": 0, "starting": 1, "none": 2, "healthy": 3}
    df = inv.assign(_r=inv["state"].map(rank).fillna(9), _h=inv["health"].map(hrank).fillna(9))
    df = df.sort_values(["_r", "_h", "project", "service"], kind="stable")
    out = df[list(cols)].rename(columns=cols).reset_index(drop=True)
    out["uptime"] = [_human_duration(v) for v in df["uptime_s"]]
    out["exit code"] = ["" if v is None or pd.isna(v) else str(int(v)) for v in df["exit_code"]]
    out["command"] = [_shorten(v, 100) for v in out["command"]]
    return out


def _shorten(text: Any, limit: int) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _human_duration(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds):
        return ""
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h}h" if d else f"{h}h {m}m" if h else f"{m}m {s}s"
