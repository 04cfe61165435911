"""SQLite's failures as the store's own errors, and opening a store for reading in a read-only folder.

- ``corrupt`` / ``guarded``: a damaged file can pass ``PRAGMA quick_check`` at open and
  still fail later, deep in a query; every query and write of the store goes through
  ``guarded``, so any ``sqlite3.DatabaseError`` becomes ``StoreCorrupt`` (a report marks
  itself degraded, the command line prints one line and exits 2), and an
  ``OperationalError`` (locked, disk full, I/O) becomes ``StoreError``.
- ``open_readonly``: a store in WAL mode needs its ``-shm`` file, which a read-only folder
  cannot hold. Without a ``-wal`` the file is read as it is (``immutable=1``). With one,
  rows may still be only in the ``-wal`` (not yet checkpointed), which ``immutable``
  ignores: the ``-wal`` then the file are copied into a private temporary folder and the
  copy is opened (SQLite rebuilds the ``-shm`` there); the copy is removed on close.
"""
from __future__ import annotations

import functools
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from runbook_lib.exceptions import StoreCorrupt, StoreError

F = TypeVar("F", bound=Callable[..., Any])


def corrupt(p: Path, exc: BaseException) -> StoreCorrupt:
    """The clear error of a damaged store file."""
    return StoreCorrupt(f"the history store {p} is damaged or is not a runbook store ({exc}). Fix: move it aside "
                        f"(`mv {p} {p}.damaged`) and let `runbook collect` start a new one, or pass another "
                        f"--store.")


def store_error(p: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """``StoreCorrupt`` for damage, ``StoreError`` for an operational failure (locked, I/O, disk full)."""
    if isinstance(exc, sqlite3.OperationalError):
        return StoreError(f"cannot use the history store {p}: {exc}. Fix: check the file and its disk (another "
                          f"program may hold it) or choose another path with --store.")
    return corrupt(p, exc)


def guarded(method: F) -> F:
    """A store method whose ``sqlite3.DatabaseError`` becomes the store's own error (``self.path``)."""
    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:  # pandas wraps SQLite's in its own
            cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.DatabaseError) else exc
            if not isinstance(cause, sqlite3.DatabaseError):
                cause = sqlite3.DatabaseError(str(exc))
            raise store_error(getattr(self, "path", Path("?")), cause) from None
    return wrapper  # type: ignore[return-value]


def _connect(uri: str, busy_timeout_s: float) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)


def _first_read(con: sqlite3.Connection, p: Path, unreadable: str) -> None:
    """Read the schema once; close and raise the store's error if that fails."""
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        con.close()
        if not isinstance(exc, sqlite3.OperationalError):
            raise corrupt(p, exc) from None
        raise StoreError(f"cannot read the history store {p}: {exc}. Fix: {unreadable}") from None


def _private_copy(p: Path) -> Path:
    """Copy the -wal, then the file, into a new private folder (wal first: a checkpoint in between
    leaves the copied file newer, never older than the copied wal); return the copy's path."""
    folder = Path(tempfile.mkdtemp(prefix="runbook-store-ro-"))
    try:
        shutil.copyfile(f"{p}-wal", folder / f"{p.name}-wal")
        shutil.copyfile(p, folder / p.name)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(f"cannot read the history store {p} from its read-only folder: copying it with its "
                         f"-wal failed ({exc.strerror}). Fix: free space in {tempfile.gettempdir()} (TMPDIR), "
                         f"or make the folder writable.") from None
    return folder / p.name


def open_readonly(p: Path, busy_timeout_s: float) -> tuple[sqlite3.Connection, Path | None]:
    """A read-only connection to the store and the private folder to remove on close (or None)."""
    uri = f"file:{urllib.parse.quote(str(p))}"
    con = _connect(f"{uri}?mode=ro", busy_timeout_s)
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return con, None
    except sqlite3.DatabaseError as exc:
        con.close()
        if not isinstance(exc, sqlite3.OperationalError):
            raise corrupt(p, exc) from None
        if "unable to open" not in str(exc):
            raise StoreError(f"cannot use the history store {p}: {exc}. Fix: check the file (another program "
                             f"may hold it) or choose another path with --store.") from None
    # a read-only folder: no -shm can be made beside the store
    wal = Path(f"{p}-wal")
    if wal.exists() and wal.stat().st_size > 0:  # rows may be only in the -wal: read a private copy
        copy = _private_copy(p)
        con = _connect(f"file:{urllib.parse.quote(str(copy))}", busy_timeout_s)
        try:
            _first_read(con, p, f"check that {tempfile.gettempdir()} (TMPDIR) is usable, or pass another --store.")
        except BaseException:
            shutil.rmtree(copy.parent, ignore_errors=True)
            raise
        return con, copy.parent
    # nothing waits in a -wal: the file is read as it is (immutable: no locks, no -shm)
    con = _connect(f"{uri}?mode=ro&immutable=1", busy_timeout_s)
    _first_read(con, p, "check that this user may read it (and its folder), or pass another --store.")
    return con, None
