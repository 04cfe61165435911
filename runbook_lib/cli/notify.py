"""`runbook notify test`, `runbook maintenance start|stop|list`, `runbook incidents`, and the collector's notifier."""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import pandas as pd

from runbook_lib.alerts import notifier_from_config
from runbook_lib.alerts.early import WarningSource
from runbook_lib.alerts.notify import Notifier, diagnose_func
from runbook_lib.alerts.outbox import AlertsDB
from runbook_lib.alerts.outbox import default_path as alerts_db_path
from runbook_lib.config import load_config
from runbook_lib.engine.audit import AuditLog
from runbook_lib.history.store import resolve_path
from runbook_lib.maintenance import MaintenanceDB, in_window, windows_frame


def build_notifier(args: Any, config: Any, store_path: Any, engine_timeout_s: float = 5.0) -> Notifier | None:
    """The collector's notifier from --notify, RUNBOOK_NOTIFY and runbook.yaml (None when no URL is set)."""
    mdb = MaintenanceDB()

    def suppressed(project: str, service: str, ts: pd.Timestamp, host: str | None = None) -> bool:
        """A window for this service (on this engine host; None: the one default engine, this machine)."""
        return in_window(windows_frame(mdb, config, ts - pd.Timedelta(days=1), ts + pd.Timedelta(seconds=1)),
                         project, service, ts, host)

    return notifier_from_config(getattr(args, "notify", None) or [], config, store_path=store_path,
                                suppressed=suppressed,
                                diagnose=diagnose_func(args.engine_url, project=args.project,
                                                       compose_files=list(args.compose or []), config=config,
                                                       engine_timeout_s=engine_timeout_s),
                                report_link=os.environ.get("RUNBOOK_REPORT_URL"),
                                warn_func=WarningSource(args.engine_url, args.project, engine_timeout_s))


def cmd_notify_test(args) -> int:
    """``runbook notify test [--notify URL]...``: one test message to every configured URL."""
    config = load_config(args.config)
    n = notifier_from_config(args.notify, config, db_path=":memory:")
    if n is None:
        print("runbook notify test: no notification URL configured (use --notify URL, RUNBOOK_NOTIFY or "
              "notify: in runbook.yaml).", file=sys.stderr)
        return 2
    results = n.test()
    for shown, ok, err in results:
        print(f"{'sent' if ok else 'FAILED':6} {shown}" + (f"  ({err})" if err else ""))
    return 0 if all(ok for _, ok, _ in results) else 1


def _mdb(args: Any) -> MaintenanceDB:
    return MaintenanceDB(args.db, audit=AuditLog(args.audit_log))


def _print_windows(df: pd.DataFrame) -> None:
    if df.empty:
        print("no maintenance windows")
        return
    show = df[["id", "service", "host", "start", "end", "source", "reason"]].copy()
    print(show.to_string(index=False))


def cmd_maintenance_start(args) -> int:
    _print_windows(_mdb(args).start(args.service, duration=args.duration, reason=args.reason, host=args.host,
                                    project=args.project))
    return 0


def cmd_maintenance_stop(args) -> int:
    if not args.service and not args.all:
        print("runbook maintenance stop: name --service NAME (repeat) or --all", file=sys.stderr)
        return 2
    _print_windows(_mdb(args).stop(args.service, all_windows=args.all))
    return 0


def cmd_maintenance_list(args) -> int:
    df = windows_frame(_mdb(args), load_config(args.config))
    if not args.all:
        df = df[df["end"] > pd.Timestamp.now(tz="UTC")]
    _print_windows(df.sort_values("start"))
    return 0


def cmd_incidents(args) -> int:
    """``runbook incidents``: incident IDs with their times, newest first."""
    path = args.alerts_db or alerts_db_path(resolve_path(args.store))
    if not os.path.exists(path):
        print(f"no incidents recorded yet ({path} does not exist: run `runbook collect --notify URL`)")
        return 0
    db = AlertsDB(path)
    try:
        df = db.incidents()
        hosts = ["host"] if (df["host"] != "").any() else []  # the engine host, when any incident names one
        df = df[["id", *hosts, "service", "state", "opened_at", "first_alert_at", "closed_at", "root_cause"]]
    finally:
        db.close()
    if args.json:
        print(json.dumps(json.loads(df.to_json(orient="records", date_format="iso")), indent=1))
    else:
        print(df.to_string(index=False) if len(df) else "no incidents recorded yet")
    return 0
