"""Container inventory rows: one masked dict per container (``COLUMNS`` keys), from the engine. No pandas.

One cheap list call gives names, labels, state and ports for every container; an
inspect per container adds only what the list lacks (health and its log, exit
code, OOM kill, restart count, start and finish times). The inspects are pipelined on one
keep-alive connection (docker-py's thread pool for ssh:// and TLS engines). A container
removed mid-listing is skipped and noted, never a crash. Secrets are learned from every
container's environment and command first, then masked in every text field of every row.
Times are tz-aware UTC datetimes (None when unset). ``engine.inventory`` builds the frame.
"""
from __future__ import annotations

import concurrent.futures as cf
import gc
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from runbook_lib import redact
from runbook_lib.engine import dockerpy
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


_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def parse_time(value: Any) -> tuple[datetime, int] | None:
    """Docker time (RFC 3339 to the nanosecond, or epoch seconds) -> (UTC datetime to the microsecond,
    nanoseconds past its second), or None (empty, Docker's zero time, junk)."""
    if value in (None, "", _ZERO_TIME) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            dt = datetime.fromtimestamp(value, timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
        return dt, dt.microsecond * 1000
    m = _TIME_RE.match(str(value).strip())
    if not m:
        return None
    day, clock, frac, zone = m.groups()
    nanos = int((frac or "")[:9].ljust(9, "0"))
    try:
        dt = datetime.fromisoformat(f"{day}T{clock}{zone if zone and zone != 'Z' else '+00:00'}")
    except ValueError:
        return None
    return dt.astimezone(timezone.utc).replace(microsecond=nanos // 1000), nanos


def to_datetime(value: Any) -> datetime | None:
    """Docker time (RFC 3339, or epoch seconds) -> tz-aware UTC datetime (to the microsecond) or None."""
    parsed = parse_time(value)
    return parsed[0] if parsed else None


def time_text(value: Any) -> str:
    """Docker time -> "YYYY-MM-DD HH:MM:SS[.fraction]+00:00" (the fraction to the nanosecond given), or ""."""
    parsed = parse_time(value)
    if parsed is None:
        return ""
    dt, nanos = parsed
    frac = f".{nanos:09d}" if nanos % 1000 else f".{nanos // 1000:06d}" if nanos else ""
    return f"{dt:%Y-%m-%d %H:%M:%S}{frac}+00:00"


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


def _row(summary: dict, detail: dict | None, now: datetime) -> dict:
    """One container's row (its secrets already learned by ``_learn``)."""
    labels = summary.get("Labels") or {}
    st = (detail or {}).get("State", {}) or {}
    cfg = (detail or {}).get("Config", {}) or {}
    host_cfg = (detail or {}).get("HostConfig", {}) or {}
    name = (summary.get("Names") or ["?"])[0].lstrip("/")
    health = st.get("Health") or {}
    hc = cfg.get("Healthcheck") or {}
    has_hc = bool(health) or bool(hc.get("Test")) and hc.get("Test") != ["NONE"]
    log = [{"start": time_text(h.get("Start")), "end": time_text(h.get("End")), "exit_code": h.get("ExitCode"),
            "output": redact.mask_text((h.get("Output") or "").strip())}
           for h in (health.get("Log") or [])]
    state = st.get("Status") or summary.get("State") or "unknown"
    started, finished = to_datetime(st.get("StartedAt")), to_datetime(st.get("FinishedAt"))
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
        "created_at": to_datetime(summary.get("Created")),
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


def gather_rows(client, project: str | None = None, include_stopped: bool = True, label: str | None = None,
                max_workers: int = 8, fast: bool = True) -> tuple[list[dict[str, Any]], list[str], datetime]:
    """List containers (optionally one compose project / one label): (rows sorted by project, service
    and name; notes; the UTC time of the gathering).

    One list call, then one inspect per container, pipelined on one connection (``fast``;
    docker-py's thread pool otherwise, e.g. for ssh:// or TLS engines).
    """
    with gc_paused():
        return _gather(client, project, include_stopped, label, max_workers, fast)


def _gather(client, project: str | None, include_stopped: bool, label: str | None, max_workers: int,
            fast: bool) -> tuple[list[dict[str, Any]], list[str], datetime]:
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
            except dockerpy.not_found():
                return None
        with cf.ThreadPoolExecutor(max_workers=max_workers) as pool:
            details = list(pool.map(inspect_py, summaries))
    notes: list[str] = []
    now = datetime.now(timezone.utc)
    pairs = []
    for s, d in zip(summaries, details):
        if d is None:
            name = (s.get("Names") or ["?"])[0].lstrip("/")
            notes.append(f"container {name} ({s.get('Id', '')[:12]}) was removed while listing; skipped")
            continue
        pairs.append((s, d))
    _learn(pairs)  # every secret first: a value learned from one container is masked in all rows
    rows = sorted((_row(s, d, now) for s, d in pairs), key=_sort_key)
    return rows, notes, now


def _sort_key(row: dict[str, Any]) -> tuple:
    """By project, service, name; a missing project last (as the frame's sort, na_position="last")."""
    return tuple((v is None, "" if v is None else str(v)) for v in (row["project"], row["service"], row["name"]))


