"""Maintenance windows: manual ones in a small JSON file (audited), recurring ones from runbook.yaml.

Manual: ``runbook maintenance start --service X [--host H] --for 30m --reason "…"`` writes a
window to ``RUNBOOK_MAINTENANCE_DB`` (default ``maintenance.json`` in the user data folder);
``stop`` ends it early. Every change is an audit-log event. Recurring, in runbook.yaml::

    maintenance:
      - service: [db, cache]      # or one name; "*" for every service
        cron: "0 3 * * SUN"       # when each window starts (croniter syntax, UTC)
        duration: 30m
        reason: weekly vacuum
        host: prod-1              # optional; project: optional

A window frame has WINDOW_COLUMNS; ``carve`` relabels the parts of state runs inside a window
as "maintenance", which uptime leaves out of the measured time and reports on its own.
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from croniter import croniter

from runbook_lib import redact
from runbook_lib.config import load_config
from runbook_lib.engine.audit import AuditLog, _user
from runbook_lib.exceptions import ConfigError, RunbookError

ENV_VAR = "RUNBOOK_MAINTENANCE_DB"
WINDOW_COLUMNS = ["id", "service", "project", "host", "start", "end", "reason", "user", "source"]
MAINTENANCE = "maintenance"
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_s(text: Any) -> float:
    """'90s', '30m', '2h', '1d' -> seconds; ConfigError otherwise."""
    s = str(text).strip().lower()
    try:
        return float(s[:-1]) * _UNITS_S[s[-1]] if s and s[-1] in _UNITS_S else float(s)
    except ValueError:
        raise ConfigError(f"maintenance duration {text!r} is not a duration. Fix: write 30m, 2h or 1d.") from None


def default_path() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook" / "maintenance.json"


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


class MaintenanceDB:
    """Manual windows in one JSON file (rewritten atomically); every change audited."""

    def __init__(self, path: str | os.PathLike | None = None, audit: AuditLog | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        self.audit = audit

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        try:
            return list(json.loads(self.path.read_text(encoding="utf-8")).get("windows", []))
        except (OSError, ValueError) as exc:
            raise RunbookError(f"maintenance file {self.path} cannot be read ({exc}). "
                               f"Fix: repair or move it (set {ENV_VAR} to use another file).") from None

    def _write(self, windows: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"windows": windows}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def _audit(self, action: str, target: str, params: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.event(action, target, "ok", params=params)

    def start(self, services: Iterable[str], *, duration: Any = "30m", reason: str, host: str | None = None,
              project: str | None = None, now: pd.Timestamp | None = None) -> pd.DataFrame:
        """Open one window per service from now for ``duration``; returns them."""
        if not str(reason or "").strip():
            raise ConfigError("a maintenance window needs a --reason (it shows in alerts, uptime and the audit log).")
        t0 = now or _now()
        t1 = t0 + pd.Timedelta(seconds=duration_s(duration))
        windows = self._read()
        new = []
        for svc in services:
            w = {"id": uuid.uuid4().hex[:8], "service": svc, "project": project, "host": host,
                 "start": t0.isoformat(), "end": t1.isoformat(), "reason": redact.mask_text(reason),
                 "user": _user(), "source": "manual"}
            windows.append(w)
            new.append(w)
            self._audit("maintenance.start", svc, {k: w[k] for k in ("id", "host", "project", "start", "end", "reason")})
        self._write(windows)
        return _frame(new)

    def stop(self, services: Iterable[str] = (), *, all_windows: bool = False,
             now: pd.Timestamp | None = None) -> pd.DataFrame:
        """End the open windows of ``services`` (every open one with ``all_windows``); returns them."""
        t = now or _now()
        wanted = set(services)
        windows = self._read()
        ended = []
        for w in windows:
            open_ = pd.Timestamp(w["start"]) <= t < pd.Timestamp(w["end"])
            if open_ and (all_windows or w["service"] in wanted):
                w["end"] = t.isoformat()
                ended.append(w)
                self._audit("maintenance.stop", w["service"], {"id": w["id"], "end": w["end"]})
        self._write(windows)
        return _frame(ended)

    def windows(self) -> pd.DataFrame:
        """Every manual window (past, open, future)."""
        return _frame(self._read())


def recurring_windows(entries: Iterable[Mapping[str, Any]], start: pd.Timestamp, end: pd.Timestamp,
                      source: str = "runbook.yaml") -> pd.DataFrame:
    """The occurrences of the config's recurring windows that overlap [start, end)."""
    rows: list[dict[str, Any]] = []
    for i, e in enumerate(entries or []):
        if not isinstance(e, Mapping) or not e.get("cron") or not e.get("service"):
            raise ConfigError(f"{source}: maintenance[{i}] needs 'service', 'cron' and 'duration' "
                              '(e.g. {service: db, cron: "0 3 * * SUN", duration: 30m, reason: vacuum}).')
        if not croniter.is_valid(str(e["cron"])):
            raise ConfigError(f"{source}: maintenance[{i}].cron {e['cron']!r} is not a cron expression "
                              '(five fields: minute hour day month weekday, e.g. "0 3 * * SUN").')
        length = pd.Timedelta(seconds=duration_s(e.get("duration", "30m")))
        services = e["service"] if isinstance(e["service"], list) else [e["service"]]
        it = croniter(str(e["cron"]), (start - length).to_pydatetime())
        while True:
            t0 = pd.Timestamp(it.get_next(float), unit="s", tz="UTC")
            if t0 >= end:
                break
            for svc in services:
                rows.append({"id": f"cron{i}", "service": str(svc), "project": e.get("project"), "host": e.get("host"),
                             "start": t0, "end": t0 + length, "reason": str(e.get("reason") or "recurring"),
                             "user": "", "source": "recurring"})
    return _frame(rows)


