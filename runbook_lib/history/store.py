"""The history store: one SQLite file in WAL mode, safe with several writers at once.

Layout (schema version 1), sized for 30 days of 1-minute samples for 100 services:

- ``samples``: one compact row per service per round (integer epoch seconds, small-int
  state codes, a service id, latency in microseconds, an error id), kept for a retention
  (``raw_retention_days``, default 3), clustered by time (``WITHOUT ROWID``) so appends
  and range deletes are cheap;
- ``intervals``: the effective state per service as runs (service, state, start, end,
  samples, first error), maintained on ingest and kept much longer: uptime and incident
  queries over any window read a few thousand runs instead of millions of samples;
- ``service_state``: the per-service debounce state (consecutive-result thresholds and
  start-period grace) so every writer continues the same state machine;
- ``latency_hourly``: latency p50/p95/p99/max per service per closed hour (outlives raw);
- ``errors``: masked error texts, stored once; ``rounds``: one row per collection round.

Writes are ``BEGIN IMMEDIATE`` transactions with a busy timeout (default 10 s), so a
scheduled collector and an open notebook never see "database is locked"; a transaction
acknowledged by ``write_round`` survives the writer being killed (WAL with synchronous=NORMAL
commits to the OS before returning; ``synchronous="FULL"`` also survives a power cut, at one
fsync per round).
The store refuses read-only locations and network file systems (WAL needs shared memory
that NFS/CIFS/sshfs do not provide).
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runbook_lib import redact
from runbook_lib.exceptions import StoreError

ENV_VAR = "RUNBOOK_STORE"
ALLOW_NETWORK_ENV = "RUNBOOK_STORE_ALLOW_NETWORK"
SYNC_ENV = "RUNBOOK_STORE_SYNC"  # NORMAL (default: safe against killed processes) or FULL (also power cuts)
SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = 10.0
DEFAULT_RAW_RETENTION_DAYS = 3.0
DEFAULT_INTERVAL_RETENTION_DAYS = 400.0
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "sshfs", "9p", "afs",
                        "glusterfs", "fuse.glusterfs", "ceph", "fuse.ceph", "fuse.s3fs", "fuse.rclone",
                        "davfs", "fuse.davfs2", "lustre", "gpfs", "ncpfs", "coda"})

# State codes. Raw codes come from a round; effective codes come out of the debounce.
UNKNOWN, UP, DEGRADED, DOWN, STOPPED, STARTING = 0, 1, 2, 3, 4, 5
STATE_NAMES = {UNKNOWN: "unknown", UP: "up", DEGRADED: "degraded", DOWN: "down", STOPPED: "stopped",
               STARTING: "starting"}
STATE_CODES = {v: k for k, v in STATE_NAMES.items()}
_SEVERITY = {UNKNOWN: -1, UP: 0, DEGRADED: 1, STARTING: 1, DOWN: 2, STOPPED: 3}


# ---------------------------------------------------------------- debounce (pure)
@dataclass(frozen=True)
class Thresholds:
    """Consecutive-result thresholds (as Kubernetes/Docker) and the start-period grace.

    ``failure_threshold`` failing samples in a row make a service down,
    ``success_threshold`` good samples in a row bring it back; failing samples within
    ``start_period_s`` of a (re)start do not count (effective state "starting"). A stopped
    container is down at once (it is not flapping); unknown samples change nothing.
    """

    failure_threshold: int = 3
    success_threshold: int = 2
    start_period_s: float = 0.0

    @classmethod
    def from_config(cls, thresholds: Mapping[str, Any] | None) -> "Thresholds":
        """From the runbook config's ``thresholds:`` block (failure, success, start_period_s)."""
        t = dict(thresholds or {})
        return cls(int(t.get("failure", t.get("failure_threshold", 3))),
                   int(t.get("success", t.get("success_threshold", 2))),
                   float(t.get("start_period_s", 0.0)))


@dataclass
class Debounce:
    """Per-service debounce state carried from one sample to the next."""

    eff: int | None = None      # effective state, None before the first known sample
    fails: int = 0              # consecutive failing samples
    oks: int = 0                # consecutive good samples
    start_ts: float | None = None  # last (re)start, epoch seconds
    stopped: bool = True        # last known container state was "not running" (or never seen)


