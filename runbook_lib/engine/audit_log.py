"""Append-only audit log of actions: JSON lines, written and fsync'ed before the Docker call.

Each step gets a ``started`` record before anything is done and an ``outcome`` record
after, so a process killed mid-action still leaves the committed ``started`` record.
Fields: ts (UTC, ISO 8601), id, phase, user, host, pid, action, target, params
(masked with ``redact.mask_obj``), dry_run, outcome, detail (masked).

The file is opened with O_APPEND (never truncated, never rewritten), mode 0600.
Default path: ``RUNBOOK_AUDIT_LOG``, else ``$XDG_DATA_HOME/runbook/audit.log``
(``~/.local/share/runbook/audit.log``); ``--audit-log`` overrides both.

No pandas here (the dry-run of `runbook plan` writes it); ``engine.audit`` adds ``read_audit``,
the log as a frame, built from ``read_audit_rows``.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib import redact
from runbook_lib.exceptions import RunbookError

ENV_VAR = "RUNBOOK_AUDIT_LOG"
FIELDS = ["ts", "id", "phase", "user", "host", "pid", "action", "target", "params", "dry_run", "outcome", "detail"]


def default_path() -> Path:
    """RUNBOOK_AUDIT_LOG, else the user's data folder (XDG)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook" / "audit.log"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


class AuditLog:
    """One append-only JSON-lines file; every record of a real action is fsync'ed before the call
    returns. Dry-run records are appended the same way but not fsync'ed: nothing was executed, so
    there is no action to write ahead of (a dry-run of 96 steps spent 0.8–1.8 s in 192 fsyncs)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunbookError(f"Cannot create the audit log folder {self.path.parent}: {exc}. "
                               f"Pass --audit-log FILE or set {ENV_VAR} to a writable path.") from None
        self.user = _user()
        self.host = socket.gethostname()

    def _write(self, record: dict[str, Any]) -> None:
        durable = not record.get("dry_run")
        line = (json.dumps(record, default=str, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise RunbookError(f"Cannot open the audit log {self.path}: {exc}. Nothing was executed. "
                               f"Pass --audit-log FILE or set {ENV_VAR} to a writable path.") from None
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _record(self, phase: str, step_id: str, action: str, target: str | None, params: Any,
                dry_run: bool, outcome: str | None, detail: Any) -> dict[str, Any]:
        return {
            "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "id": step_id,
            "phase": phase,
            "user": self.user,
            "host": self.host,
            "pid": os.getpid(),
            "action": str(action),
            "target": redact.mask_identifier(target) if target else target,
            "params": redact.mask_obj(params or {}),
            "dry_run": bool(dry_run),
            "outcome": outcome,
            "detail": redact.mask_text(str(detail)) if detail not in (None, "") else None,
        }

    def started(self, action: str, target: str | None, params: Any = None, dry_run: bool = False) -> str:
        """Commit a 'started' record (fsync'ed) and return its id; call BEFORE acting."""
        step_id = uuid.uuid4().hex[:12]
        self._write(self._record("started", step_id, action, target, params, dry_run, None, None))
        return step_id

    def outcome(self, step_id: str, action: str, target: str | None, outcome: str, detail: Any = None,
                params: Any = None, dry_run: bool = False) -> None:
        """Commit the outcome of a step: ok, failed, refused, manual, timeout …"""
        self._write(self._record("outcome", step_id, action, target, params, dry_run, outcome, detail))

    def event(self, action: str, target: str | None, outcome: str, detail: Any = None, params: Any = None,
              dry_run: bool = False) -> str:
        """A single record (started and outcome at once) for something not executed (refused, skipped)."""
        step_id = uuid.uuid4().hex[:12]
        self._write(self._record("event", step_id, action, target, params, dry_run, outcome, detail))
        return step_id


def read_audit_rows(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The audit log's records as dicts, in file order; a torn last line is skipped."""
    p = Path(path).expanduser() if path else default_path()
    rows = []
    if p.exists():
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    return rows
