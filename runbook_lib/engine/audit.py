"""The audit log (``engine.audit_log``: append-only JSON lines, written and fsync'ed before the
Docker call) and ``read_audit``, the log as a frame."""
from __future__ import annotations

import os

import pandas as pd

from runbook_lib.engine.audit_log import ENV_VAR, FIELDS, AuditLog, _user, default_path, read_audit_rows

__all__ = ["ENV_VAR", "FIELDS", "AuditLog", "_user", "default_path", "read_audit", "read_audit_rows"]


def read_audit(path: str | os.PathLike | None = None, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """The audit log as a frame (ts as UTC Timestamps); a torn last line is skipped."""
    df = pd.DataFrame(read_audit_rows(path), columns=FIELDS)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, errors="coerce")
    if since is not None and len(df):
        df = df[df["ts"] >= since].reset_index(drop=True)
    return df
