"""Symptom folding: one finding per failing service, its cause, with its symptoms as evidence.

``fold(findings, status, catalog_frame)`` keeps one row per service:

- the service's cause (``kind == "cause"``; a root cause before a blocked one, the worst
  first) is kept; every other finding of the service (a crash loop, a failing healthcheck,
  a refused connection, a second cause) is folded into it: its evidence lines are added,
  prefixed with their category, and its category is listed in ``folded``;
- with no cause, a crash loop stays (else the worst symptom), and it is a root cause only
  when no declared dependency of the service is unmet: a refused connection to a
  dependency that is down is that dependency's consequence, not a cause of its own;
- with the catalog and expected-vs-actual frames, ``blocked_by`` / ``blocks`` /
  ``upstream_root_causes`` follow the exact compose conditions (``analysis.blocked``).

``crash_loops(status, inventory, now)`` marks a container down when its restart count grew
within the recent window (its last start is recent and it restarted before), whatever the
snapshot says: a crash-looping container reads "running" between two restarts.

Both are pure and idempotent: folding folded findings changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from runbook_lib.analysis.blocked import blocked, unmet_dependencies
from runbook_lib.analysis.frames import as_list, is_missing

RECENT_WINDOW_S = 300.0     # a restart within this window is a crash loop in progress
FOLDED_EVIDENCE_LINES = 2   # evidence lines kept from each folded finding
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


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


def fold(findings: pd.DataFrame, status: pd.DataFrame | None = None,
         catalog_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """One finding per service (its cause, symptoms folded in as evidence); root causes first."""
    if findings is None or not len(findings):
        return findings
    exact = status is not None and catalog_frame is not None and len(status) and len(catalog_frame)
    unmet = unmet_dependencies(catalog_frame, status) if exact else {}
    records = findings.to_dict("records")
    groups: dict[str, list[dict[str, Any]]] = {}
    order: list[Any] = []
    for i, r in enumerate(records):
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
    df = pd.DataFrame(out)
    roots = {str(s) for s, r in zip(df["service"], df["root_cause"]) if r and not is_missing(s)}
    if exact:
        b = blocked(catalog_frame, status, roots).set_index("service")
        known = set(b.index)
        df["blocked_by"] = [list(b.at[s, "blocked_by"]) if s in known else [] for s in df["service"]]
        df["upstream_root_causes"] = [list(b.at[s, "upstream_root_causes"]) if s in known else []
                                      for s in df["service"]]
        df["blocks"] = [list(b.at[s, "blocks"]) if s in known else [] for s in df["service"]]
    df = df.assign(_root=(~df["root_cause"].astype(bool)).astype(int))
    df = df.sort_values("_root", kind="stable").drop(columns="_root")
    cols = list(findings.columns) + [c for c in ("folded", "upstream_root_causes") if c in df.columns
                                     and c not in findings.columns]
    return df[cols].reset_index(drop=True)


def root_services(findings: pd.DataFrame | None) -> list[str]:
    """The services with a root-cause finding, in the findings' order."""
    if findings is None or not len(findings):
        return []
    out: list[str] = []
    for s, r in zip(findings["service"], findings["root_cause"]):
        if _is_root(r) and not is_missing(s) and str(s) not in out:
            out.append(str(s))
    return out


def _recent(started_at: Any, now: pd.Timestamp, window_s: float) -> bool:
    ts = pd.to_datetime(started_at, utc=True, errors="coerce")
    if pd.isna(ts):
        return False
    return (now - ts).total_seconds() <= window_s


def crash_loops(status: pd.DataFrame, inventory: pd.DataFrame | None = None, now: Any = None,
                window_s: float = RECENT_WINDOW_S, previous: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Expected-vs-actual with crash-looping services counted down (a copy).

    A running service is crash-looping when its restart count grew within the window: it
    grew since ``previous`` (service -> restart count of an earlier sample), or, without
    one, it has restarted and its last start lies within ``window_s`` of ``now``.
    """
    if status is None or not len(status):
        return status
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    out = status.copy()
    started = dict(zip(out["service"], out["started_at"])) if "started_at" in out.columns else {}
    if inventory is not None and len(inventory) and "started_at" in inventory.columns:
        by_name = dict(zip(inventory["name"].astype(str), inventory["started_at"]))
        started = {s: by_name.get(str(c), started.get(s)) for s, c in zip(out["service"], out["container"])}
    prev = {str(k): int(v) for k, v in (previous or {}).items()}
    for i, r in out.iterrows():
        actual = str(r.get("actual") or "")
        if not bool(r.get("expected", True)) or not actual.startswith("running") or actual == "running-healthy":
            continue  # a container that passed its healthcheck since its last start is not looping
        count = int(r.get("restart_count") or 0)
        svc = str(r["service"])
        grew = count > prev[svc] if svc in prev else (count > 0 and _recent(started.get(r["service"]), now,
                                                                              window_s))
        if not grew:
            continue
        out.at[i, "actual"] = "restarting"
        out.at[i, "is_up"] = False
        out.at[i, "is_down"] = True
        out.at[i, "detail"] = f"crash loop ({count} restarts, the last within {window_s:g} s)"
    return out


def down_services(status: pd.DataFrame | None) -> list[str]:
    """The services counted down (after ``crash_loops``), sorted."""
    if status is None or not len(status):
        return []
    return sorted(str(s) for s in status.loc[status["is_down"].astype(bool), "service"])


def restart_counts(inventory: pd.DataFrame | None, names: Iterable[str] = ()) -> dict[str, int]:
    """service -> restart count from an inventory frame (for ``previous``)."""
    if inventory is None or not len(inventory):
        return {}
    wanted = set(names)
    return {str(s): int(c or 0) for s, c in zip(inventory["service"], inventory["restart_count"])
            if not wanted or s in wanted}
