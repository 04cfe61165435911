"""Resource use per running container from the engine's stats API, read concurrently, as rows
(no pandas: a report's kernel starts this read before it imports pandas; ``engine.stats`` builds
the frame from these rows).

One request per container with ``stream=false&one-shot=true`` (API >= 1.41): the engine
answers at once instead of waiting a second for a second CPU sample, and the requests run
side by side on a thread pool over the engine transport (keep-alive, a total deadline per call, unix
socket or tcp; docker-py's API client for TLS and ssh). One-shot answers carry no previous
CPU sample, so ``cpu_pct`` is computed against the previous row when one is given
(the collector keeps it), else left empty.

Row keys (``COLUMNS``): container, name, project, service, cpu_pct, mem_bytes, mem_limit_bytes,
mem_pct, pids, cpu_total_ns, system_cpu_ns, online_cpus, read_at (UTC datetime), error.
"""
from __future__ import annotations

import concurrent.futures
import threading
from datetime import datetime, timezone
from typing import Any

from runbook_lib import redact
from runbook_lib.engine.connection import connect, engine_target
from runbook_lib.engine.inventory_rows import PROJECT_LABEL
from runbook_lib.engine.transport import EngineHTTP
from runbook_lib.exceptions import EngineError

COLUMNS = ["container", "name", "project", "service", "cpu_pct", "mem_bytes", "mem_limit_bytes", "mem_pct",
           "pids", "cpu_total_ns", "system_cpu_ns", "online_cpus", "read_at", "error"]
MIN_ONE_SHOT_API = (1, 41)
# All at once: the engine's stats collector answers every waiting request on its next pass
# (~1 s apart), so one-shot stats of 60 containers take ~1.2 s at 64 concurrent requests,
# ~2.2 s at 32 and ~60 s one after the other (engine 20.10, measured). One connection each.
DEFAULT_WORKERS = 128


def _api_version(client: Any) -> str:
    return str(getattr(client.api, "api_version", None) or client.version().get("ApiVersion") or "1.41")


def _read_time(raw: dict[str, Any]) -> datetime | None:
    text = str(raw.get("read") or "")
    if not text or text.startswith("0001"):
        return None
    try:  # RFC 3339 with nanoseconds: Python keeps microseconds
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except ValueError:
        return None


