"""Container inventory as a DataFrame: ``inventory_rows`` (no pandas) in a frame, one row per container.

``gather_inventory`` is ``inventory_rows.gather_rows`` in a frame (same columns, dtypes and
order as ever): ``df.attrs["notes"]`` says which containers vanished while listing,
``df.attrs["gathered_at"]`` when (ISO text). ``inventory_frame`` builds it from rows already
gathered (``Stack.inventory``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from runbook_lib.engine.inventory_rows import (CONFIG_FILES_LABEL, COLUMNS, PROJECT_LABEL, SERVICE_LABEL,
                                               WORKDIR_LABEL, gather_rows, gc_paused)

__all__ = ["COLUMNS", "CONFIG_FILES_LABEL", "PROJECT_LABEL", "SERVICE_LABEL", "WORKDIR_LABEL", "empty_inventory",
           "gather_inventory", "gc_paused", "inventory_frame", "status_table", "to_timestamp"]

TIME_COLUMNS = ("created_at", "started_at", "finished_at")


def to_timestamp(value: Any) -> pd.Timestamp | None:
    """Docker time (RFC 3339, ns precision, or epoch seconds) -> UTC Timestamp or None."""
    if value in (None, "") or (isinstance(value, str) and value.startswith("0001-")):
        return None
    try:
        if isinstance(value, (int, float)):
            return pd.Timestamp(value, unit="s", tz="UTC")
        return pd.Timestamp(value).tz_convert("UTC")
    except (ValueError, TypeError):
        return None


_EMPTY = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def empty_inventory() -> pd.DataFrame:
    """An inventory with the right columns and no rows (engine down, nothing found)."""
    df = _EMPTY.copy()
    df.attrs = {"notes": []}
    return df


def inventory_frame(rows: list[dict[str, Any]], notes: list[str] | None = None,
                    gathered_at: datetime | None = None) -> pd.DataFrame:
    """The inventory frame of gathered rows (already sorted), attrs ``notes`` and ``gathered_at``."""
    if not rows:
        df = empty_inventory()
    else:
        # Timestamps, not datetimes, in the time columns: the frame infers the same dtypes as ever
        stamped = [{**r, **{c: (None if r[c] is None else pd.Timestamp(r[c])) for c in TIME_COLUMNS}} for r in rows]
        df = pd.DataFrame(stamped, columns=COLUMNS)
        for c in ("started_at", "finished_at"):  # engine times are nanosecond ones (the rows keep microseconds)
            if isinstance(df[c].dtype, pd.DatetimeTZDtype):
                df[c] = df[c].astype("datetime64[ns, UTC]")
    df.attrs["notes"] = list(notes or [])
    if gathered_at is not None:
        df.attrs["gathered_at"] = pd.Timestamp(gathered_at).isoformat()
    return df


def gather_inventory(client, project: str | None = None, include_stopped: bool = True,
                     label: str | None = None, max_workers: int = 8, fast: bool = True) -> pd.DataFrame:
    """List containers (optionally one compose project / one label) into the inventory frame.

    One list call, then one inspect per container, pipelined on one connection (``fast``;
    docker-py's thread pool otherwise, e.g. for ssh:// or TLS engines).
    """
    rows, notes, now = gather_rows(client, project, include_stopped, label, max_workers, fast)
    with gc_paused():
        return inventory_frame(rows, notes, now)


def status_table(inv: pd.DataFrame) -> pd.DataFrame:
    """The columns an on-call engineer reads first, worst rows on top."""
    cols = {"project": "project", "service": "service", "name": "container", "state": "state",
            "health": "health", "exit_code": "exit code", "oom_killed": "OOM", "restart_count": "restarts",
            "uptime_s": "uptime", "ports": "ports", "image": "image", "command": "command",
            "health_output": "last health output"}
    if len(inv) == 0:
        return pd.DataFrame(columns=list(cols.values()))
    rank = {"dead": 0, "exited": 1, "restarting": 2, "created": 3, "paused": 4, "running": 5}
    hrank = {"unhealthy": 0, "starting": 1, "none": 2, "healthy": 3}
    df = inv.assign(_r=inv["state"].map(rank).fillna(9), _h=inv["health"].map(hrank).fillna(9))
    df = df.sort_values(["_r", "_h", "project", "service"], kind="stable")
    out = df[list(cols)].rename(columns=cols).reset_index(drop=True)
    out["uptime"] = [_human_duration(v) for v in df["uptime_s"]]
    out["exit code"] = ["" if v is None or pd.isna(v) else str(int(v)) for v in df["exit_code"]]
    out["command"] = [_shorten(v, 100) for v in out["command"]]
    return out


def _shorten(text: Any, limit: int) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _human_duration(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds):
        return ""
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h}h" if d else f"{h}h {m}m" if h else f"{m}m {s}s"
