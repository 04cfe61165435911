"""Tiers: readiness per tier, from the tier each service has in the technology table.

A service whose image is a known database, broker, proxy or observability tool is
*infrastructure*; one built locally (``build:``) or with an unknown image is
*application* (``knowledge.tier_of``). The runbook config (``tiers: {service: tier}``)
overrides either, and may name its own tiers ("Core services", "Monitoring"). Readiness per tier
reads like the hand-written reports: "Infrastructure 8/8, Application 9/9".
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from runbook_lib import knowledge
from runbook_lib.knowledge import APPLICATION, INFRASTRUCTURE

def assign_tiers(frame: pd.DataFrame, overrides: Mapping[str, str] | None = None) -> pd.Series:
    """Tier per row of a frame with ``service``, ``image`` and ``build`` columns."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    builds = frame["build"] if "build" in frame.columns else pd.Series(False, index=frame.index)
    return pd.Series([knowledge.tier_of(s, i, bool(b), overrides)
                      for s, i, b in zip(frame["service"], frame["image"], builds)],
                     index=frame.index, dtype=object)


def tier_label(tier: str) -> str:
    """Display name: 'infrastructure' -> 'Infrastructure'; custom names keep their spelling."""
    return tier[:1].upper() + tier[1:] if tier in (INFRASTRUCTURE, APPLICATION) else tier


READY_STATES = {"running healthy", "running without healthcheck", "running-healthy", "running-no-healthcheck",
                "healthy", "running"}
READINESS_COLUMNS = ["tier", "label", "ready", "total", "pct", "text"]


def _ready(frame: pd.DataFrame) -> pd.Series:
    """Readiness per row: a ``ready`` column wins; else state (+ health) decides."""
    for col in ("ready", "is_up"):
        if col in frame.columns:
            return frame[col].fillna(False).astype(bool)
    if "state" not in frame.columns:
        raise ValueError("readiness_by_tier needs a 'ready', 'is_up' or 'state' column")
    state = frame["state"].fillna("").astype(str)
    if "health" in frame.columns:
        health = frame["health"].fillna("none").astype(str)
        return (state == "running") & health.isin(["healthy", "none", ""]) | (
            state.isin(READY_STATES) & (state != "running"))
    return state.isin(READY_STATES)


def readiness_by_tier(status_frame: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Rows of tier, label, ready, total, pct, text ("Infrastructure 8/8") per tier.

    ``status_frame`` needs ``tier`` and a boolean ``ready`` or ``is_up`` column (the
    expected-vs-actual frame), or ``state`` (+ ``health``) as in the inventory. Rows
    with ``expected`` False (profile not active) are left out. Infrastructure comes
    first, application last, custom tiers in between (in ``order`` or by name).
    """
    if status_frame is not None and "expected" in status_frame.columns and len(status_frame):
        status_frame = status_frame[status_frame["expected"].fillna(True).astype(bool)]
    if status_frame is None or status_frame.empty:
        return pd.DataFrame(columns=READINESS_COLUMNS)
    df = pd.DataFrame({"tier": status_frame["tier"].fillna(APPLICATION).astype(str).to_numpy(),
                       "ready": _ready(status_frame).to_numpy()})
    grouped = df.groupby("tier", sort=False)["ready"].agg(["sum", "count"])
    tiers = list(grouped.index)
    custom = [t for t in (order or []) if t in tiers and t not in (INFRASTRUCTURE, APPLICATION)]
    custom += sorted(t for t in tiers if t not in custom and t not in (INFRASTRUCTURE, APPLICATION))
    ordered = ([INFRASTRUCTURE] if INFRASTRUCTURE in tiers else []) + custom + (
        [APPLICATION] if APPLICATION in tiers else [])
    rows = []
    for t in ordered:
        ready, total = int(grouped.loc[t, "sum"]), int(grouped.loc[t, "count"])
        label = tier_label(t)
        rows.append({"tier": t, "label": label, "ready": ready, "total": total,
                     "pct": round(100.0 * ready / total, 1) if total else None,
                     "text": f"{label} {ready}/{total}"})
    return pd.DataFrame(rows, columns=READINESS_COLUMNS)


def readiness_text(status_frame: pd.DataFrame, order: list[str] | None = None) -> str:
    """One line for a banner: "Infrastructure 8/8, Application 9/9"."""
    return ", ".join(readiness_by_tier(status_frame, order)["text"])
