"""The diagnosis snapshot stored when an incident opens: the whole diagnosis, masked, size-capped.

Logs and containers may be gone by the time someone writes the postmortem, so the snapshot
keeps every root cause with all its evidence lines, fix and the services it blocks, and the
list of services that are only blocked. It is masked (``redact.mask_obj``) and bounded:
past ``MAX_BYTES`` of JSON the longest evidence lists lose their last lines first, and a
marker line says how many were dropped.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from runbook_lib import redact

MAX_BYTES = 256 * 1024
TRUNCATED = "…[snapshot truncated at {kb} KB: {n} evidence line(s) dropped]"


def _size(obj: Any) -> int:
    return len(json.dumps(obj, default=str).encode("utf-8"))


def build_snapshot(causes: Iterable[Mapping[str, Any]], taken_at: Any = None,
                   max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """{taken_at, root_causes: [{service, category, cause, fix, severity, blocks, evidence}], blocked,
    truncated}: masked, its JSON at most ``max_bytes`` (evidence lines dropped past it, with a marker)."""
    roots = [{"service": str(c.get("service") or ""), "category": c.get("category"), "cause": c.get("cause"),
              "fix": c.get("fix"), "severity": c.get("severity"), "blocks": sorted(map(str, c.get("blocks") or [])),
              "evidence": [str(x) for x in (c.get("evidence") or [])]} for c in causes]
    snap: dict[str, Any] = redact.mask_obj({
        "taken_at": None if taken_at is None else pd.Timestamp(taken_at).isoformat(),
        "root_causes": roots, "blocked": sorted({b for r in roots for b in r["blocks"]}), "truncated": False})
    budget = max_bytes - 200  # room for the markers
    size = _size(snap)
    if size <= max_bytes:
        return snap
    dropped = 0
    cut: set[int] = set()
    lists = [r["evidence"] for r in snap["root_causes"]]
    while size > budget and any(lists):
        i = max(range(len(lists)), key=lambda k: sum(len(x) for x in lists[k]))
        line = lists[i].pop()
        size -= len(json.dumps(line).encode("utf-8")) + 1
        dropped += 1
        cut.add(i)
    marker = TRUNCATED.format(kb=max_bytes // 1024, n=dropped)
    snap["truncated"] = True
    for i in sorted(cut) or [0]:
        if snap["root_causes"]:
            snap["root_causes"][i]["evidence"].append(marker)
    while _size(snap) > max_bytes:  # the texts themselves are huge: cut them too
        for r in snap["root_causes"]:
            for k in ("cause", "fix"):
                if isinstance(r.get(k), str) and len(r[k]) > 2000:
                    r[k] = r[k][:2000] + "…"
        if _size(snap) > max_bytes:
            snap["root_causes"] = snap["root_causes"][: max(1, len(snap["root_causes"]) // 2)]
            snap["blocked"] = snap["blocked"][:1000]
            if len(snap["root_causes"]) == 1 and _size(snap) > max_bytes:
                snap["root_causes"][0]["evidence"] = [marker]
                snap["blocked"] = snap["blocked"][:100]
                break
    return snap


def for_service(snapshot: Mapping[str, Any], service: str) -> dict[str, Any] | None:
    """The root cause that explains ``service``: its own, else the one that blocks it (None: none)."""
    for r in snapshot.get("root_causes") or []:
        if r.get("service") == service:
            return dict(r)
    for r in snapshot.get("root_causes") or []:
        if service in (r.get("blocks") or []):
            return {**r, "cause": f"blocked by {r['service']} — {r.get('cause')}"}
    return None
