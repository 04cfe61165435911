"""KPIs grouped by host over a combined inventory (``multistack.MultiStack.inventory``); pure.

An unreachable host has one ``unknown`` row and no containers: its KPIs say so
(``reachable`` False, counts 0) instead of reading as "0 of 0 running".
"""
from __future__ import annotations

import pandas as pd

from runbook_lib.analysis.kpis import summary_kpis


def kpis_by_host(inv: pd.DataFrame) -> pd.DataFrame:
    """One row of KPIs per host, plus ``reachable``."""
    cols = ["host", "reachable", *summary_kpis(inv.iloc[0:0]).keys()]
    if not len(inv) or "host" not in inv.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    for host, grp in inv.groupby("host", sort=False):
        unknown = (grp["state"] == "unknown") & grp["name"].isna()
        rows.append({"host": host, "reachable": not bool(unknown.any()), **summary_kpis(grp[~unknown])})
    return pd.DataFrame(rows, columns=cols)


def kpis_by_host_project(inv: pd.DataFrame) -> pd.DataFrame:
    """One row per (host, project): the same project name on two hosts is two rows."""
    cols = ["host", "project", *summary_kpis(inv.iloc[0:0]).keys()]
    if not len(inv) or "host" not in inv.columns:
        return pd.DataFrame(columns=cols)
    known = inv[~((inv["state"] == "unknown") & inv["name"].isna())]
    key = [known["host"], known["project"].fillna("(none)")]
    rows = [{"host": h, "project": p, **summary_kpis(g)} for (h, p), g in known.groupby(key, sort=True)]
    return pd.DataFrame(rows, columns=cols)
