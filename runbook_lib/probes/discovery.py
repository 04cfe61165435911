"""Health-path discovery of applications, after a round (pure) and across rounds (``DiscoveryCache``).

An application is probed on each of ``HEALTH_PATHS`` (its own healthcheck's path first);
``collapse_discovery`` keeps one row per service, ``endpoint_audit`` gives the
standardisation picture (service × path → status), ``DiscoveryCache`` pins the path
that works so later rounds probe one path per app. No module-level state.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from runbook_lib import knowledge
from runbook_lib.probes.rows import rows_frame
from runbook_lib.probes.spec import ProbeSpec

HEALTH_PATHS: tuple[str, ...] = knowledge.application().probe.health_paths


def _path_of(target: str) -> str:
    m = re.search(r":\d+(/.*)$", str(target))
    return m.group(1) if m else "/"


def _reply_code(reply: Any) -> int | None:
    m = re.match(r"HTTP (\d{3})", str(reply or ""))
    return int(m.group(1)) if m else None


def _discovery_mask(rows: pd.DataFrame, specs: list[ProbeSpec] | None) -> list[bool]:
    if specs is not None and len(specs) == len(rows):
        return [bool(s.options.get("discover")) for s in specs]
    return [False] * len(rows)


def collapse_discovery(rows: pd.DataFrame, specs: list[ProbeSpec]) -> pd.DataFrame:
    """One http row per discovered service: the first working path (else the most telling failure).

    ``specs`` are the specs of the round, in the same order as ``rows``.
    """
    if rows.empty:
        return rows
    mask = _discovery_mask(rows, specs)
    keep: list[int] = []
    groups: dict[str, list[int]] = {}
    for i, disc in enumerate(mask):
        if disc:
            groups.setdefault(rows.iloc[i]["service"], []).append(i)
        else:
            keep.append(i)
    chosen: dict[int, dict] = {}
    for service, idx in groups.items():
        sub = [rows.iloc[i].to_dict() for i in idx]
        good = [r for r in sub if r["state"] in ("up", "degraded")]
        answered = [r for r in sub if (_reply_code(r["reply"]) or 404) not in (404, 405)]
        tried = ", ".join(_path_of(r["target"]) for r in sub)
        if good:
            row = good[0]
        elif answered:
            row = answered[0]
        elif all(_reply_code(r["reply"]) in (404, 405) for r in sub):
            row = dict(sub[0])
            row["error"] = f"no health endpoint found (tried {tried}); set path in runbook.yaml probes:"
        else:
            row = sub[0]
        chosen[idx[0]] = row
    out = [rows.iloc[i].to_dict() if i in keep else chosen[i] for i in range(len(rows)) if i in keep or i in chosen]
    return rows_frame(out)


def pin_discovery(specs: list[ProbeSpec], rows: pd.DataFrame) -> list[ProbeSpec]:
    """Specs for later rounds: each discovery group replaced by its working path (if one worked)."""
    collapsed = collapse_discovery(rows, specs)
    paths = {r["service"]: _path_of(r["target"]) for r in collapsed.to_dict(orient="records")
             if r["kind"] == "http" and r["state"] in ("up", "degraded")}
    out: list[ProbeSpec] = []
    done: set[str] = set()
    for s in specs:
        if s.options.get("discover") and s.service in paths:
            if s.service in done:
                continue
            done.add(s.service)
            opts = {k: v for k, v in s.options.items() if k != "discover"}
            out.append(ProbeSpec(s.service, s.kind, s.host, s.port, paths[s.service], s.timeout_s,
                                 opts, s.via, s.container))
        else:
            out.append(s)
    return out


def endpoint_audit(rows: pd.DataFrame, specs: list[ProbeSpec] | None = None) -> pd.DataFrame:
    """Service × health path → answer, like HEALTH_ENDPOINTS_DOCUMENTATION.md by hand.

    Long frame: service, port, path, code, state, works, terminus (components reported),
    via, error. Uses the discovery rows (all http rows when ``specs`` is None).
    """
    cols = ["service", "port", "path", "code", "state", "works", "terminus", "via", "error"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    mask = _discovery_mask(rows, specs) if specs is not None else list(rows["kind"] == "http")
    out = []
    for i, use in enumerate(mask):
        if not use:
            continue
        r = rows.iloc[i]
        m = re.search(r":(\d+)(/|$)", str(r["target"]))
        out.append({"service": r["service"], "port": int(m.group(1)) if m else None,
                    "path": _path_of(r["target"]), "code": _reply_code(r["reply"]), "state": r["state"],
                    "works": r["state"] in ("up", "degraded"),
                    "terminus": bool(r["detail"]) if isinstance(r["detail"], list) else False,
                    "via": r["via"], "error": r["error"]})
    return pd.DataFrame(out, columns=cols)


def audit_matrix(audit: pd.DataFrame) -> pd.DataFrame:
    """Wide view: one row per service, one column per path, cells like "200", "404", "timeout"."""
    if audit.empty:
        return pd.DataFrame(columns=["service", *HEALTH_PATHS, "working_path"])

    def cell(r) -> str:
        if r["code"] is not None and not pd.isna(r["code"]):
            return str(int(r["code"]))
        return str(r["error"] or r["state"])

    a = audit.assign(cell=audit.apply(cell, axis=1))
    wide = a.pivot_table(index="service", columns="path", values="cell", aggfunc="first", sort=False)
    paths = [p for p in HEALTH_PATHS if p in wide.columns] + [p for p in wide.columns if p not in HEALTH_PATHS]
    wide = wide.reindex(columns=paths)
    working = a[a["works"]].groupby("service", sort=False)["path"].first()
    wide["working_path"] = [working.get(s) for s in wide.index]
    return wide.reset_index().astype(object).where(lambda d: d.notna(), None)


def standardisation(audit: pd.DataFrame) -> dict:
    """Which path works where: {path: [services]}, the most common one, who differs, who has none."""
    if audit.empty:
        return {"by_path": {}, "standard_path": None, "non_standard": [], "no_endpoint": [], "services": 0}
    works = audit[audit["works"]]
    by_path = {p: sorted(set(g["service"])) for p, g in works.groupby("path", sort=False)}
    first = works.groupby("service", sort=False)["path"].first()
    standard = first.value_counts().idxmax() if not first.empty else None
    services = list(dict.fromkeys(audit["service"]))
    return {
        "services": len(services),
        "by_path": by_path,
        "standard_path": standard,
        "non_standard": sorted(s for s, p in first.items() if p != standard),
        "no_endpoint": sorted(s for s in services if s not in first.index),
    }


class DiscoveryCache:
    """Each app's working health path, kept across rounds by its owner (a collector, a notebook).

    ``apply`` replaces each discovery group whose path is known by one spec on that path
    (option ``pinned``), so a long-running collector probes one path per app, not five;
    ``update`` remembers the paths that worked and forgets a pinned one that stopped answering.
    """

    def __init__(self, paths: Mapping[tuple, str] | None = None) -> None:
        self.paths: dict[tuple, str] = dict(paths or {})

    def __len__(self) -> int:
        return len(self.paths)

    def apply(self, specs: list[ProbeSpec]) -> list[ProbeSpec]:
        """Specs for this round: known paths pinned."""
        out: list[ProbeSpec] = []
        done: set[tuple] = set()
        for s in specs:
            key = (s.service, s.port, s.via)
            if s.options.get("discover") and key in self.paths:
                if key in done:
                    continue
                done.add(key)
                opts = {k: v for k, v in s.options.items() if k != "discover"}
                opts["pinned"] = True
                out.append(ProbeSpec(s.service, s.kind, s.host, s.port, self.paths[key], s.timeout_s, opts,
                                     s.via, s.container))
            else:
                out.append(s)
        return out

    def update(self, specs: list[ProbeSpec], rows: pd.DataFrame) -> None:
        """Remember each service's working health path; forget it when the pinned path stops answering."""
        if len(specs) != len(rows):
            return
        for s, state in zip(specs, list(rows["state"])):
            if s.options.get("pinned") and state not in ("up", "degraded"):
                self.paths.pop((s.service, s.port, s.via), None)  # rediscover next round
        collapsed = collapse_discovery(rows, specs)
        disc = {s.service: (s.service, s.port, s.via) for s in specs if s.options.get("discover")}
        for r in collapsed.to_dict(orient="records"):
            if r["service"] in disc and r["kind"] == "http" and r["state"] in ("up", "degraded"):
                self.paths[disc[r["service"]]] = _path_of(r["target"])
