"""Exact blocked-by as frames: ``blocked`` and ``with_blocked`` over ``blocked_records`` (one logic, two shapes).

Which declared dependencies are not met, by compose's own rules (``service_started``,
``service_healthy``, ``service_completed_successfully``, ``required: false``, inactive
profiles), is ``analysis.blocked_records`` (no pandas); this module gives the frames.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from runbook_lib.analysis.blocked_records import (  # noqa: F401 - where callers found them
    COLUMNS, CONDITIONS, blocked_records, condition_met, unmet_dependencies, with_blocked_records,
)
from runbook_lib.analysis.frames import rows_of


def blocked(catalog_frame: pd.DataFrame, status: pd.DataFrame, roots: Iterable[str]) -> pd.DataFrame:
    """One row per catalog service: blocked_by, upstream_root_causes, blocks (lists of names)."""
    return pd.DataFrame(blocked_records(rows_of(catalog_frame), status, roots), columns=COLUMNS)


def with_blocked(status: pd.DataFrame, catalog_frame: pd.DataFrame, roots: Iterable[str]) -> pd.DataFrame:
    """Expected-vs-actual with ``root_cause``, ``blocked_by``, ``upstream_root_causes`` and ``blocks``
    set from ``roots`` (the diagnosis's root-cause services) and the exact conditions (a copy)."""
    rows = with_blocked_records(rows_of(status), rows_of(catalog_frame), roots)
    out = status.copy()
    for col in ("root_cause", "blocked_by", "upstream_root_causes", "blocks"):
        out[col] = [r[col] for r in rows]
    return out
