"""The recovery report over several engines: one ``recovery.build`` per host, merged with a ``host`` column.

``build_engines(eng, ...)`` returns the one-engine report unchanged when a single engine is
shown. With several hosts each host is built on its own stack (an unreachable one degrades
only itself: its findings say why), then findings, readiness, status, plan and lint gain a
``host`` column first, the timeline's lanes read ``host · service``, the headline names each
host, and the KPIs are the totals plus one row per host (``RecoveryReport.by_host``).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from runbook_lib.reports import recovery
from runbook_lib.reports.engines import Engines
from runbook_lib.reports.recovery import RecoveryReport

_PCT = {"running_pct": ("running", "containers"), "passing_pct": ("healthy", "with_healthcheck")}


def _host_first(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame | None:
    parts = [f.assign(host=h) for h, f in frames.items() if f is not None]
    parts = [p for p in parts if len(p)] or parts[:1]
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    return out[["host", *[c for c in out.columns if c != "host"]]]


def total_kpis(per_host: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts summed over the hosts; percentages recomputed from the summed counts."""
    total: dict[str, Any] = {}
    for k in per_host.values():
        for key, v in k.items():
            if key not in _PCT and isinstance(v, (int, float)) and not isinstance(v, bool):
                total[key] = total.get(key, 0) + v
    for key, (num, den) in _PCT.items():
        if any(key in k for k in per_host.values()):
            total[key] = round(100.0 * total.get(num, 0) / total[den], 1) if total.get(den) else None
    return total


def build_engines(eng: Engines, **kw: Any) -> RecoveryReport:
    """``recovery.build`` on every host of ``eng`` (keyword arguments as ``recovery.build``)."""
    if not eng.named:
        return recovery.build(stack=eng.single, **kw)
    now = kw.pop("now", None) or pd.Timestamp.now(tz="UTC")
    reports = {h: recovery.build(stack=st, now=now, **kw) for h, st in eng.stacks.items()}
    first = next(iter(reports.values()))
    timeline = _host_first({h: r.timeline for h, r in reports.items()})
    if timeline is not None and len(timeline):
        timeline = timeline.assign(service=[f"{h} · {s}" for h, s in zip(timeline["host"], timeline["service"])])
        timeline = timeline.sort_values(["time", "service"], kind="stable").reset_index(drop=True)
    by_host = pd.DataFrame([{"host": h, "reachable": eng.stacks[h].client is not None, **r.kpis}
                            for h, r in reports.items()], dtype=object)  # ints stay ints, missing stays None
    since = [r.down_since for r in reports.values() if r.down_since is not None]
    reasons = [f"host {h}: {x}" for h, r in reports.items() for x in r.degraded_reasons]
    out = RecoveryReport(
        project=kw.get("project") or next((r.project for r in reports.values() if r.project), None),
        window=first.window, start=first.start, end=first.end,
        findings=_host_first({h: r.findings for h, r in reports.items()}),
        lint=_host_first({h: r.lint for h, r in reports.items()}),
        status=_host_first({h: r.status for h, r in reports.items()}), inventory=eng.inventory,
        readiness=_host_first({h: r.readiness for h, r in reports.items()}),
        plan=_host_first({h: r.plan for h, r in reports.items()}),
        timeline=timeline if timeline is not None else first.timeline, uptime=first.uptime,
        kpis=total_kpis({h: r.kpis for h, r in reports.items()}), previous=first.previous,
        previous_path=first.previous_path, headline=" ".join(f"[{h}] {r.headline}" for h, r in reports.items()),
        down_since=min(since) if since else None,
        notes=list(dict.fromkeys(f"[{h}] {n}" for h, r in reports.items() for n in r.notes)),
        degraded_reasons=reasons,
        compose_files=list(dict.fromkeys(f for r in reports.values() for f in r.compose_files)))
    out.by_host = by_host
    if out.plan is not None and len(out.plan) and eng.multi is not None:  # each command runs on its own host
        urls = {spec.name: spec.display_url for spec in eng.multi.hosts}
        out.plan["command"] = [c if not isinstance(c, str) or not c else f"DOCKER_HOST={urls.get(h, '')} {c}"
                               for h, c in zip(out.plan["host"], out.plan["command"])]
    return out
