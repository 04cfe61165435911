"""Symptom folding: one finding per failing service, its cause, with its symptoms as evidence.

``fold_records(findings, status, catalog_rows)`` keeps one record per service:

- the service's cause (``kind == "cause"``; a root cause before a blocked one, the worst
  first) is kept; every other finding of the service (a crash loop, a failing healthcheck,
  a refused connection, a second cause) is folded into it: its evidence lines are added,
  prefixed with their category, and its category is listed in ``folded``;
- with no cause, a crash loop stays (else the worst symptom), and it is a root cause only
  when no declared dependency of the service is unmet: a refused connection to a
  dependency that is down is that dependency's consequence, not a cause of its own;
- with the catalog and expected-vs-actual rows, ``blocked_by`` / ``blocks`` /
  ``upstream_root_causes`` follow the exact compose conditions (``analysis.blocked``).

``crash_loops_records(status, inventory, now)`` marks a container down when its restart count grew
within the recent window (its last start is recent and it restarted before), whatever the
snapshot says: a crash-looping container reads "running" between two restarts.

Both are pure and idempotent (folding folded findings changes nothing), and need no pandas:
``analysis.fold`` gives the frames.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runbook_lib.analysis.blocked_records import blocked_records, unmet_dependencies
from runbook_lib.analysis.frames import as_datetime, as_list, is_missing, rows_of, utc_now

RECENT_WINDOW_S = 300.0     # a restart within this window is a crash loop in progress
FOLDED_EVIDENCE_LINES = 2   # evidence lines kept from each folded finding
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
FOLD_COLUMNS = ("folded", "upstream_root_causes")  # the columns folding adds after the findings' own


def _is_root(v: Any) -> bool:
    return False if is_missing(v) else bool(v)


def _pick(rows: list[dict[str, Any]], unmet: list[str]) -> tuple[dict[str, Any], bool]:
    """(the row that stays, whether it is a root cause) for one service's findings."""
    def key(r: dict[str, Any]) -> tuple:
        return (not _is_root(r.get("root_cause")), SEVERITY_RANK.get(str(r.get("severity")), 9))

    causes = sorted((r for r in rows if r.get("kind") == "cause"), key=key)
    if causes:
        return causes[0], _is_root(causes[0].get("root_cause"))
    loops = [r for r in rows if r.get("category") == "crash-loop"]
    primary = loops[0] if loops else sorted(rows, key=key)[0]
    return primary, any(_is_root(r.get("root_cause")) for r in rows) and not unmet


def fold_records(findings: list[dict[str, Any]], status: list[dict[str, Any]] | None = None,
                 catalog_rows: list[dict[str, Any]] | None = None,
                 columns: list[str] | None = None) -> list[dict[str, Any]]:
    """One finding per service (its cause, symptoms folded in as evidence); root causes first.

    ``columns``: the findings' columns (default: the first finding's keys); the records come back
    with those, then ``folded`` and (with status and catalog) ``upstream_root_causes``.
    """
    if not findings:
        return findings
    exact = bool(status) and bool(catalog_rows)
    unmet = unmet_dependencies(catalog_rows, status) if exact else {}
    groups: dict[str, list[dict[str, Any]]] = {}
    order: list[Any] = []
    for i, r in enumerate(findings):
        svc = r.get("service")
        key = f"#{i}" if is_missing(svc) else str(svc)  # engine-level findings stay as they are
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(r)
    out: list[dict[str, Any]] = []
    for key in order:
        rows = groups[key]
        primary, root = _pick(rows, unmet.get(key, []))
        keep = dict(primary)
        evidence = [str(e) for e in as_list(keep.get("evidence"))]
        folded = [str(c) for c in as_list(keep.get("folded"))]
        for r in rows:
            if r is primary:
                continue
            folded.append(str(r.get("category")))
            for e in as_list(r.get("evidence"))[:FOLDED_EVIDENCE_LINES]:
                line = f"({r.get('category')}) {e}"
                if line not in evidence:
                    evidence.append(line)
            for f in as_list(r.get("folded")):
                folded.append(str(f))
        keep.update(evidence=evidence, folded=sorted(set(folded)), root_cause=root)
        out.append(keep)
    if exact:
        roots = {str(r["service"]) for r in out if r["root_cause"] and not is_missing(r.get("service"))}
        b = {r["service"]: r for r in blocked_records(catalog_rows, status, roots)}
        for r in out:
            got = b.get(r.get("service"))
            for col in ("blocked_by", "upstream_root_causes", "blocks"):
                r[col] = list(got[col]) if got is not None else []
    out = sorted(out, key=lambda r: not r["root_cause"])  # stable: root causes first, order kept
    cols = list(columns if columns is not None else findings[0])
    cols += [c for c in FOLD_COLUMNS if c in out[0] and c not in cols]
    return [{c: r.get(c) for c in cols} for r in out]


