"""Open the history store: ``open_store(path_or_url)``, and where it lives by default.

A path (or ``sqlite:///path``) opens the SQLite store (``sqlite_store``); ``postgresql://…``
the PostgreSQL store (``postgres_store``); other URL schemes are refused.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_lib.exceptions import StoreError
from runbook_lib.history.interface import HistoryStore
from runbook_lib.history.postgres_store import SCHEMES as POSTGRES_SCHEMES, open_postgres
from runbook_lib.history.sqlite_store import open_sqlite

ENV_VAR = "RUNBOOK_STORE"
SQLITE_PREFIX = "sqlite:///"


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


def open_store(path: str | os.PathLike | None = None, **options: Any) -> HistoryStore:
    """Open (creating and migrating) the store at --store PATH_OR_URL / RUNBOOK_STORE / the default.

    ``options`` go to the backend (SQLite: thresholds, busy_timeout_s, synchronous,
    raw_retention_days, interval_retention_days, mounts_text, readonly). Raises
    ``StoreError`` for unusable locations and unknown URL schemes.
    """
    text = str(path) if path is not None else os.environ.get(ENV_VAR) or None
    if text and text.startswith(POSTGRES_SCHEMES):
        return open_postgres(text, **options)
    if text and text.startswith(SQLITE_PREFIX):
        path = text[len(SQLITE_PREFIX):]  # sqlite:///relative or sqlite:////absolute (SQLAlchemy form)
    elif text and "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(f"no history store backend for {scheme}:// URLs. Fix: pass a file path "
                         f"(or sqlite:///PATH) with --store or RUNBOOK_STORE.")
    return open_sqlite(resolve_path(path), **options)