def windows_frame(db: MaintenanceDB | None = None, config: Any = None, start: pd.Timestamp | None = None,
                  end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Manual and recurring windows overlapping [start, end) (default: the last 30 days to a day ahead)."""
    end = end if end is not None else _now() + pd.Timedelta(days=1)
    start = start if start is not None else end - pd.Timedelta(days=31)
    parts = [recurring_windows(getattr(config, "maintenance", None) or [], start, end,
                               getattr(config, "path", None) or "runbook.yaml")]
    if db is not None:
        manual = db.windows()
        parts.append(manual[(manual["end"] > start) & (manual["start"] < end)])
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else _frame([])


def _applies(w: Mapping[str, Any], project: str | None, service: str, host: str | None) -> bool:
    return (w["service"] in ("*", service) and (not w.get("project") or not project or w["project"] == project)
            and (not w.get("host") or not host or w["host"] == host))


def active_windows(windows: pd.DataFrame, project: str | None, service: str, ts: pd.Timestamp,
                   host: str | None = None) -> pd.DataFrame:
    """The windows covering ``service`` at ``ts``."""
    if windows is None or windows.empty:
        return windows if windows is not None else _frame([])
    host = host or socket.gethostname()
    mask = [(r["start"] <= ts < r["end"]) and _applies(r, project, service, host) for r in windows.to_dict("records")]
    return windows[mask]


def in_window(windows: pd.DataFrame, project: str | None, service: str, ts: pd.Timestamp,
              host: str | None = None) -> bool:
    """True when ``service`` is in a maintenance window at ``ts``."""
    return not active_windows(windows, project, service, ts, host).empty


def carve(intervals: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Split state runs at window edges and relabel the parts inside a window as "maintenance"."""
    if intervals is None or intervals.empty or windows is None or windows.empty:
        return intervals
    out: list[dict[str, Any]] = []
    for r in intervals.to_dict("records"):
        pieces = [(r["start"], r["end"], r["state"])]
        for w in windows.to_dict("records"):
            if not _applies(w, r.get("project"), r["service"], r.get("host") or None):
                continue
            nxt = []
            for a, b, st in pieces:
                lo, hi = max(a, w["start"]), min(b, w["end"])
                if st == MAINTENANCE or lo >= hi:
                    nxt.append((a, b, st))
                    continue
                nxt += [p for p in ((a, lo, st), (lo, hi, MAINTENANCE), (hi, b, st)) if p[0] < p[1]]
            pieces = nxt
        out += [{**r, "start": a, "end": b, "state": st} for a, b, st in pieces]
    return pd.DataFrame(out, columns=intervals.columns)


def refuse_in_window(services: Iterable[str], project: str | None, config: Any = None,
                     db: MaintenanceDB | None = None, now: pd.Timestamp | None = None) -> None:
    """Raise when any of ``services`` is in a maintenance window now (plan --apply must not touch it)."""
    t = now or _now()
    windows = windows_frame(db or MaintenanceDB(), config, t - pd.Timedelta(days=1), t + pd.Timedelta(seconds=1))
    hits = sorted({s for s in services if in_window(windows, project, s, t)})
    if hits:
        raise RunbookError(f"{', '.join(hits)} in a maintenance window: plan --apply refuses to touch them. "
                           "Fix: wait for the window to end or run `runbook maintenance stop --service NAME`.")


def windows_for(config_path: str | None, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Manual and recurring windows overlapping [start, end), for reports (never raises: empty on a fault)."""
    try:
        return windows_frame(MaintenanceDB(), load_config(config_path), start, end)
    except Exception:  # noqa: BLE001 - a broken maintenance file must not break a report
        return _frame([])
