"""The history store in PostgreSQL: one store for a team, several collectors writing at once.

Same behaviour as the SQLite store, by construction: ``PostgresStore`` runs the SQLite
store's own ingest and query code (effective-state runs, debounce state, raw retention,
hourly latency roll-ups, thresholds) over a connection that speaks PostgreSQL. The
connection adapter (``_PgConnection``) changes only the SQL dialect, statement by
statement: ``?`` placeholders become ``%s``; ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO
NOTHING``; ``INSERT OR REPLACE`` an upsert on the table's key; ``lastrowid`` comes from
``RETURNING id``; and ``BEGIN IMMEDIATE`` becomes ``BEGIN`` plus a transaction-scoped
advisory lock, so writers take turns exactly as SQLite's write lock makes them: no round
is lost or applied twice, whatever the number of collectors.

Schema migrations are numbered like SQLite's (``schema_version`` table) and run under the
same advisory lock, so two collectors starting together migrate once.
URL: ``postgresql://user:password@host:port/dbname`` (``--store`` or ``RUNBOOK_STORE``);
libpq's environment (PGPASSWORD, PGSSLMODE …) applies too.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg
from psycopg import pq

from runbook_lib import redact
from runbook_lib.exceptions import StoreError
from runbook_lib.history.debounce import Thresholds
from runbook_lib.history.sqlite_queries import end_seconds, ts_seconds, to_utc
from runbook_lib.history.sqlite_store import (DEFAULT_INTERVAL_RETENTION_DAYS, DEFAULT_RAW_RETENTION_DAYS,
                                              SqliteStore)

SCHEMES = ("postgresql://", "postgres://")
LOCK_KEY = 0x72756E626F6F6B  # "runbook": the advisory lock every writer takes for its transaction
SCHEMA_VERSION = 5
# table -> (key columns, other columns): what an upsert replaces
_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rounds": (("ts", "collector"), ("interval_s", "services", "engine_ok", "notes")),
    "service_state": (("service_id",), ("eff", "fails", "oks", "start_ts", "stopped", "last_ts", "interval_id")),
    "latency_hourly": (("service_id", "hour_ts"), ("n", "p50_us", "p95_us", "p99_us", "max_us")),
    "meta": (("key",), ("value",)),
}
_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS services (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL DEFAULT '', service TEXT NOT NULL,
    first_ts BIGINT, image TEXT, UNIQUE (project, service));
CREATE TABLE IF NOT EXISTS errors (id BIGSERIAL PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS samples (
    ts BIGINT NOT NULL, service_id BIGINT NOT NULL, raw SMALLINT NOT NULL, eff SMALLINT NOT NULL,
    latency_us BIGINT, error_id BIGINT, PRIMARY KEY (ts, service_id));
CREATE TABLE IF NOT EXISTS intervals (
    id BIGSERIAL PRIMARY KEY, service_id BIGINT NOT NULL, state SMALLINT NOT NULL,
    start_ts BIGINT NOT NULL, end_ts BIGINT NOT NULL, n BIGINT NOT NULL, first_error_id BIGINT);
CREATE INDEX IF NOT EXISTS intervals_service ON intervals (service_id, start_ts);
CREATE INDEX IF NOT EXISTS intervals_end ON intervals (end_ts);
CREATE TABLE IF NOT EXISTS service_state (
    service_id BIGINT PRIMARY KEY, eff SMALLINT, fails INTEGER NOT NULL, oks INTEGER NOT NULL,
    start_ts DOUBLE PRECISION, stopped SMALLINT NOT NULL, last_ts BIGINT, interval_id BIGINT);
CREATE TABLE IF NOT EXISTS latency_hourly (
    service_id BIGINT NOT NULL, hour_ts BIGINT NOT NULL, n BIGINT NOT NULL, p50_us BIGINT,
    p95_us BIGINT, p99_us BIGINT, max_us BIGINT, PRIMARY KEY (service_id, hour_ts));
CREATE TABLE IF NOT EXISTS rounds (
    ts BIGINT PRIMARY KEY, interval_s DOUBLE PRECISION NOT NULL, services INTEGER NOT NULL,
    engine_ok SMALLINT NOT NULL, notes TEXT)
"""
# services keyed by (host, project, service): the same project on two engines stays apart
_V2 = """
ALTER TABLE services ADD COLUMN IF NOT EXISTS host TEXT NOT NULL DEFAULT '';
ALTER TABLE services DROP CONSTRAINT IF EXISTS services_project_service_key;
ALTER TABLE services ADD CONSTRAINT services_host_project_service_key UNIQUE (host, project, service)
"""
# Docker events recorded by the collector (die, oom, kill, …), kept like raw samples
_V3 = """
CREATE TABLE IF NOT EXISTS events (
    ts_ns BIGINT NOT NULL, container_id TEXT NOT NULL, action TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '', project TEXT NOT NULL DEFAULT '', service TEXT NOT NULL DEFAULT '',
    container TEXT NOT NULL DEFAULT '', exit_code INTEGER, detail TEXT,
    PRIMARY KEY (ts_ns, container_id, action))
"""
# rounds keyed by (ts, collector): collectors writing in the same second keep a row each
_V4 = """
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS collector TEXT NOT NULL DEFAULT '';
ALTER TABLE rounds DROP CONSTRAINT IF EXISTS rounds_pkey;
ALTER TABLE rounds ADD CONSTRAINT rounds_pkey PRIMARY KEY (ts, collector)
"""
# events keyed by (time, host, container, action): two engines' events never collapse into one
_V5 = """
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_pkey;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (ts_ns, host, container_id, action)
"""
# (version, DDL); append new versions, never edit an applied one.
MIGRATIONS: list[tuple[int, str]] = [(1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _V5)]
_INSERT_OR = re.compile(r"^\s*INSERT OR (IGNORE|REPLACE) INTO (\w+)\s*(\([^)]*\))?\s*VALUES", re.I)