def root_services(findings: Any) -> list[str]:
    """The services with a root-cause finding, in the findings' order (rows or a frame)."""
    out: list[str] = []
    for r in rows_of(findings):
        s = r.get("service")
        if _is_root(r.get("root_cause")) and not is_missing(s) and str(s) not in out:
            out.append(str(s))
    return out


def _recent(started_at: Any, now: datetime, window_s: float) -> bool:
    ts = as_datetime(started_at)
    if ts is None:
        return False
    return (now - ts).total_seconds() <= window_s


def _now(now: Any) -> datetime:
    t = as_datetime(now) if now is not None else None
    return utc_now() if t is None else t


def crash_loops_records(status: list[dict[str, Any]], inventory: Any = None, now: Any = None,
                        window_s: float = RECENT_WINDOW_S, previous: Mapping[str, int] | None = None
                        ) -> list[dict[str, Any]]:
    """Expected-vs-actual records with crash-looping services counted down (copies of the changed rows).

    A running service is crash-looping when its restart count grew within the window: it
    grew since ``previous`` (service -> restart count of an earlier sample), or, without
    one, it has restarted and its last start lies within ``window_s`` of ``now``.
    """
    if not status:
        return status
    now = _now(now)
    started = {r["service"]: r.get("started_at") for r in status if "started_at" in r}
    inv = rows_of(inventory)
    if inv and "started_at" in inv[0]:
        by_name = {str(r.get("name")): r.get("started_at") for r in inv}
        started = {r["service"]: by_name.get(str(r.get("container")), started.get(r["service"])) for r in status}
    prev = {str(k): int(v) for k, v in (previous or {}).items()}
    out = []
    for r in status:
        out.append(r)
        actual = str(r.get("actual") or "")
        if not bool(r.get("expected", True)) or not actual.startswith("running") or actual == "running-healthy":
            continue  # a container that passed its healthcheck since its last start is not looping
        count = int(r.get("restart_count") or 0)
        svc = str(r["service"])
        grew = count > prev[svc] if svc in prev else (count > 0 and _recent(started.get(r["service"]), now,
                                                                              window_s))
        if not grew:
            continue
        out[-1] = {**r, "actual": "restarting", "is_up": False, "is_down": True,
                   "detail": f"crash loop ({count} restarts, the last within {window_s:g} s)"}
    return out


def down_services(status: Any) -> list[str]:
    """The services counted down (after ``crash_loops``), sorted (rows or a frame)."""
    return sorted(str(r["service"]) for r in rows_of(status) if bool(r["is_down"]))


def restart_counts(inventory: Any, names: Iterable[str] = ()) -> dict[str, int]:
    """service -> restart count from inventory rows or frame (for ``previous``)."""
    wanted = set(names)
    return {str(r["service"]): int(r["restart_count"] or 0) for r in rows_of(inventory)
            if not wanted or r["service"] in wanted}
