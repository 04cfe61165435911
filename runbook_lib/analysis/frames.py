"""Reading cells and rows: one place for the NaN/None/list rules every analysis shares.

Rows come as dicts, from records (None where a value is missing) or from a frame's
``to_dict("records")`` (NaN, NaT or ``pd.NA`` where a value is missing; lists such as
depends_on, ports, log lines in object columns). These helpers read such a cell the same
way everywhere, and need no pandas: the records path of the diagnosis imports this module.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

_NEVER_MISSING = (str, bytes, list, tuple, dict, set, frozenset)
_MISSING_TYPES = frozenset({"NaTType", "NAType"})  # pandas' NaT and NA, known by name (no pandas import)


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (a list or a string is never missing)."""
    if value is None:
        return True
    if isinstance(value, _NEVER_MISSING):
        return False
    if isinstance(value, float):
        return value != value
    if type(value).__name__ in _MISSING_TYPES:
        return True
    try:
        return bool(value != value)  # NaN-like scalars (numpy's) differ from themselves
    except (TypeError, ValueError):  # an array: present
        return False


def as_list(value: Any) -> list:
    """A list cell as a list: missing -> [], a scalar -> [scalar]."""
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if is_missing(value):
        return []
    return [value]


def cell(row: Mapping[str, Any], key: str) -> Any:
    """A field of a row (a dict from records or from ``to_dict("records")``); NaN/NA reads as None."""
    v = row.get(key)
    if v is None or isinstance(v, _NEVER_MISSING):
        return v
    return None if is_missing(v) else v


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


def as_datetime(value: Any) -> datetime | None:
    """A tz-aware datetime (naive reads as UTC; a pd.Timestamp stays one), or None when missing or unreadable."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    """Now, tz-aware UTC."""
    return datetime.now(timezone.utc)


def rows_of(table: Any) -> list[dict[str, Any]]:
    """A frame's rows (``to_dict("records")``), or a list of dicts as it is; None -> []."""
    if table is None:
        return []
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # a DataFrame, read without importing pandas
        return table.to_dict("records")
    return list(table) if not isinstance(table, list) else table


def column(rows: Iterable[Mapping[str, Any]], key: str) -> list[Any]:
    """One field of every row (None where a row lacks it)."""
    return [r.get(key) for r in rows]