def _translate(sql: str) -> tuple[str, bool]:
    """One SQLite statement of the store in PostgreSQL; (sql, returns the new id)."""
    m = _INSERT_OR.match(sql)
    returning = False
    if m:
        kind, table = m.group(1).upper(), m.group(2)
        head = f"INSERT INTO {table} {m.group(3) or ''} VALUES"
        sql = head + sql[m.end():]
        if kind == "IGNORE":
            sql += " ON CONFLICT DO NOTHING"
        else:
            if table not in _TABLES:
                raise StoreError(f"no upsert key known for table {table} (PostgreSQL store). This is a bug: "
                                 f"add the table to postgres_store._TABLES.")
            keys, cols = _TABLES[table]
            sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(f"{c}=EXCLUDED.{c}" for c in cols)
    elif re.match(r"^\s*INSERT INTO intervals\b", sql, re.I):
        sql += " RETURNING id"
        returning = True
    return sql.replace("?", "%s"), returning


class _Cursor:
    def __init__(self, cur: psycopg.Cursor, returning: bool) -> None:
        self._cur = cur
        self.lastrowid = cur.fetchone()[0] if returning else None

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list:
        return self._cur.fetchall()

    def __iter__(self):
        return iter(self._cur)


class _PgConnection:
    """The slice of ``sqlite3.Connection`` the SQLite store uses, on a psycopg connection."""

    def __init__(self, pg: psycopg.Connection) -> None:
        self.pg = pg

    @property
    def in_transaction(self) -> bool:
        return self.pg.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        word = sql.strip().upper()
        if word == "BEGIN IMMEDIATE":
            self.pg.execute("BEGIN")
            self.pg.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            return _Cursor(self.pg.cursor(), False)
        if word in ("COMMIT", "ROLLBACK"):
            self.pg.execute(word)
            return _Cursor(self.pg.cursor(), False)
        text, returning = _translate(sql)
        return _Cursor(self.pg.execute(text, list(params)), returning)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = [list(r) for r in rows]
        if rows:
            text, _ = _translate(sql)
            with self.pg.cursor() as cur:
                cur.executemany(text, rows)

    def close(self) -> None:
        self.pg.close()


def schema_version(con: _PgConnection) -> int:
    """The store's schema version (0 for a new database)."""
    if con.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    return int(con.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])


