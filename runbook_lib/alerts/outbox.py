"""The alerts database: open incidents, their diagnosis snapshots and the outbox of messages.

A small SQLite file beside the history store (``alerts.sqlite``). Messages are written to the
outbox first, then delivered; a failed delivery is retried with exponential backoff (30 s,
doubled, at most 1 h apart, 8 attempts) and every attempt is recorded. The outbox never holds
a notification URL, only its key (a hash): the URLs stay in the configuration.

A diagnosis snapshot (up to 256 KB) is stored once per collector round in ``snapshots``; the
incidents opened in that round reference it (``incidents.snapshot_id``), so a storm of 30
incidents stores one copy. Incidents written before (schema 1) keep theirs inline in
``diagnosis`` and stay readable. Each incident names its engine ``host`` (schema 3; '' = the
one default engine), so the same service failing on two hosts is two incidents. The schema version is SQLite's ``user_version``; migrations
are appended, never edited.
"""
from __future__ import annotations

import json
import os
import re
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
# one diagnosis snapshot per round, referenced by the incidents opened in it
_V2 = """
CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY, taken_at INTEGER NOT NULL, body TEXT NOT NULL);
ALTER TABLE incidents ADD COLUMN snapshot_id INTEGER;
"""
# the engine host of each incident ('' = the single default engine; issue 12)
_V3 = """
ALTER TABLE incidents ADD COLUMN host TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS incidents_host_open ON incidents (host, project, service, closed_at);
"""
# (version, DDL); append new versions, never edit an applied one.
MIGRATIONS: list[tuple[int, str]] = [(1, _SCHEMA), (2, _V2), (3, _V3)]
SCHEMA_VERSION = 3


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


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})").fetchall()}


def migrate(con: sqlite3.Connection, migrations: list[tuple[int, str]] | None = None) -> int:
    """Apply pending migrations (each in one immediate transaction); return the version.

    A file made before versions were kept has ``user_version`` 0 and the version-1 tables: the
    version-1 DDL only creates what is missing; an ``ADD COLUMN`` already applied is skipped."""
    migrations = MIGRATIONS if migrations is None else migrations
    for version, ddl in sorted(migrations, key=lambda m: m[0]):
        if int(con.execute("PRAGMA user_version").fetchone()[0]) >= version:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if int(con.execute("PRAGMA user_version").fetchone()[0]) < version:  # another process may have
                for stmt in (x.strip() for x in ddl.split(";")):
                    add = re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", stmt, re.I)
                    if stmt and not (add and add.group(2) in _columns(con, add.group(1))):
                        con.execute(stmt)
                con.execute(f"PRAGMA user_version = {int(version)}")
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def _sec(ts: Any) -> int:
    return int(pd.Timestamp(ts).timestamp())


class AlertsDB:
    """Incidents and the outbox in one SQLite file (autocommit; one writer, the collector)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
        self.version = migrate(self.con)

    def close(self) -> None:
        self.con.close()

    # ---- incidents
    def add_snapshot(self, snapshot: dict[str, Any], ts: Any) -> int:
        """Store one diagnosis snapshot (masked again); return its id for the incidents of this round."""
        cur = self.con.execute("INSERT INTO snapshots (taken_at, body) VALUES (?, ?)",
                               (_sec(ts), json.dumps(redact.mask_obj(snapshot), default=str)))
        return int(cur.lastrowid)

    def snapshot(self, snapshot_id: Any) -> dict[str, Any] | None:
        """The stored snapshot ``snapshot_id`` (None: none, or unreadable)."""
        if snapshot_id is None or pd.isna(snapshot_id):
            return None
        row = self.con.execute("SELECT body FROM snapshots WHERE id=?", (int(snapshot_id),)).fetchone()
        try:
            return json.loads(row[0]) if row else None
        except ValueError:
            return None

    def open_incident(self, project: str, service: str, state: str, ts: Any, since: Any = None,
                      diagnosis: dict | None = None, snapshot_id: int | None = None, host: str = "") -> str:
        """Record a new incident; returns its id (``YYYYmmddTHHMMSS-project-service``, with ``-host`` after
        the time when the incident is on a named engine host).

        ``snapshot_id``: the round's diagnosis snapshot (``add_snapshot``), shared by its incidents."""
        t = pd.Timestamp(ts)
        iid = f"{t.strftime('%Y%m%dT%H%M%S')}{'-' + host if host else ''}-{project or '-'}-{service}"
        cause = (diagnosis or {}).get("cause")
        fix = (diagnosis or {}).get("fix")
        self.con.execute("INSERT OR IGNORE INTO incidents (id, project, service, state, opened_at, first_failure_at, "
                         "root_cause, fix, diagnosis, snapshot_id, host) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         (iid, project or "", service, state, _sec(t), _sec(since if since is not None else t),
                          redact.mask_text(cause), redact.mask_text(fix),
                          json.dumps(redact.mask_obj(diagnosis or {}), default=str), snapshot_id, host or ""))
        return iid

    def with_snapshot(self, incident: dict[str, Any]) -> dict[str, Any]:
        """The incident (an ``incidents()`` row) with its diagnosis snapshot under ``snapshot`` (None: none
        stored apart; incidents of schema 1 keep theirs inside ``diagnosis``)."""
        return {**incident, "snapshot": self.snapshot(incident.get("snapshot_id"))}

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
