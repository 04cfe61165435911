"""The store's Docker events (schema 3): written by the collector each round, read by the postmortem.

Shared by both backends (the PostgreSQL store runs this code over its dialect adapter).
An event is keyed by (time in ns, host, container id, action) (schema 5), so reading overlapping
spans of the engine's events twice stores each event once, and two engines' events stay apart. Texts are masked before they are stored;
events expire with the raw samples (``raw_retention_days``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.history.sqlite_guard import guarded
from runbook_lib.history.sqlite_queries import ts_ns

EVENT_COLUMNS = ["ts", "host", "project", "service", "container", "container_id", "action", "exit_code", "detail"]
_READ_TO = "events_read_to:"  # meta key prefix: where the last read of the engine's events ended


@contextmanager
def immediate(con: Any) -> Iterator[Any]:
    """One write transaction (``BEGIN IMMEDIATE``: writers take turns), rolled back on any error."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def _ns(ts: Any) -> int:
    t = pd.Timestamp(ts)
    return int((t.tz_localize("UTC") if t.tzinfo is None else t).value)


def _text(v: Any, limit: int = 300) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(redact.mask_text(str(v)))[:limit]


class SqliteEvents:
    """Docker events in the store (``self.con``: the store's connection)."""

    con: Any
    raw_retention_days: float

    @guarded
    def write_events(self, events: pd.DataFrame | Iterable[dict[str, Any]], *, read_to: Any = None,
                     key: str = "") -> int:
        """Store events (EVENT_COLUMNS; duplicates ignored) and, with ``read_to``, where this read ended
        (per ``key``: one per host and project), atomically; return the events given."""
        rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
        items = []
        for e in rows:
            if e.get("ts") is None or not e.get("action"):
                continue
            code = e.get("exit_code")
            items.append((_ns(e["ts"]), str(e.get("container_id") or "")[:64], _text(e["action"], 60),
                          _text(e.get("host")), _text(e.get("project")), _text(e.get("service")),
                          _text(e.get("container")),
                          None if code is None or code != code else int(code), _text(e.get("detail"), 500)))
        with immediate(self.con) as con:
            con.executemany("INSERT OR IGNORE INTO events (ts_ns, container_id, action, host, project, service, "
                            "container, exit_code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
            if read_to is not None:
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_READ_TO + key, str(_ns(read_to))))
        return len(items)

    @guarded
    def events_read_to(self, key: str = "") -> pd.Timestamp | None:
        """Where the last read of the engine's events for ``key`` ended (None: never read)."""
        row = self.con.execute("SELECT value FROM meta WHERE key=?", (_READ_TO + key,)).fetchone()
        return None if row is None else pd.Timestamp(int(row[0]), unit="ns", tz="UTC")

    @guarded
    def events(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
               project: str | None = None) -> pd.DataFrame:
        """Stored Docker events in [since, until), oldest first: EVENT_COLUMNS (ts UTC)."""
        lo = ts_ns(since) if since is not None else 0
        hi = ts_ns(until) if until is not None else 2**62
        args: list[Any] = [lo, hi]
        q = ("SELECT ts_ns, host, project, service, container, container_id, action, exit_code, detail FROM events "
             "WHERE ts_ns >= ? AND ts_ns < ?")
        if project is not None:
            q += " AND project = ?"
            args.append(project)
        df = pd.DataFrame(self.con.execute(q + " ORDER BY ts_ns", args).fetchall(),
                          columns=["ts_ns", *EVENT_COLUMNS[1:]])
        df.insert(0, "ts", pd.to_datetime(df.pop("ts_ns").astype("int64"), unit="ns", utc=True))
        if services is not None:
            df = df[df["service"].isin(set(services))].reset_index(drop=True)
        df["exit_code"] = df["exit_code"].astype("Int64")
        return df

    def _prune_events(self, con: Any, t: int) -> None:
        con.execute("DELETE FROM events WHERE ts_ns < ?", ((t - int(self.raw_retention_days * 86400)) * 10**9,))