def parse_stats(raw: dict[str, Any], *, container: str, name: str = "", project: str = "", service: str = "",
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stats answer -> one row (pure). Memory use excludes the page cache, as ``docker stats`` does."""
    mem = raw.get("memory_stats") or {}
    usage = mem.get("usage")
    detail = mem.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0))) or 0
    mem_bytes = None if usage is None else max(0, int(usage) - int(cache))
    limit = mem.get("limit") or None
    cpu = raw.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    pre = raw.get("precpu_stats") or {}
    pre_total = (pre.get("cpu_usage") or {}).get("total_usage")
    pre_system = pre.get("system_cpu_usage")
    if (not pre_system) and previous:
        pre_total, pre_system = previous.get("cpu_total_ns"), previous.get("system_cpu_ns")
    cpu_pct = None
    if total is not None and system and pre_total is not None and pre_system and system > pre_system:
        cpu_pct = round(max(0.0, (total - pre_total) / (system - pre_system)) * online * 100.0, 2)
    read_at = _read_time(raw)
    return {"container": container, "name": name, "project": project, "service": service,
            "cpu_pct": cpu_pct, "mem_bytes": mem_bytes, "mem_limit_bytes": None if limit is None else int(limit),
            "mem_pct": None if (mem_bytes is None or not limit) else round(100.0 * mem_bytes / int(limit), 2),
            "pids": (raw.get("pids_stats") or {}).get("current"), "cpu_total_ns": total, "system_cpu_ns": system,
            "online_cpus": online, "read_at": read_at or datetime.now(timezone.utc), "error": None}


def stats_targets(client: Any, containers: Any, project: str | None = None) -> list[dict[str, str]]:
    """Running containers to read: inventory rows (dicts), a list of ids, or None (all running, of
    ``project`` when given)."""
    if containers is None:
        filters: dict[str, Any] = {"status": "running"}
        if project:
            filters["label"] = [f"{PROJECT_LABEL}={project}"]
        listed = client.api.containers(filters=filters)
        return [{"container": c["Id"], "name": (c.get("Names") or ["/"])[0].lstrip("/"),
                 "project": (c.get("Labels") or {}).get("com.docker.compose.project", ""),
                 "service": (c.get("Labels") or {}).get("com.docker.compose.service", "")} for c in listed]
    containers = list(containers)
    if containers and all(isinstance(c, dict) for c in containers):
        idcol = "id" if "id" in containers[0] else "container"
        return [{"container": str(r.get(idcol)), "name": str(r.get("name") or ""),
                 "project": str(r.get("project") or ""), "service": str(r.get("service") or "")}
                for r in containers if "state" not in r or r["state"] == "running"]
    return [{"container": str(c), "name": "", "project": "", "service": ""} for c in containers]


def read_stats_rows(client: Any, containers: Any = None, *, previous: dict[str, dict[str, Any]] | None = None,
                    workers: int = DEFAULT_WORKERS, timeout_s: float = 10.0, project: str | None = None
                    ) -> list[dict[str, Any]]:
    """Resource use of running containers (``stats_targets``), read concurrently with one-shot stats.

    A container that fails to answer is a row with ``error`` set, never an exception.
    ``previous``: the last row per container id (for ``cpu_pct``).
    """
    targets = stats_targets(client, containers, project)
    if not targets:
        return []
    version = _api_version(client)
    one_shot = tuple(int(x) for x in version.split(".")[:2]) >= MIN_ONE_SHOT_API
    prev = previous or {}
    try:  # the engine transport: keep-alive, a total deadline per call (stats may trickle)
        http: EngineHTTP | None = EngineHTTP(engine_target(client).url, version, timeout_s, max_connections=workers)
    except ValueError:  # TLS or ssh engines: docker-py's own transport
        http = None
    params = {"stream": "false", "one-shot": "true" if one_shot else "false"}

    def one(t: dict[str, str]) -> dict[str, Any]:
        try:
            if http is not None:
                code, raw = http.get_json(f"/containers/{t['container']}/stats", params)
                if code != 200:
                    raise EngineError(f"stats of {t['name'] or t['container'][:12]}: HTTP {code}: {raw}")
            else:
                raw = client.api.stats(t["container"], stream=False, one_shot=one_shot or None)
            return parse_stats(raw, previous=prev.get(t["container"]), **t)
        except Exception as exc:  # noqa: BLE001 - an unanswered container is a row, not a failure
            return {**{c: None for c in COLUMNS}, **t, "read_at": datetime.now(timezone.utc),
                    "error": redact.mask_text(f"{type(exc).__name__}: {exc}")[:200]}

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(targets))) as pool:
            return list(pool.map(one, targets))
    finally:
        if http is not None:
            http.close()


def start_reading_engine_rows(engine_url: str | None = None, *, project: str | None = None,
                              engine_timeout_s: float = 5.0, **kwargs: Any) -> concurrent.futures.Future:
    """Connect and ``read_stats_rows`` of the running containers (of ``project``) in a background
    thread, started before the caller gathers the inventory: the engine's ~1 s for a first
    answer then overlaps the gathering. An engine that cannot be reached gives no rows
    (the caller's own connect reports why). A daemon thread: never holds up the process's exit."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        client = None
        try:
            try:
                client = connect(engine_url, engine_timeout_s)
            except EngineError:
                future.set_result([])
                return
            future.set_result(read_stats_rows(client, None, project=project, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result
            future.set_exception(exc)
        finally:
            if client is not None:
                client.close()

    threading.Thread(target=work, name="runbook-stats", daemon=True).start()
    return future
