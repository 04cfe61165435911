"""Reading frame cells: one place for the NaN/None/list rules every analysis shares.

Frames built by pandas hold NaN, ``pd.NA`` or ``None`` where a value is missing, and
lists (depends_on, ports, log lines) in object columns. These helpers read such a cell
the same way everywhere.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (a list or a string is never missing)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: present
        return False


def as_list(value: Any) -> list:
    """A list cell as a list: missing -> [], a scalar -> [scalar]."""
    if value is None or (not isinstance(value, (list, tuple, set)) and is_missing(value)):
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def cell(row: Mapping[str, Any], key: str) -> Any:
    """A field of a row (a dict from ``to_dict("records")``); NaN/NA reads as None."""
    v = row.get(key)
    if v is None or isinstance(v, (list, tuple, dict, str)):
        return v
    try:
        return None if pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def as_float(value: Any) -> float | None:
    """A number, or None for missing, NaN, booleans and text that is not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def as_int(value: Any) -> int | None:
    """An int, or None when the value is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
