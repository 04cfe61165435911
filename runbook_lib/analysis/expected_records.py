"""Expected vs actual as records: what the compose catalog says should run, against what runs (no pandas).

``expected_vs_actual_records(catalog_rows, inventory_rows)`` gives one record per catalog
service (``COLUMNS`` keys) with its actual state (not-created, created, running-healthy,
running-unhealthy, running-starting, running-no-healthcheck, restarting, exited, paused,
dead), exit code, OOM kill, restarts and ports declared but not published.

Root causes are kept apart from their consequences: a service that is down while none
of its (transitive) dependencies is down is a *root cause*; every service that depends
on a root cause, directly or not, is *blocked by* it, whatever its own state.

Pure: rows in, rows out (``analysis.expected`` gives the frame). Containers are matched by
the compose service label within the project, then by ``container_name``.
"""
from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.frames import as_datetime, as_int, as_list, is_missing, rows_of

ACTUAL_STATES = ("not-created", "created", "running-healthy", "running-unhealthy", "running-starting",
                 "running-no-healthcheck", "restarting", "exited", "paused", "dead")
UP_STATES = frozenset({"running-healthy", "running-no-healthcheck"})
DOWN_STATES = frozenset({"not-created", "created", "running-unhealthy", "restarting", "exited", "paused", "dead"})

COLUMNS = [
    "service", "tier", "container", "container_id", "image", "expected", "actual", "state", "health",
    "has_healthcheck", "exit_code", "oom_killed", "restart_count", "port_issues", "is_up", "is_down",
    "root_cause", "blocked_by", "blocks", "depends_on", "detail", "started_at",
]


def dependency_names(depends_on: Any) -> list[str]:
    """Service names from a catalog ``depends_on`` cell (list of dicts or of names)."""
    out = []
    for d in as_list(depends_on):
        name = d.get("service") if isinstance(d, Mapping) else d
        if name:
            out.append(str(name))
    return out


