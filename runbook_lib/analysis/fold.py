"""Symptom folding and crash loops as frames: ``fold`` and ``crash_loops`` over ``fold_records``.

One finding per failing service (its cause, its symptoms folded in as evidence, blocked-by
from the exact compose conditions) and crash-looping containers counted down are
``analysis.fold_records`` (no pandas; the rules are described there); this module gives
the same results as frames. Both are pure and idempotent.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from runbook_lib.analysis.fold_records import (  # noqa: F401 - where callers found them
    FOLDED_EVIDENCE_LINES, RECENT_WINDOW_S, SEVERITY_RANK, crash_loops_records, down_services, fold_records,
    restart_counts, root_services,
)
from runbook_lib.analysis.frames import rows_of


def fold(findings: pd.DataFrame, status: pd.DataFrame | None = None,
         catalog_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """One finding per service (its cause, symptoms folded in as evidence); root causes first."""
    if findings is None or not len(findings):
        return findings
    rows = fold_records(findings.to_dict("records"), rows_of(status), rows_of(catalog_frame),
                        columns=list(findings.columns))
    return pd.DataFrame(rows, columns=list(rows[0]))


def crash_loops(status: pd.DataFrame, inventory: pd.DataFrame | None = None, now: Any = None,
                window_s: float = RECENT_WINDOW_S, previous: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Expected-vs-actual with crash-looping services counted down (a copy; ``crash_loops_records``)."""
    if status is None or not len(status):
        return status
    before = status.to_dict("records")
    rows = crash_loops_records(before, inventory, now, window_s, previous)
    out = status.copy()
    for i, old, r in zip(out.index, before, rows):
        if r is not old:  # a row counted down: the records function copied it
            for col in ("actual", "is_up", "is_down", "detail"):
                out.at[i, col] = r[col]
    return out
