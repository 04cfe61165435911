"""Exact blocked-by: which declared dependencies are not met, by compose's own rules.

A ``depends_on`` entry is met when its condition holds (as ``docker compose up`` waits):

- ``service_started``: the dependency's container is running, healthy or not;
- ``service_healthy``: it is running and healthy;
- ``service_completed_successfully``: it has exited with code 0;
- ``required: false``: never blocks; nor does a dependency whose profile is not active.

``blocked_by`` is a service's direct dependencies that are not met (each may be a root
cause itself); ``upstream_root_causes`` the root causes reached through unmet
dependencies, transitively (a direct dependency that is a root cause included); ``blocks``
the inverse of ``upstream_root_causes``. Pure over catalog and expected-vs-actual rows, no pandas
(``analysis.blocked`` gives the frames).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib.analysis.frames import as_list, is_missing, rows_of

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
COLUMNS = ["service", "blocked_by", "upstream_root_causes", "blocks"]


def condition_met(condition: str, actual: str | None, exit_code: Any = None, expected: bool = True) -> bool:
    """Whether a dependency in state ``actual`` (expected-vs-actual) satisfies ``condition``."""
    if not expected:
        return True  # profile not active: compose does not wait for it
    actual = str(actual or "not-created")
    if condition == "service_healthy":
        return actual == "running-healthy"
    if condition == "service_completed_successfully":
        return actual == "exited" and not is_missing(exit_code) and int(exit_code) == 0
    return actual.startswith("running-")  # service_started: running, whatever its health


def _entries(depends_on: Any) -> list[dict[str, Any]]:
    out = []
    for d in as_list(depends_on):
        if not isinstance(d, Mapping):
            d = {"service": str(d)}
        required = d.get("required")
        out.append({"service": str(d.get("service")),
                    "condition": str(d.get("condition") or "service_started"),
                    "required": True if is_missing(required) else bool(required)})
    return out


def unmet_dependencies(catalog_rows: Any, status: Any) -> dict[str, list[str]]:
    """service -> its direct dependencies whose condition is not met (sorted); rows or frames."""
    st = {str(r["service"]): r for r in rows_of(status)}
    out: dict[str, list[str]] = {}
    for row in rows_of(catalog_rows):
        unmet = set()
        for d in _entries(row.get("depends_on")):
            if not d["required"] or d["service"] not in st:
                continue
            r = st[d["service"]]
            expected = True if is_missing(r.get("expected")) else bool(r.get("expected"))
            if not condition_met(d["condition"], r.get("actual"), r.get("exit_code"), expected):
                unmet.add(d["service"])
        out[str(row["service"])] = sorted(unmet)
    return out


def blocked_records(catalog_rows: Any, status: Any, roots: Iterable[str]) -> list[dict[str, Any]]:
    """One record per catalog service (COLUMNS keys): blocked_by, upstream_root_causes, blocks (lists of names)."""
    roots = {str(r) for r in roots}
    catalog_rows = rows_of(catalog_rows)
    unmet = unmet_dependencies(catalog_rows, status)
    upstream: dict[str, set[str]] = {}

    def walk(svc: str, seen: frozenset[str]) -> set[str]:
        if svc in upstream:
            return upstream[svc]
        acc: set[str] = set()
        for d in unmet.get(svc, []):
            if d in seen:
                continue  # a cycle: stop there
            if d in roots:
                acc.add(d)
            acc |= walk(d, seen | {d})
        acc.discard(svc)
        upstream[svc] = acc
        return acc

    for svc in unmet:
        walk(svc, frozenset({svc}))
    blocks: dict[str, set[str]] = {}
    for svc, ups in upstream.items():
        for r in ups:
            blocks.setdefault(r, set()).add(svc)
    return [{"service": s, "blocked_by": list(unmet.get(s, [])), "upstream_root_causes": sorted(upstream.get(s, ())),
             "blocks": sorted(blocks.get(s, ()))} for s in (str(r["service"]) for r in catalog_rows)]


def with_blocked_records(status: Any, catalog_rows: Any, roots: Iterable[str]) -> list[dict[str, Any]]:
    """Expected-vs-actual records with ``root_cause``, ``blocked_by``, ``upstream_root_causes`` and ``blocks``
    set from ``roots`` (the diagnosis's root-cause services) and the exact conditions (copies)."""
    roots = {str(r) for r in roots}
    status = rows_of(status)
    b = {r["service"]: r for r in blocked_records(catalog_rows, status, roots)}
    out = []
    for row in status:
        s = str(row["service"])
        new = dict(row)
        new["root_cause"] = s in roots
        for col in ("blocked_by", "upstream_root_causes", "blocks"):
            new[col] = list(b[s][col]) if s in b else []
        out.append(new)
    return out
