"""Headline numbers over an inventory frame (pure): running X/Y, passing A/B, …

"Health checks passing A/B" counts only containers that have a healthcheck (B), as
the hand-written reports did ("Health checks passing 5/12 (42%)").
"""
from __future__ import annotations

from typing import Any

import pandas as pd


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def summary_kpis(inv: pd.DataFrame) -> dict[str, Any]:
    """KPIs of one inventory: counts and percentages (None when the denominator is 0)."""
    total = int(len(inv))
    if total == 0:
        return {"containers": 0, "running": 0, "running_pct": None, "with_healthcheck": 0,
                "healthy": 0, "passing_pct": None, "unhealthy": 0, "starting": 0, "restarting": 0,
                "exited_nonzero": 0, "oom_killed": 0, "restarts": 0}
    state = inv["state"].astype(str)
    running = int((state == "running").sum())
    has_hc = inv["has_healthcheck"].fillna(False).astype(bool)
    health = inv["health"].astype(str)
    exit_code = pd.to_numeric(inv["exit_code"], errors="coerce")
    return {
        "containers": total,
        "running": running,
        "running_pct": _pct(running, total),
        "with_healthcheck": int(has_hc.sum()),
        "healthy": int((has_hc & (health == "healthy")).sum()),
        "passing_pct": _pct(int((has_hc & (health == "healthy")).sum()), int(has_hc.sum())),
        "unhealthy": int((health == "unhealthy").sum()),
        "starting": int((health == "starting").sum()),
        "restarting": int((state == "restarting").sum()),
        "exited_nonzero": int(((state.isin(["exited", "dead"])) & exit_code.fillna(0).ne(0)).sum()),
        "oom_killed": int(inv["oom_killed"].fillna(False).astype(bool).sum()),
        "restarts": int(pd.to_numeric(inv["restart_count"], errors="coerce").fillna(0).sum()),
    }


def kpis_by_project(inv: pd.DataFrame) -> pd.DataFrame:
    """One row of KPIs per compose project ("(none)" for containers outside compose)."""
    if len(inv) == 0:
        return pd.DataFrame(columns=["project", *summary_kpis(inv).keys()])
    key = inv["project"].fillna("(none)")
    rows = [{"project": p, **summary_kpis(g)} for p, g in inv.groupby(key, sort=True)]
    return pd.DataFrame(rows)


def kpi_tiles(k: dict[str, Any]) -> dict[str, Any]:
    """The KPI dict as the tiles a report shows: label -> (value, subtitle)."""
    def frac(a, b, pct):
        return f"{a}/{b}", ("" if pct is None else f"{pct:g} %")
    return {
        "Containers running": frac(k["running"], k["containers"], k["running_pct"]),
        "Health checks passing": frac(k["healthy"], k["with_healthcheck"], k["passing_pct"]),
        "Restarting": (k["restarting"], f"{k['restarts']} restarts in all"),
        "Exited non-zero": (k["exited_nonzero"], ""),
        "OOM-killed": (k["oom_killed"], ""),
    }


def headline(k: dict[str, Any]) -> str:
    """One line as the seed reports wrote it by hand."""
    def part(a, b, pct):
        return f"{a}/{b}" + ("" if pct is None else f" ({pct:g}%)")
    return (f"Containers running {part(k['running'], k['containers'], k['running_pct'])}; "
            f"health checks passing {part(k['healthy'], k['with_healthcheck'], k['passing_pct'])}; "
            f"{k['restarting']} restarting, {k['exited_nonzero']} exited non-zero, {k['oom_killed']} OOM-killed")
