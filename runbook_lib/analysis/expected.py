"""Expected vs actual as a frame: ``expected_vs_actual`` over ``expected_records`` (one logic, two shapes).

``expected_vs_actual(catalog_frame, inventory_frame)`` gives one row per catalog service
(``COLUMNS``) with its actual state, up/down, root cause, blocked by and blocks; the logic
(states, port issues, root causes over the dependency graph) is
``analysis.expected_records``, which needs no pandas. ``status_frame`` builds the frame of
such records (also after ``fold.crash_loops`` and ``blocked.with_blocked``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from runbook_lib.analysis.expected_records import (  # noqa: F401 - where callers found them
    ACTUAL_STATES, COLUMNS, DOWN_STATES, UP_STATES, all_ancestors, classify, dependency_graph_rows, dependency_names,
    expected_vs_actual_records, port_issues, root_causes,
)
from runbook_lib.analysis.frames import rows_of

_LIST_COLUMNS = ("root_cause", "blocked_by", "blocks")  # set after the typed columns, as lists
STATUS_DTYPES = {"expected": bool, "has_healthcheck": bool, "oom_killed": bool, "restart_count": int,
                 "is_up": bool, "is_down": bool}


def status_frame(rows: list[Mapping[str, Any]], notes: Iterable[str] = ()) -> pd.DataFrame:
    """The expected-vs-actual frame of records (COLUMNS, then any column the records add, in their order)."""
    extra = [c for c in (rows[0] if rows else {}) if c not in COLUMNS]
    base = [c for c in COLUMNS if c not in _LIST_COLUMNS]
    df = pd.DataFrame(rows, columns=base, dtype=object).astype(STATUS_DTYPES)
    for c in (*_LIST_COLUMNS, *extra):
        df[c] = [r[c] for r in rows]
    df = df[COLUMNS + extra]
    df.attrs["notes"] = list(notes)
    return df


def expected_vs_actual(catalog_frame: pd.DataFrame, inventory_frame: pd.DataFrame | None,
                       project: str | None = None, active_profiles: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per catalog service: actual state, up/down, root cause, blocked by, blocks."""
    rows = expected_vs_actual_records(rows_of(catalog_frame), rows_of(inventory_frame), project, active_profiles)
    return status_frame(rows, getattr(inventory_frame, "attrs", {}).get("notes", []))
