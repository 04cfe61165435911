"""The alerts database: open incidents (with a diagnosis snapshot) and the outbox of messages.

A small SQLite file beside the history store (``alerts.sqlite``). Messages are written to the
outbox first, then delivered; a failed delivery is retried with exponential backoff (30 s,
doubled, at most 1 h apart, 8 attempts) and every attempt is recorded. The outbox never holds
a notification URL, only its key (a hash): the URLs stay in the configuration.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact

BASE_BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0
MAX_ATTEMPTS = 8
ENV_VAR = "RUNBOOK_ALERTS_DB"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, service TEXT NOT NULL, state TEXT NOT NULL,
    opened_at INTEGER NOT NULL, first_failure_at INTEGER, first_alert_at INTEGER, last_sent_at INTEGER,
    closed_at INTEGER, root_cause TEXT, fix TEXT, diagnosis TEXT);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (project, service, closed_at);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
    incident TEXT, title TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at);
CREATE TABLE IF NOT EXISTS warnings_sent (key TEXT PRIMARY KEY, last_sent_at INTEGER NOT NULL);
"""


def default_path(store_path: str | os.PathLike | None = None) -> Path:
    """RUNBOOK_ALERTS_DB, else alerts.sqlite beside the history store."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    if store_path:
        return Path(store_path).expanduser().with_name("alerts.sqlite")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook" / "alerts.sqlite"


def backoff_s(attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed deliveries."""
    return min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempts - 1))


def _sec(ts: Any) -> int:
    return int(pd.Timestamp(ts).timestamp())


class AlertsDB:
    """Incidents and the outbox in one SQLite file (autocommit; one writer, the collector)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
        self.con.executescript(_SCHEMA)

    def close(self) -> None:
        self.con.close()

    # ---- incidents
    def open_incident(self, project: str, service: str, state: str, ts: Any, since: Any = None,
                      diagnosis: dict | None = None) -> str:
        """Record a new incident; returns its id (``YYYYmmddTHHMMSS-project-service``)."""
        t = pd.Timestamp(ts)
        iid = f"{t.strftime('%Y%m%dT%H%M%S')}-{project or '-'}-{service}"
        cause = (diagnosis or {}).get("cause")
        fix = (diagnosis or {}).get("fix")
        self.con.execute("INSERT OR IGNORE INTO incidents (id, project, service, state, opened_at, first_failure_at, "
                         "root_cause, fix, diagnosis) VALUES (?,?,?,?,?,?,?,?,?)",
                         (iid, project or "", service, state, _sec(t), _sec(since if since is not None else t),
                          redact.mask_text(cause), redact.mask_text(fix),
                          json.dumps(redact.mask_obj(diagnosis or {}), default=str)))
        return iid

    def open_incidents(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM incidents WHERE closed_at IS NULL", self.con)

    def mark_sent(self, iid: str, ts: Any) -> None:
        t = _sec(ts)
        self.con.execute("UPDATE incidents SET last_sent_at=?, first_alert_at=COALESCE(first_alert_at, ?) "
                         "WHERE id=?", (t, t, iid))

    def close_incident(self, iid: str, ts: Any) -> None:
        self.con.execute("UPDATE incidents SET closed_at=? WHERE id=?", (_sec(ts), iid))

    def incidents(self) -> pd.DataFrame:
        """Every incident, newest first, times as UTC timestamps."""
        df = pd.read_sql_query("SELECT * FROM incidents ORDER BY opened_at DESC", self.con)
        for col in ("opened_at", "first_failure_at", "first_alert_at", "last_sent_at", "closed_at"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        return df

    def warning_due(self, key: str, ts: Any, every_s: float) -> bool:
        """True (and recorded) when warning ``key`` was not sent in the last ``every_s`` seconds."""
        row = self.con.execute("SELECT last_sent_at FROM warnings_sent WHERE key=?", (key,)).fetchone()
        if row is not None and _sec(ts) - row[0] < every_s:
            return False
        self.con.execute("INSERT OR REPLACE INTO warnings_sent VALUES (?, ?)", (key, _sec(ts)))
        return True

    # ---- outbox
    def enqueue(self, target_key: str, kind: str, title: str, body: str, ts: Any, incident: str | None = None) -> int:
        cur = self.con.execute("INSERT INTO outbox (created_at, target, kind, incident, title, body, next_at) "
                               "VALUES (?,?,?,?,?,?,?)", (_sec(ts), target_key, kind, incident, redact.mask_text(title),
                                                           redact.mask_text(body), _sec(ts)))
        return int(cur.lastrowid)

    def due(self, ts: Any, target_key: str, limit: int) -> list[dict[str, Any]]:
        """Pending messages for one target, oldest first; none while the target is backing off."""
        (backing_off,) = self.con.execute("SELECT COUNT(*) FROM outbox WHERE status='pending' AND target=? "
                                          "AND attempts>0 AND next_at>?", (target_key, _sec(ts))).fetchone()
        if backing_off:
            return []
        cur = self.con.execute("SELECT id, kind, incident, title, body, attempts FROM outbox WHERE status='pending' "
                               "AND target=? AND next_at<=? ORDER BY id LIMIT ?", (target_key, _sec(ts), limit))
        return [dict(zip(("id", "kind", "incident", "title", "body", "attempts"), r)) for r in cur.fetchall()]

    def record(self, msg_id: int, ts: Any, ok: bool, error: str | None, attempts: int) -> None:
        """Record one delivery attempt: sent, retry later (backoff) or failed for good."""
        t = _sec(ts)
        if ok:
            self.con.execute("UPDATE outbox SET status='sent', sent_at=?, attempts=? WHERE id=?", (t, attempts, msg_id))
            return
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        self.con.execute("UPDATE outbox SET status=?, attempts=?, next_at=?, last_error=? WHERE id=?",
                         (status, attempts, t + int(backoff_s(attempts)), error, msg_id))

    def messages(self) -> pd.DataFrame:
        """The outbox (every message, its status and attempts), times as UTC timestamps."""
        df = pd.read_sql_query("SELECT * FROM outbox ORDER BY id", self.con)
        for col in ("created_at", "next_at", "sent_at"):
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
        return df
