"""The SQLite store's schema (version 5) and its migrations; append new versions, never edit one."""
from __future__ import annotations

import sqlite3
from typing import Any

from runbook_lib.exceptions import StoreError

SCHEMA_VERSION = 5


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Run ;-separated statements inside the caller's transaction (executescript would commit it)."""
    for stmt in script.split(";"):
        if stmt.strip():
            con.execute(stmt)


def _migrate_v1(con: sqlite3.Connection) -> None:
    _run_script(con, """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS services (
            id INTEGER PRIMARY KEY, project TEXT NOT NULL DEFAULT '', service TEXT NOT NULL,
            first_ts INTEGER, image TEXT, UNIQUE (project, service));
        CREATE TABLE IF NOT EXISTS errors (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS samples (
            ts INTEGER NOT NULL, service_id INTEGER NOT NULL, raw INTEGER NOT NULL, eff INTEGER NOT NULL,
            latency_us INTEGER, error_id INTEGER, PRIMARY KEY (ts, service_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS intervals (
            id INTEGER PRIMARY KEY, service_id INTEGER NOT NULL, state INTEGER NOT NULL,
            start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, n INTEGER NOT NULL,
            first_error_id INTEGER);
        CREATE INDEX IF NOT EXISTS intervals_service ON intervals (service_id, start_ts);
        CREATE TABLE IF NOT EXISTS service_state (
            service_id INTEGER PRIMARY KEY, eff INTEGER, fails INTEGER NOT NULL, oks INTEGER NOT NULL,
            start_ts REAL, stopped INTEGER NOT NULL, last_ts INTEGER, interval_id INTEGER);
        CREATE TABLE IF NOT EXISTS latency_hourly (
            service_id INTEGER NOT NULL, hour_ts INTEGER NOT NULL, n INTEGER NOT NULL, p50_us INTEGER,
            p95_us INTEGER, p99_us INTEGER, max_us INTEGER, PRIMARY KEY (service_id, hour_ts)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rounds (
            ts INTEGER PRIMARY KEY, interval_s REAL NOT NULL, services INTEGER NOT NULL,
            engine_ok INTEGER NOT NULL, notes TEXT) WITHOUT ROWID;
    """)


def _migrate_v2(con: sqlite3.Connection) -> None:
    """Services keyed by (host, project, service): the same project on two engines stays apart."""
    _run_script(con, """
        CREATE TABLE services_v2 (
            id INTEGER PRIMARY KEY, host TEXT NOT NULL DEFAULT '', project TEXT NOT NULL DEFAULT '',
            service TEXT NOT NULL, first_ts INTEGER, image TEXT, UNIQUE (host, project, service));
        INSERT INTO services_v2 (id, host, project, service, first_ts, image)
            SELECT id, '', project, service, first_ts, image FROM services;
        DROP TABLE services;
        ALTER TABLE services_v2 RENAME TO services
    """)


def _migrate_v3(con: sqlite3.Connection) -> None:
    """Docker events recorded by the collector (die, oom, kill, …), kept like raw samples."""
    _run_script(con, EVENTS_DDL)


EVENTS_DDL = """
    CREATE TABLE IF NOT EXISTS events (
        ts_ns INTEGER NOT NULL, container_id TEXT NOT NULL, action TEXT NOT NULL,
        host TEXT NOT NULL DEFAULT '', project TEXT NOT NULL DEFAULT '', service TEXT NOT NULL DEFAULT '',
        container TEXT NOT NULL DEFAULT '', exit_code INTEGER, detail TEXT,
        PRIMARY KEY (ts_ns, container_id, action)) WITHOUT ROWID
"""


def _migrate_v4(con: sqlite3.Connection) -> None:
    """Rounds keyed by (ts, collector): collectors writing in the same second keep a row each."""
    _run_script(con, """
        CREATE TABLE rounds_v4 (
            ts INTEGER NOT NULL, collector TEXT NOT NULL DEFAULT '', interval_s REAL NOT NULL,
            services INTEGER NOT NULL, engine_ok INTEGER NOT NULL, notes TEXT,
            PRIMARY KEY (ts, collector)) WITHOUT ROWID;
        INSERT INTO rounds_v4 (ts, collector, interval_s, services, engine_ok, notes)
            SELECT ts, '', interval_s, services, engine_ok, notes FROM rounds;
        DROP TABLE rounds;
        ALTER TABLE rounds_v4 RENAME TO rounds
    """)


def _migrate_v5(con: sqlite3.Connection) -> None:
    """Events keyed by (time, host, container, action): two engines' events never collapse into one."""
    _run_script(con, """
        CREATE TABLE events_v5 (
            ts_ns INTEGER NOT NULL, container_id TEXT NOT NULL, action TEXT NOT NULL,
            host TEXT NOT NULL DEFAULT '', project TEXT NOT NULL DEFAULT '', service TEXT NOT NULL DEFAULT '',
            container TEXT NOT NULL DEFAULT '', exit_code INTEGER, detail TEXT,
            PRIMARY KEY (ts_ns, host, container_id, action)) WITHOUT ROWID;
        INSERT INTO events_v5 SELECT ts_ns, container_id, action, host, project, service, container, exit_code,
            detail FROM events;
        DROP TABLE events;
        ALTER TABLE events_v5 RENAME TO events
    """)


# (version, migration); append new versions, never edit an applied one.
MIGRATIONS: list[tuple[int, Any]] = [(1, _migrate_v1), (2, _migrate_v2), (3, _migrate_v3), (4, _migrate_v4),
                                     (5, _migrate_v5)]


def _table_exists(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def schema_version(con: sqlite3.Connection) -> int:
    """The store's schema version (0 for a new file)."""
    if not _table_exists(con, "schema_version"):
        return 0
    row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: sqlite3.Connection, migrations: list[tuple[int, Any]] | None = None) -> int:
    """Apply pending migrations, each in its own immediate transaction; return the version."""
    migrations = MIGRATIONS if migrations is None else migrations
    latest = max(v for v, _ in migrations)
    current = schema_version(con)
    if current > latest:
        raise StoreError(f"the history store was written by a newer runbook (schema {current}, this runbook knows "
                         f"{latest}). Fix: upgrade runbook, or point --store at another file.")
    for version, func in sorted(migrations, key=lambda m: m[0]):
        if version <= current:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(con) < version:  # another process may have migrated meanwhile
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT)")
                func(con) if not isinstance(func, str) else _run_script(con, func)
                con.execute("INSERT INTO schema_version VALUES (?, datetime('now'))", (version,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK") if con.in_transaction else None
            raise
        current = version
    return current