def dependency_graph_rows(catalog_rows: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    """service -> direct dependencies (only those present in the catalog), from catalog rows."""
    names = {str(r["service"]) for r in catalog_rows}
    return {str(r["service"]): [d for d in dependency_names(r.get("depends_on")) if d in names]
            for r in catalog_rows}


def classify(state: Any, health: Any, has_healthcheck: Any = None) -> str:
    """Engine state + health -> one of ACTUAL_STATES."""
    state = "" if is_missing(state) else str(state)
    health = "none" if is_missing(health) else str(health)
    if state == "running":
        if health == "healthy":
            return "running-healthy"
        if health == "unhealthy":
            return "running-unhealthy"
        if health == "starting":
            return "running-starting"
        return "running-no-healthcheck"
    if state in ("created", "restarting", "exited", "paused", "dead"):
        return state
    if state == "removing":
        return "dead"
    return "not-created" if not state else "dead"


def _index(rows: list[dict], column: str) -> dict[str, list[dict]]:
    """column value -> the rows carrying it."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        key = row.get(column)
        if not is_missing(key):
            out.setdefault(str(key), []).append(row)
    return out


def _pick_container(rows: list[dict]) -> dict | None:
    """Among several containers for one service, prefer a running one, then the newest."""
    if not rows:
        return None
    if len(rows) == 1:
        return rows[0]

    def created(r: dict) -> float:
        ts = as_datetime(r.get("created_at"))
        return ts.timestamp() if ts is not None else float("-inf")
    return max(rows, key=lambda r: (r.get("state") == "running", created(r)))


def port_issues(declared: Any, published: Any) -> list[str]:
    """Ports the catalog declares with a host side that the container does not publish."""
    issues = []
    pub = as_list(published)
    for p in as_list(declared):
        if not isinstance(p, Mapping):
            continue
        cport, hport = p.get("container_port"), p.get("host_port")
        proto = str(p.get("protocol") or "tcp")
        if is_missing(hport) or hport in ("", None):
            continue  # not published to the host by design
        try:
            cport_i = int(cport)
        except (TypeError, ValueError):
            continue  # ranges and odd syntax: not checked
        try:
            hport_i: int | None = int(hport)
        except (TypeError, ValueError):
            hport_i = None
        found = [q for q in pub if isinstance(q, Mapping) and as_int(q.get("container_port")) == cport_i
                 and str(q.get("protocol") or "tcp") == proto]
        if not found:
            issues.append(f"{hport}:{cport_i}/{proto} declared, not published")
        elif hport_i is not None and not any(as_int(q.get("host_port")) == hport_i for q in found):
            got = ", ".join(str(q.get("host_port")) for q in found)
            issues.append(f"{hport}:{cport_i}/{proto} declared, published on host port {got}")
    return issues


def _completion_deps(catalog_rows: list[Mapping[str, Any]]) -> set[str]:
    """Services some other service waits on with condition service_completed_successfully."""
    out = set()
    for r in catalog_rows:
        for d in as_list(r.get("depends_on")):
            if isinstance(d, Mapping) and str(d.get("condition") or "") == "service_completed_successfully":
                out.add(str(d.get("service")))
    return out


def _detail(actual: str, row: dict | None) -> str:
    if row is None:
        return "no container"
    if actual == "exited" or actual == "dead":
        code = row.get("exit_code")
        text = f"exit code {int(code)}" if not is_missing(code) else "stopped"
        if bool(row.get("oom_killed")):
            text += ", OOM killed"
        return text
    if actual == "restarting":
        return f"restart loop ({int(row.get('restart_count') or 0)} restarts)"
    if actual == "running-unhealthy":
        out = str(row.get("health_output") or "").strip()
        streak = int(row.get("failing_streak") or 0)
        return redact.mask_text(f"failing streak {streak}: {out[:200]}" if out else f"failing streak {streak}")
    return ""


def _active(profiles: Any, active_profiles: set[str] | None, has_container: bool) -> bool:
    """A service with profiles is expected only when one is active (or it exists anyway).

    ``active_profiles`` None means the catalog is already filtered (compose.load_catalog
    drops services of inactive profiles): every service in it is expected.
    """
    profs = [str(p) for p in as_list(profiles)]
    if not profs or has_container or active_profiles is None:
        return True
    return bool(active_profiles and active_profiles.intersection(profs))


def expected_vs_actual_records(catalog_rows: Any, inventory_rows: Any, project: str | None = None,
                               active_profiles: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One record per catalog service (COLUMNS keys): actual state, up/down, root cause, blocked by, blocks.

    ``catalog_rows`` / ``inventory_rows``: lists of dicts (a frame is read as its rows).
    """
    catalog_rows = rows_of(catalog_rows)
    inv = rows_of(inventory_rows)
    in_project = [r for r in inv if r.get("project") == project] if project and inv and "project" in inv[0] else inv
    profiles = set(active_profiles) if active_profiles is not None else None
    completes = _completion_deps(catalog_rows)
    graph = dependency_graph_rows(catalog_rows)
    by_service = _index(in_project, "service")
    by_name = _index(inv, "name")
    rows = []
    for svc in catalog_rows:
        name = str(svc["service"])
        cname = svc.get("container_name")
        cname = None if is_missing(cname) else str(cname)
        match = by_service.get(name)
        if match is None and cname:
            match = by_name.get(cname)
        c = _pick_container(match) if match is not None else None
        if c is None:
            actual = "not-created"
        else:
            actual = classify(c.get("state"), c.get("health"), c.get("has_healthcheck"))
        expected = _active(svc.get("profiles"), profiles, c is not None)
        exit_code = None if c is None or is_missing(c.get("exit_code")) else int(c.get("exit_code"))
        is_up = actual in UP_STATES
        is_down = actual in DOWN_STATES
        if actual == "exited" and exit_code == 0 and name in completes:
            is_up, is_down = True, False  # a one-shot job that completed is what dependents wait for
        if not expected:
            is_up = is_down = False
        issues = port_issues(svc.get("ports"), c.get("published_ports")) if c is not None and \
            c.get("state") == "running" else []
        tier = svc.get("tier")
        rows.append({
            "service": name,
            "tier": "application" if is_missing(tier) else str(tier),
            "container": (str(c.get("name")) if c is not None else cname),
            "container_id": (str(c.get("id")) if c is not None else None),
            "image": svc.get("image") or None,  # the catalog frame is masked already
            "expected": expected,
            "actual": actual,
            "state": None if c is None else c.get("state"),
            "health": None if c is None else c.get("health"),
            "has_healthcheck": bool(svc.get("has_healthcheck")) if not is_missing(svc.get("has_healthcheck"))
            else bool(svc.get("healthcheck")),
            "exit_code": exit_code,
            "oom_killed": bool(c.get("oom_killed")) if c is not None else False,
            "restart_count": int(c.get("restart_count") or 0) if c is not None else 0,
            "port_issues": issues,
            "is_up": is_up,
            "is_down": is_down,
            "depends_on": graph.get(name, []),
            "detail": _detail(actual, c) if expected else "profile not active",
            "started_at": None if c is None else c.get("started_at"),
        })
    root, blocked_by, blocks = root_causes(graph, {r["service"] for r in rows if r["is_down"]})
    out = []
    for r in rows:
        s = r["service"]
        r.update(root_cause=s in root, blocked_by=blocked_by.get(s, []), blocks=blocks.get(s, []))
        out.append({c: r[c] for c in COLUMNS})
    return out


def _ancestors(graph: Mapping[str, list[str]], start: str) -> set[str]:
    """Every service ``start`` depends on, directly or not (cycle-safe)."""
    seen: set[str] = set()
    todo = list(graph.get(start, []))
    while todo:
        s = todo.pop()
        if s in seen or s == start:
            continue
        seen.add(s)
        todo.extend(graph.get(s, []))
    return seen


def all_ancestors(graph: Mapping[str, list[str]]) -> dict[str, set[str]]:
    """service -> every service it depends on; memoised over a DAG, per node when there is a cycle."""
    try:
        order = list(graphlib.TopologicalSorter({s: [d for d in ds if d in graph] for s, ds in graph.items()})
                     .static_order())
    except graphlib.CycleError:
        return {s: _ancestors(graph, s) for s in graph}
    out: dict[str, set[str]] = {}
    for s in order:
        acc: set[str] = set()
        for d in graph.get(s, []):
            if d in out:
                acc.add(d)
                acc |= out[d]
        out[s] = acc
    return out


def root_causes(graph: Mapping[str, list[str]], down: set[str]
                ) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
    """(root causes, service -> roots it is blocked by, root -> services it blocks).

    A down service is a root cause when no service it depends on (transitively) is down;
    in a cycle of down services with no other down dependency, every member is a root.
    """
    ancestors = all_ancestors(graph)
    roots = set()
    for s in down:
        down_deps = ancestors.get(s, set()) & down
        if not down_deps or all(s in ancestors.get(d, set()) for d in down_deps):
            roots.add(s)
    hits = {s: ancestors[s] & roots for s in graph}
    blocked_by = {s: sorted(h) for s, h in hits.items() if h}
    blocks: dict[str, list[str]] = {}
    for s, rs in blocked_by.items():
        for r in rs:
            if r != s:
                blocks.setdefault(r, []).append(s)
    blocked_by = {s: [r for r in rs if r != s] for s, rs in blocked_by.items()}
    blocked_by = {s: rs for s, rs in blocked_by.items() if rs}
    return roots, blocked_by, {r: sorted(v) for r, v in blocks.items()}