def migrate(con: _PgConnection, migrations: list[tuple[int, str]] | None = None) -> int:
    """Apply pending migrations under the writers' advisory lock; return the version."""
    migrations = MIGRATIONS if migrations is None else migrations
    latest = max(v for v, _ in migrations)
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)")
        current = schema_version(con)
        if current > latest:
            raise StoreError(f"the history store was written by a newer runbook (schema {current}, this runbook knows "
                             f"{latest}). Fix: upgrade runbook, or point --store at another database.")
        for version, ddl in sorted(migrations, key=lambda m: m[0]):
            if version > current:
                for stmt in ddl.split(";"):
                    if stmt.strip():
                        con.pg.execute(stmt)
                con.pg.execute("INSERT INTO schema_version VALUES (%s, now())", (version,))
                current = version
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return current


class PostgresStore(SqliteStore):
    """The history store in PostgreSQL; use ``store.open_store('postgresql://…')``. Not shared between threads."""

    @property
    def version(self) -> int:
        return schema_version(self.con)

    def integrity_check(self) -> str:
        """"ok" when the server answers (PostgreSQL checks its own pages)."""
        return "ok" if self.con.execute("SELECT 1").fetchone()[0] == 1 else "not ok"

    def services(self) -> pd.DataFrame:
        """Every service ever seen: service_id, host, project, service, image, first_seen."""
        rows = self.con.execute(f"SELECT id, {self._host_col()}, project, service, image, first_ts FROM services "
                                "ORDER BY host, project, service").fetchall()
        df = pd.DataFrame(rows, columns=["service_id", "host", "project", "service", "image", "first_ts"])
        df["first_seen"] = to_utc(df.pop("first_ts").fillna(0))
        return df

    def rounds(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """Collection rounds: ts, collector (the engine hosts it covered; '' = the default engine), interval_s,
        services, engine_ok, notes."""
        lo = ts_seconds(since) if since is not None else 0
        hi = end_seconds(until) if until is not None else 2**62
        collector = "collector" if self.version >= 4 else "'' AS collector"  # an old store opened read-only
        rows = self.con.execute(f"SELECT ts, {collector}, interval_s, services, engine_ok, notes FROM rounds "
                                "WHERE ts >= ? AND ts < ? ORDER BY ts", (lo, hi)).fetchall()
        df = pd.DataFrame(rows, columns=["ts", "collector", "interval_s", "services", "engine_ok", "notes"])
        df["ts"] = to_utc(df["ts"])
        df["engine_ok"] = df["engine_ok"].astype(bool)
        return df


def display_url(url: str) -> str:
    """The URL with its password masked (for messages and the store's ``path``)."""
    return redact.mask_text(re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url))


def open_postgres(url: str, *, thresholds: Thresholds | None = None,
                  raw_retention_days: float = DEFAULT_RAW_RETENTION_DAYS,
                  interval_retention_days: float = DEFAULT_INTERVAL_RETENTION_DAYS, readonly: bool = False,
                  connect_timeout_s: float = 10.0, **_sqlite_only: Any) -> PostgresStore:
    """Connect to (creating and migrating) the PostgreSQL history store at ``url``.

    SQLite-only options (busy_timeout_s, synchronous, mounts_text) are accepted and ignored.
    """
    dsn = "postgresql://" + url.split("://", 1)[1]
    try:
        pg = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(connect_timeout_s)),
                             application_name="runbook")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the history store {display_url(url)}: "
                         f"{redact.mask_text(str(exc).strip())}. Fix: check host, port, user and password in "
                         f"--store / RUNBOOK_STORE (postgresql://user:password@host:5432/dbname).") from None
    con = _PgConnection(pg)
    try:
        if readonly:
            if schema_version(con) == 0:
                raise StoreError(f"no history store in {display_url(url)}. Fix: run `runbook collect --store URL` "
                                 f"first.")
            if schema_version(con) > SCHEMA_VERSION:
                raise StoreError(f"the history store {display_url(url)} was written by a newer runbook. "
                                 f"Fix: upgrade runbook.")
        else:
            migrate(con)
    except psycopg.Error as exc:
        pg.close()
        raise StoreError(f"cannot use the history store {display_url(url)}: {redact.mask_text(str(exc))}. Fix: the "
                         f"user needs CREATE on the database (first run) and read/write on its tables.") from None
    except BaseException:
        pg.close()
        raise
    return PostgresStore(display_url(url), con, thresholds or Thresholds(), raw_retention_days,  # type: ignore[arg-type]
                         interval_retention_days)
