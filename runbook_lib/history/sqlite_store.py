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
- ``errors``: masked error texts, stored once; ``rounds``: one row per collection round and
  collector (keyed by ts and the engine hosts it covered: collectors never overwrite each other);
- ``events``: the engine's container events (die, oom, kill, …) read each round, masked,
  kept as long as raw samples (``sqlite_events``).

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
import os
import shutil
import sqlite3
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.exceptions import StoreError
from runbook_lib.history.combine import combine_round, isnan
from runbook_lib.history.debounce import STOPPED, UNKNOWN, Debounce, Thresholds, step
from runbook_lib.history.interface import HistoryStore
from runbook_lib.history.sqlite_events import SqliteEvents, immediate
from runbook_lib.history.sqlite_guard import corrupt, guarded, open_readonly
from runbook_lib.history.sqlite_queries import SqliteQueries, ts_seconds
from runbook_lib.history.sqlite_schema import SCHEMA_VERSION, migrate, schema_version

ALLOW_NETWORK_ENV = "RUNBOOK_STORE_ALLOW_NETWORK"
SYNC_ENV = "RUNBOOK_STORE_SYNC"  # NORMAL (default: safe against killed processes) or FULL (also power cuts)
DEFAULT_BUSY_TIMEOUT_S = 10.0
DEFAULT_RAW_RETENTION_DAYS = 3.0
DEFAULT_INTERVAL_RETENTION_DAYS = 400.0
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "sshfs", "9p", "afs",
                        "glusterfs", "fuse.glusterfs", "ceph", "fuse.ceph", "fuse.s3fs", "fuse.rclone",
                        "davfs", "fuse.davfs2", "lustre", "gpfs", "ncpfs", "coda"})


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


class SqliteStore(SqliteEvents, SqliteQueries, HistoryStore):
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
        self.private_dir: Path | None = None  # the private copy read instead of a read-only folder's store

    # ---- lifecycle
    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        try:
            self.con.close()
        except sqlite3.Error:
            pass
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)
            self.private_dir = None

    @property
    @guarded
    def version(self) -> int:
        return schema_version(self.con)

    @guarded
    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        return str(self.con.execute("PRAGMA integrity_check").fetchone()[0])

    # ---- ids
    def _service_id(self, project: str, service: str, ts: int, host: str = "") -> int:
        key = (host or "", project or "", service)
        sid = self._service_ids.get(key)
        if sid is None:
            self.con.execute("INSERT OR IGNORE INTO services (host, project, service, first_ts) VALUES (?, ?, ?, ?)",
                             (*key, ts))
            sid = int(self.con.execute("SELECT id FROM services WHERE host=? AND project=? AND service=?",
                                       key).fetchone()[0])
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
    @guarded
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

    @guarded
    def write_states(self, ts: Any, states: pd.DataFrame, *, interval_s: float = 60.0, engine_ok: bool = True,
                     project: str | None = None, notes: Iterable[str] = (), mark_missing: bool = False) -> int:
        """Record per-service raw states (``combine_round`` shape) for one round, atomically.

        ``mark_missing``: the round lists every container (of ``project``), so services seen
        before and absent now are recorded (unknown when the engine failed, else stopped).
        """
        t = ts_seconds(ts)
        rows = states.to_dict("records") if isinstance(states, pd.DataFrame) else list(states)
        with immediate(self.con) as con:
            seen: set[int] = set()
            items: list[tuple[int, int, float | None, str | None, float | None]] = []
            for r in rows:
                sid = self._service_id(str(r.get("project") or ""), str(r["service"]), t, str(r.get("host") or ""))
                seen.add(sid)
                image = r.get("image")
                if isinstance(image, str) and image and self._images.get(sid) != image:
                    con.execute("UPDATE services SET image=? WHERE id=?", (redact.mask_identifier(str(image)), sid))
                    self._images[sid] = image
                started = r.get("started_ts")
                started = None if started is None or isnan(started) else float(started)
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
            # the collector: the engine hosts this round covers ('' = the one default engine)
            collector = ",".join(sorted({str(r.get("host") or "") for r in rows} - {""}))
            con.execute("INSERT OR REPLACE INTO rounds (ts, collector, interval_s, services, engine_ok, notes) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (t, collector, float(interval_s), len(items), int(bool(engine_ok)),
                         json.dumps([redact.mask_text(n) for n in notes]) if notes else None))
            self._maybe_prune(con, t)
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
        self._prune_events(con, t)
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


def _lat_us(lat: Any) -> int | None:
    if lat is None or isnan(lat):
        return None
    return int(round(float(lat) * 1000.0))


def open_sqlite(p: Path, *, thresholds: Thresholds | None = None,
                busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, synchronous: str | None = None,
                raw_retention_days: float = DEFAULT_RAW_RETENTION_DAYS,
                interval_retention_days: float = DEFAULT_INTERVAL_RETENTION_DAYS,
                mounts_text: str | None = None, readonly: bool = False) -> SqliteStore:
    """Open (creating and migrating) the SQLite history store at ``p`` (see ``store.open_store``).

    Raises StoreError for read-only locations, network file systems and newer schemas.
    ``readonly=True`` opens an existing store for reading only (reports).
    """
    if busy_timeout_s < 5:
        raise StoreError("busy_timeout_s must be at least 5 s so a collector and a notebook can share the store.")
    check_location(p, mounts_text, for_write=not readonly)
    private_dir: Path | None = None  # a read-only folder's store with a -wal is read from a private copy
    if readonly:
        if not p.exists():
            raise StoreError(f"no history store at {p}. Fix: run `runbook collect` first, or pass --store / "
                             f"RUNBOOK_STORE pointing at an existing store.")
        con, private_dir = open_readonly(p, busy_timeout_s)
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
        _check_pages(con, p)
    except sqlite3.OperationalError as exc:
        con.close()
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"the history store {p} is read-only ({text}). Fix: choose a writable path with "
                             f"--store PATH or RUNBOOK_STORE.") from None
        raise StoreError(f"cannot use the history store {p}: {text}. Fix: check the file (another program may "
                         f"hold it) or choose another path with --store.") from None
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT / SQLITE_NOTADB: random bytes, a truncated file
        con.close()
        raise corrupt(p, exc) from None
    except BaseException:
        con.close()
        raise
    finally:
        if private_dir is not None and not _is_open(con):
            shutil.rmtree(private_dir, ignore_errors=True)
    store = SqliteStore(p, con, thresholds or Thresholds(), raw_retention_days, interval_retention_days)
    store.private_dir = private_dir
    return store


def _is_open(con: sqlite3.Connection) -> bool:
    try:
        con.execute("SELECT 1")
        return True
    except sqlite3.ProgrammingError:
        return False


def _check_pages(con: sqlite3.Connection, p: Path) -> None:
    """Refuse a truncated or damaged file up front (``PRAGMA quick_check``: one pass, no index comparison)."""
    result = con.execute("PRAGMA quick_check(1)").fetchone()
    if result and str(result[0]).lower() != "ok":
        raise corrupt(p, sqlite3.DatabaseError(str(result[0])))