def step(d: Debounce, raw: int, ts: float, th: Thresholds, started_ts: float | None = None) -> int:
    """Advance the debounce with one raw sample (mutates ``d``); return the effective state."""
    if raw == UNKNOWN:
        return UNKNOWN
    if raw == STOPPED:
        d.eff, d.fails, d.oks, d.stopped = DOWN, 0, 0, True
        return DOWN
    if started_ts is not None:
        if d.start_ts is None or abs(started_ts - d.start_ts) > 1.0:
            d.start_ts = started_ts
    elif d.stopped:
        d.start_ts = ts
    d.stopped = False
    if raw == STARTING:  # the container's own healthcheck is still in its start period
        return STARTING
    in_grace = th.start_period_s > 0 and d.start_ts is not None and 0 <= ts - d.start_ts < th.start_period_s
    if raw == DOWN:
        if in_grace:
            return STARTING if d.eff in (None, STARTING, DOWN) else d.eff
        d.fails += 1
        d.oks = 0
        if d.eff is None or (d.eff != DOWN and d.fails >= th.failure_threshold):
            d.eff = DOWN  # the first known sample sets the state; later, only a run of failures
        return d.eff
    # UP or DEGRADED
    d.oks += 1
    d.fails = 0
    if d.eff == DOWN:
        if d.oks >= th.success_threshold:
            d.eff = raw
    else:
        d.eff = raw
    return d.eff


# ---------------------------------------------------------------- a round → per-service raw states (pure)
_ROUND_COLUMNS = ["project", "service", "raw", "latency_ms", "error", "started_ts", "image"]


def _container_state(row: Mapping[str, Any]) -> tuple[int, str | None]:
    state = str(row.get("state") or "unknown")
    health = str(row.get("health") or "none")
    if state == "running":
        if health == "unhealthy":
            out = str(row.get("health_output") or "").strip()
            return DOWN, f"unhealthy: {out}" if out else "unhealthy"
        if health == "starting":
            return STARTING, None
        return UP, None
    if state == "restarting":
        return DOWN, f"restarting (restart count {row.get('restart_count')})"
    if state == "paused":
        return DEGRADED, "paused"
    if state in ("exited", "dead", "created", "removing"):
        code = row.get("exit_code")
        oom = " (OOM killed)" if row.get("oom_killed") else ""
        text = f"{state}" + (f" (exit code {int(code)})" if code is not None and not _isnan(code) else "") + oom
        return STOPPED, text
    return UNKNOWN, f"container state {state}"


def _isnan(v: Any) -> bool:
    try:
        return isinstance(v, float) and math.isnan(v)
    except TypeError:
        return False


def _epoch(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.timestamp()


def combine_round(inventory: pd.DataFrame | None, probe_rows: pd.DataFrame | None) -> pd.DataFrame:
    """Inventory + probe rows of one round → one raw state per (project, service) (pure).

    A stopped container is STOPPED, an unhealthy or restarting one DOWN; probes then make a
    running service worse (down/degraded) or confirm it; an unknown probe changes nothing.
    With no inventory (engine fault) the probes alone decide. Several containers of one
    service: the worst wins. Error texts are masked.
    """
    acc: dict[tuple[str, str], dict[str, Any]] = {}

    def merge(key: tuple[str, str], raw: int, error: str | None, latency_ms: float | None = None,
              started_ts: float | None = None, image: str | None = None) -> None:
        cur = acc.get(key)
        if cur is None:
            acc[key] = {"raw": raw, "error": error, "latency_ms": latency_ms, "started_ts": started_ts,
                        "image": image}
            return
        if latency_ms is not None and not _isnan(latency_ms):
            cur["latency_ms"] = latency_ms if cur["latency_ms"] is None else max(cur["latency_ms"], latency_ms)
        if started_ts is not None:
            cur["started_ts"] = started_ts if cur["started_ts"] is None else max(cur["started_ts"], started_ts)
        if cur["raw"] == STOPPED and raw != UNKNOWN:
            return  # a stopped container stays stopped whatever its probes say
        if _SEVERITY[raw] > _SEVERITY[cur["raw"]]:
            cur["raw"], cur["error"] = raw, error or cur["error"]
        elif cur["error"] is None and error and raw == cur["raw"]:
            cur["error"] = error

    if inventory is not None and not inventory.empty:
        for row in inventory.to_dict("records"):
            key = (str(row.get("project") or ""), str(row.get("service") or row.get("name") or "?"))
            raw, error = _container_state(row)
            merge(key, raw, error, started_ts=_epoch(row.get("started_at")) if raw != STOPPED else None,
                  image=str(row.get("image") or "") or None)
    projects_by_service: dict[str, str] = {}
    for (proj, svc) in acc:
        projects_by_service.setdefault(svc, proj)
    if probe_rows is not None and not probe_rows.empty:
        for row in probe_rows.to_dict("records"):
            svc = str(row.get("service") or "?")
            key = (projects_by_service.get(svc, str(row.get("project") or "")), svc)
            state = str(row.get("state") or "unknown")
            raw = STATE_CODES.get(state, UNKNOWN) if state in ("up", "degraded", "down") else UNKNOWN
            lat = row.get("latency_ms")
            lat = float(lat) if lat is not None and not _isnan(lat) and raw in (UP, DEGRADED) else None
            err = row.get("error")
            err = f"{row.get('kind') or 'probe'}: {err}" if err and raw in (DOWN, DEGRADED) else None
            if key not in acc and raw == UNKNOWN:
                acc[key] = {"raw": UNKNOWN, "error": f"probe could not run: {row.get('error') or 'unknown'}",
                            "latency_ms": None, "started_ts": None, "image": None}
                continue
            if raw == UNKNOWN:
                continue
            merge(key, raw, err, lat)
    rows = [{"project": k[0], "service": k[1], "raw": v["raw"], "latency_ms": v["latency_ms"],
             "error": redact.mask_text(v["error"]) if v["error"] else None, "started_ts": v["started_ts"],
             "image": v["image"]}
            for k, v in sorted(acc.items())]
    return pd.DataFrame(rows, columns=_ROUND_COLUMNS)


# ---------------------------------------------------------------- location checks
def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/runbook/history.sqlite3`` (default ``~/.local/share/runbook/``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook" / "history.sqlite3"


def resolve_path(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """--store PATH, else RUNBOOK_STORE, else the user data folder."""
    env = os.environ if environ is None else environ
    if path:
        return Path(path).expanduser()
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser()
    return default_path(env)


def _unescape_mount(p: str) -> str:
    return p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount_of(path: Path, mounts_text: str | None = None) -> tuple[str, str, set[str]]:
    """(mount point, fs type, options) of the mount holding ``path`` (from /proc/mounts)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            return "/", "unknown", set()
    target = str(path)
    best = ("/", "unknown", set())
    best_len = -1
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mnt = _unescape_mount(parts[1])
        if target == mnt or target.startswith(mnt.rstrip("/") + "/") or mnt == "/":
            if len(mnt) >= best_len:  # later mounts over the same point win
                best, best_len = (mnt, parts[2], set(parts[3].split(","))), len(mnt)
    return best


def check_location(path: Path, mounts_text: str | None = None, allow_network: bool | None = None,
                   for_write: bool = True) -> None:
    """Refuse read-only places and network file systems (raise StoreError; warn when allowed)."""
    path = Path(os.path.abspath(path))
    existing = path if path.exists() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    real = Path(os.path.realpath(existing))
    mnt, fstype, opts = mount_of(real, mounts_text)
    if allow_network is None:
        allow_network = os.environ.get(ALLOW_NETWORK_ENV, "") in ("1", "true", "yes")
    base = fstype.split(".")[-1] if fstype.startswith("fuse.") else fstype
    if fstype in NETWORK_FS or base in NETWORK_FS:
        msg = (f"the history store {path} is on a network file system ({fstype} at {mnt}); SQLite's WAL "
               f"mode needs local shared memory and can corrupt or lock there. Fix: put the store on a local "
               f"disk (--store /var/lib/runbook/history.sqlite3 or RUNBOOK_STORE)")
        if not allow_network:
            raise StoreError(msg + f", or set {ALLOW_NETWORK_ENV}=1 to accept the risk.")
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    if "ro" in opts and for_write:
        raise StoreError(f"the history store {path} is on a read-only file system ({mnt}). Fix: choose a "
                         f"writable path with --store PATH or RUNBOOK_STORE.")


def _writable_or_raise(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the history store {path}: {exc.strerror}. Fix: choose a "
                         f"writable path with --store PATH or RUNBOOK_STORE.") from None
    probe_targets = [parent] + [p for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")) if p.exists()]
    for p in probe_targets:
        if not os.access(p, os.W_OK):
            raise StoreError(f"the history store {path} is read-only ({p} is not writable by this user). "
                             f"Fix: choose a writable path with --store PATH or RUNBOOK_STORE, or fix its "
                             f"permissions (the folder must be writable too: SQLite keeps -wal/-shm files "
                             f"beside the store).")


# ---------------------------------------------------------------- schema and migrations
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


# (version, migration); append new versions, never edit an applied one.
MIGRATIONS: list[tuple[int, Any]] = [(1, _migrate_v1)]


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


# ---------------------------------------------------------------- the store
def _ts_seconds(ts: Any) -> int:
    if isinstance(ts, (int, float)):
        return int(ts)
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return int(t.timestamp())


def _to_utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.astype("int64"), unit="s", utc=True)


class Store:
    """An open history store; use ``open_store()``. Not shared between threads."""

    def __init__(self, path: Path, con: sqlite3.Connection, thresholds: Thresholds,
                 raw_retention_days: float, interval_retention_days: float):
        self.path = path
        self.con = con
        self.thresholds = thresholds
        self.raw_retention_days = raw_retention_days
        self.interval_retention_days = interval_retention_days
        self._service_ids: dict[tuple[str, str], int] = {}
        self._error_ids: dict[str, int] = {}
        self._images: dict[int, str] = {}
        self._last_prune_hour: int | None = None

    # ---- lifecycle
    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        try:
            self.con.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def version(self) -> int:
        return schema_version(self.con)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        return str(self.con.execute("PRAGMA integrity_check").fetchone()[0])

    # ---- ids
    def _service_id(self, project: str, service: str, ts: int) -> int:
        key = (project or "", service)
        sid = self._service_ids.get(key)
        if sid is None:
            self.con.execute("INSERT OR IGNORE INTO services (project, service, first_ts) VALUES (?, ?, ?)",
                             (key[0], key[1], ts))
            sid = int(self.con.execute("SELECT id FROM services WHERE project=? AND service=?", key).fetchone()[0])
            self._service_ids[key] = sid
        return sid

    def _error_id(self, text: str | None) -> int | None:
        if not isinstance(text, str) or not text:
            return None
        eid = self._error_ids.get(text)
        if eid is None:
            masked = redact.mask_text(text)[:500]  # nothing secret enters the store
            self.con.execute("INSERT OR IGNORE INTO errors (text) VALUES (?)", (masked,))
            eid = int(self.con.execute("SELECT id FROM errors WHERE text=?", (masked,)).fetchone()[0])
            if len(self._error_ids) < 10000:
                self._error_ids[text] = eid
        return eid

    # ---- writing
    def write_round(self, ts: Any, inventory_frame: pd.DataFrame | None, probe_rows: pd.DataFrame | None = None,
                    *, interval_s: float = 60.0, engine_ok: bool | None = None, project: str | None = None,
                    notes: Iterable[str] = ()) -> int:
        """Record one round (inventory + probe rows) taken at ``ts``; return samples written.

        ``inventory_frame=None`` means the engine could not be asked: services seen before get
        an UNKNOWN sample (lost coverage, never down) unless a probe says otherwise. Compose
        services seen before whose container has vanished are recorded as stopped.
        """
        states = combine_round(inventory_frame, probe_rows)
        if engine_ok is None:
            engine_ok = inventory_frame is not None
        return self.write_states(ts, states, interval_s=interval_s, engine_ok=engine_ok, project=project,
                                 notes=notes, mark_missing=True)

    def write_states(self, ts: Any, states: pd.DataFrame, *, interval_s: float = 60.0, engine_ok: bool = True,
                     project: str | None = None, notes: Iterable[str] = (), mark_missing: bool = False) -> int:
        """Record per-service raw states (``combine_round`` shape) for one round, atomically.

        ``mark_missing``: the round lists every container (of ``project``), so services seen
        before and absent now are recorded (unknown when the engine failed, else stopped).
        """
        t = _ts_seconds(ts)
        rows = states.to_dict("records") if isinstance(states, pd.DataFrame) else list(states)
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            seen: set[int] = set()
            items: list[tuple[int, int, float | None, str | None, float | None]] = []
            for r in rows:
                sid = self._service_id(str(r.get("project") or ""), str(r["service"]), t)
                seen.add(sid)
                image = r.get("image")
                if isinstance(image, str) and image and self._images.get(sid) != image:
                    con.execute("UPDATE services SET image=? WHERE id=?", (redact.mask_identifier(str(image)), sid))
                    self._images[sid] = image
                started = r.get("started_ts")
                started = None if started is None or _isnan(started) else float(started)
                items.append((sid, int(r["raw"]), r.get("latency_ms"), r.get("error"), started))
            # services seen before but absent from this round
            q = "SELECT id, project FROM services"
            args: tuple = ()
            if project is not None:
                q += " WHERE project=?"
                args = (project,)
            for sid, proj in (con.execute(q, args).fetchall() if mark_missing else []):
                if sid in seen:
                    continue
                if not engine_ok:
                    items.append((sid, UNKNOWN, None, "engine unreachable: no container state", None))
                elif proj:
                    items.append((sid, STOPPED, None, "no container for this service", None))
            if items:
                self._apply(con, t, items, float(interval_s))
            con.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?, ?)",
                        (t, float(interval_s), len(items), int(bool(engine_ok)),
                         json.dumps([redact.mask_text(n) for n in notes]) if notes else None))
            self._maybe_prune(con, t)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return len(items)

    def _apply(self, con: sqlite3.Connection, t: int, items: list, interval_s: float) -> None:
        ids = [i[0] for i in items]
        marks = ",".join("?" * len(ids))
        st = {r[0]: r for r in con.execute(
            f"SELECT service_id, eff, fails, oks, start_ts, stopped, last_ts, interval_id FROM service_state "
            f"WHERE service_id IN ({marks})", ids)}
        open_iv = {}
        iv_ids = [r[7] for r in st.values() if r[7] is not None]
        if iv_ids:
            for r in con.execute(f"SELECT id, state, end_ts FROM intervals WHERE id IN ({','.join('?' * len(iv_ids))})",
                                 iv_ids):
                open_iv[r[0]] = r
        tol = 0.5 * interval_s
        span = max(1, int(round(interval_s)))
        sample_rows, state_rows, extend, cut = [], [], [], []
        for sid, raw, lat, err, started in items:
            s = st.get(sid)
            d = Debounce() if s is None else Debounce(s[1], s[2], s[3], s[4], bool(s[5]))
            last_ts = None if s is None else s[6]
            iv_id = None if s is None else s[7]
            eid = self._error_id(err)
            if last_ts is not None and t <= last_ts:
                # late or duplicate sample from another writer: keep the raw sample, leave the runs alone
                con.execute("INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                            (t, sid, raw, UNKNOWN, _lat_us(lat), eid))
                continue
            eff = step(d, raw, float(t), self.thresholds, None if started is None else float(started))
            sample_rows.append((t, sid, raw, eff, _lat_us(lat), eid))
            iv = open_iv.get(iv_id) if iv_id is not None else None
            if iv is not None and iv[1] == eff and t <= iv[2] + tol:
                extend.append((t + span, iv_id))
            else:
                if iv is not None and t < iv[2]:
                    cut.append((t, iv_id))
                cur = con.execute("INSERT INTO intervals (service_id, state, start_ts, end_ts, n, first_error_id) "
                                  "VALUES (?, ?, ?, ?, 1, ?)", (sid, eff, t, t + span, eid))
                iv_id = cur.lastrowid
            state_rows.append((sid, d.eff, d.fails, d.oks, d.start_ts, int(d.stopped), t, iv_id))
        con.executemany("UPDATE intervals SET end_ts=?, n=n+1 WHERE id=?", extend)
        con.executemany("UPDATE intervals SET end_ts=? WHERE id=?", cut)
        con.executemany("INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?, ?, ?)", sample_rows)
        con.executemany("INSERT OR REPLACE INTO service_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)", state_rows)

    def _maybe_prune(self, con: sqlite3.Connection, t: int) -> None:
        hour = t // 3600
        if self._last_prune_hour == hour:
            return
        self._last_prune_hour = hour
        self._roll_up_latency(con, hour * 3600)
        con.execute("DELETE FROM samples WHERE ts < ?", (t - int(self.raw_retention_days * 86400),))
        con.execute("DELETE FROM latency_hourly WHERE hour_ts < ?", (t - int(self.interval_retention_days * 86400),))
        con.execute("DELETE FROM intervals WHERE end_ts < ? AND id NOT IN "
                    "(SELECT interval_id FROM service_state WHERE interval_id IS NOT NULL)",
                    (t - int(self.interval_retention_days * 86400),))
        con.execute("DELETE FROM rounds WHERE ts < ?", (t - int(self.interval_retention_days * 86400),))

    def _roll_up_latency(self, con: sqlite3.Connection, hour_start: int) -> None:
        """Latency p50/p95/p99/max per service per closed hour (kept after raw samples expire)."""
        row = con.execute("SELECT value FROM meta WHERE key='latency_rolled_to'").fetchone()
        lo = int(row[0]) if row else 0
        if lo >= hour_start:
            return
        data = con.execute("SELECT service_id, ts / 3600 * 3600, latency_us FROM samples WHERE ts >= ? AND ts < ? "
                           "AND latency_us IS NOT NULL", (lo, hour_start)).fetchall()
        if data:
            df = pd.DataFrame(data, columns=["sid", "hour", "us"])
            g = df.groupby(["sid", "hour"])["us"]
            q = g.quantile([0.5, 0.95, 0.99]).unstack()
            agg = pd.DataFrame({"n": g.size(), "p50": q[0.5], "p95": q[0.95], "p99": q[0.99], "max": g.max()})
            con.executemany("INSERT OR REPLACE INTO latency_hourly VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(int(k[0]), int(k[1]), int(r.n), int(r.p50), int(r.p95), int(r.p99), int(r.max))
                             for k, r in zip(agg.index, agg.itertuples())])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('latency_rolled_to', ?)", (str(hour_start),))

    # ---- reading (frames)
    def services(self) -> pd.DataFrame:
        """Every service ever seen: service_id, project, service, image, first_seen."""
        df = pd.read_sql_query("SELECT id AS service_id, project, service, image, first_ts FROM services "
                               "ORDER BY project, service", self.con)
        df["first_seen"] = _to_utc(df.pop("first_ts").fillna(0))
        return df

    def intervals(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                  project: str | None = None) -> pd.DataFrame:
        """Effective-state runs overlapping [since, until): service, project, state, start, end, n_samples,
        first_error (unclipped; ``uptime`` clips)."""
        lo = _ts_seconds(since) if since is not None else 0
        hi = _ts_seconds(until) if until is not None else 2**62
        cur = self.con.execute(
            "SELECT i.service_id, i.state, i.start_ts, i.end_ts, i.n, i.first_error_id FROM intervals i "
            "WHERE i.end_ts > ? AND i.start_ts < ? ORDER BY i.service_id, i.start_ts", (lo, hi))
        data = cur.fetchall()
        df = pd.DataFrame(data, columns=["service_id", "state", "start_ts", "end_ts", "n_samples", "error_id"])
        return self._decorate(df, services, {"start_ts": "start", "end_ts": "end"}, project)

    def samples(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                project: str | None = None) -> pd.DataFrame:
        """Raw samples in [since, until) (within the raw retention): ts, project, service, raw_state, state
        (effective), latency_ms, error."""
        lo = _ts_seconds(since) if since is not None else 0
        hi = _ts_seconds(until) if until is not None else 2**62
        data = self.con.execute("SELECT ts, service_id, raw, eff, latency_us, error_id FROM samples "
                                "WHERE ts >= ? AND ts < ? ORDER BY ts, service_id", (lo, hi)).fetchall()
        df = pd.DataFrame(data, columns=["ts", "service_id", "raw_state", "state", "latency_us", "error_id"])
        df["latency_ms"] = df.pop("latency_us").astype("float64") / 1000.0
        return self._decorate(df, services, {"ts": "ts"}, project)

    def latency_stats(self, since: Any = None, until: Any = None, project: str | None = None) -> pd.DataFrame:
        """Per-service latency p50/p95/p99 (ms) and sample count over the window.

        Exact from raw samples when the window lies within the raw retention (``source`` "raw");
        otherwise from hourly roll-ups, each percentile the sample-weighted median of the
        hourly ones (``source`` "hourly", an approximation).
        """
        lo = _ts_seconds(since) if since is not None else 0
        hi = _ts_seconds(until) if until is not None else 2**62
        oldest = self.con.execute("SELECT MIN(ts) FROM samples").fetchone()[0]
        cols = ["service_id", "p50_ms", "p95_ms", "p99_ms", "samples", "source"]
        if oldest is not None and (since is None or lo >= oldest - 60):
            data = self.con.execute("SELECT service_id, latency_us FROM samples WHERE ts >= ? AND ts < ? AND "
                                    "latency_us IS NOT NULL", (lo, hi)).fetchall()
            df = pd.DataFrame(data, columns=["service_id", "latency_us"])
            df["latency_ms"] = df.pop("latency_us").astype("float64") / 1000.0
            g = df.groupby("service_id")["latency_ms"]
            out = pd.DataFrame({"p50_ms": g.quantile(0.5), "p95_ms": g.quantile(0.95), "p99_ms": g.quantile(0.99),
                                "samples": g.size()}).reset_index()
            out["source"] = "raw"
        else:
            data = self.con.execute("SELECT service_id, n, p50_us, p95_us, p99_us FROM latency_hourly WHERE "
                                    "hour_ts >= ? AND hour_ts < ?", (lo // 3600 * 3600, hi)).fetchall()
            df = pd.DataFrame(data, columns=["service_id", "n", "p50", "p95", "p99"])
            rows = []
            for sid, g in df.groupby("service_id"):
                w = g["n"].to_numpy(dtype="float64")
                rows.append({"service_id": sid, **{f"{p}_ms": _weighted_median(g[p].to_numpy(), w) / 1000.0
                                                   for p in ("p50", "p95", "p99")},
                             "samples": int(w.sum()), "source": "hourly"})
            out = pd.DataFrame(rows, columns=cols)
        return self._decorate(out[cols], None, {}, project)

    def rounds(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """Collection rounds: ts, interval_s, services, engine_ok, notes."""
        lo = _ts_seconds(since) if since is not None else 0
        hi = _ts_seconds(until) if until is not None else 2**62
        df = pd.read_sql_query("SELECT ts, interval_s, services, engine_ok, notes FROM rounds WHERE ts >= ? AND "
                               "ts < ? ORDER BY ts", self.con, params=(lo, hi))
        df["ts"] = _to_utc(df["ts"])
        df["engine_ok"] = df["engine_ok"].astype(bool)
        return df

    def _decorate(self, df: pd.DataFrame, services: Iterable[str] | None, times: dict[str, str],
                  project: str | None = None) -> pd.DataFrame:
        svc = dict(((r[0]), (r[1], r[2])) for r in self.con.execute("SELECT id, project, service FROM services"))
        ids = df["service_id"].astype("int64") if len(df) else df["service_id"]
        df.insert(0, "project", [svc.get(int(i), ("", "?"))[0] for i in ids])
        df.insert(1, "service", [svc.get(int(i), ("", "?"))[1] for i in ids])
        for col in ("state", "raw_state"):
            if col in df.columns:
                df[col] = df[col].map(STATE_NAMES).fillna("unknown").astype(object)
        if "error_id" in df.columns:
            errs = {}
            wanted = sorted({int(e) for e in df["error_id"].dropna()})
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start:chunk_start + 500]
                errs.update(dict(self.con.execute(
                    f"SELECT id, text FROM errors WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()))
            name = "first_error" if "n_samples" in df.columns else "error"
            df[name] = [errs.get(int(e)) if e == e and e is not None else None for e in df.pop("error_id")]
        for src, dst in times.items():
            df[dst] = _to_utc(df.pop(src)) if len(df) else pd.Series(dtype="datetime64[ns, UTC]")
        if services is not None:
            wanted_s = set(services)
            df = df[df["service"].isin(wanted_s)]
        if project is not None:
            df = df[df["project"] == project]
        return df.drop(columns=["service_id"]).reset_index(drop=True)


def _weighted_median(values: Any, weights: Any) -> float:
    order = np.argsort(values)
    v, w = np.asarray(values, dtype="float64")[order], np.asarray(weights, dtype="float64")[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, cum[-1] / 2.0)]) if len(v) else float("nan")


def _lat_us(lat: Any) -> int | None:
    if lat is None or _isnan(lat):
        return None
    return int(round(float(lat) * 1000.0))


def open_store(path: str | os.PathLike | None = None, *, thresholds: Thresholds | None = None,
               busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, synchronous: str | None = None,
               raw_retention_days: float = DEFAULT_RAW_RETENTION_DAYS,
               interval_retention_days: float = DEFAULT_INTERVAL_RETENTION_DAYS,
               mounts_text: str | None = None, readonly: bool = False) -> Store:
    """Open (creating and migrating) the history store at --store PATH / RUNBOOK_STORE / the default.

    Raises StoreError for read-only locations, network file systems and newer schemas.
    ``readonly=True`` opens an existing store for reading only (reports).
    """
    if busy_timeout_s < 5:
        raise StoreError("busy_timeout_s must be at least 5 s so a collector and a notebook can share the store.")
    p = resolve_path(path)
    check_location(p, mounts_text, for_write=not readonly)
    if readonly:
        if not p.exists():
            raise StoreError(f"no history store at {p}. Fix: run `runbook collect` first, or pass --store / "
                             f"RUNBOOK_STORE pointing at an existing store.")
        con = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=busy_timeout_s, isolation_level=None,
                              check_same_thread=False)
    else:
        _writable_or_raise(p)
        try:
            con = sqlite3.connect(str(p), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the history store {p}: {exc}. Fix: check the path (--store) and its "
                             f"permissions.") from None
    try:
        con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        if not readonly:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the history store {p} cannot use WAL mode (got {mode}). Fix: put it on a local "
                                 f"disk with --store PATH.")
            sync = (synchronous or os.environ.get(SYNC_ENV) or "NORMAL").upper()
            if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
                raise StoreError(f"unknown synchronous mode {sync!r} (from {SYNC_ENV}?). Fix: use NORMAL or FULL.")
            con.execute(f"PRAGMA synchronous = {sync}")
            con.execute("PRAGMA foreign_keys = OFF")
            migrate(con)
        elif schema_version(con) > SCHEMA_VERSION:
            raise StoreError(f"the history store {p} was written by a newer runbook. Fix: upgrade runbook.")
    except sqlite3.OperationalError as exc:
        con.close()
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"the history store {p} is read-only ({text}). Fix: choose a writable path with "
                             f"--store PATH or RUNBOOK_STORE.") from None
        raise StoreError(f"cannot use the history store {p}: {text}. Fix: check the file (another program may "
                         f"hold it) or choose another path with --store.") from None
    except BaseException:
        con.close()
        raise
    return Store(p, con, thresholds or Thresholds(), raw_retention_days, interval_retention_days)
