"""Sub-commands of issue 13: `notify test`, `maintenance start|stop|list`, `incidents`.

Kept beside parser.py so the main parser stays short; imports nothing heavy (`--help` stays fast).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

ArgsFunc = Callable[[argparse.ArgumentParser], None]


def add_alert_commands(sub, compose_args: ArgsFunc, engine_args: ArgsFunc) -> None:
    """Add the notify, maintenance and incidents commands to the sub-parser set."""
    p = sub.add_parser("notify", help="notifications: send a test message to every configured URL")
    nsub = p.add_subparsers(dest="notify_command", metavar="ACTION")
    c = nsub.add_parser("test", help="send a test message to every URL (--notify, RUNBOOK_NOTIFY, runbook.yaml)")
    c.add_argument("--notify", action="append", default=[], metavar="URL", help="apprise URL (repeat)")
    c.add_argument("--config", default=None, metavar="FILE", help="runbook.yaml (default: RUNBOOK_CONFIG, ./runbook.yaml)")
    c.set_defaults(func="runbook_lib.cli.notify:cmd_notify_test")

    p = sub.add_parser("maintenance", help="maintenance windows: no alerts, no plan --apply, excluded from uptime")
    msub = p.add_subparsers(dest="maintenance_command", metavar="ACTION")
    c = msub.add_parser("start", help="start a window for a service")
    c.add_argument("--service", required=True, action="append", metavar="NAME", help="service (repeat)")
    c.add_argument("--host", default=None, metavar="HOST", help="only on this host (default: any)")
    c.add_argument("--project", default=None, metavar="NAME", help="only in this compose project (default: any)")
    c.add_argument("--for", dest="duration", default="30m", metavar="DURATION", help="how long: 30m, 2h (default 30m)")
    c.add_argument("--reason", required=True, help="why (shown in alerts, uptime and the audit log)")
    c.set_defaults(func="runbook_lib.cli.notify:cmd_maintenance_start")
    c = msub.add_parser("stop", help="end the open window(s) of a service (all with --all)")
    c.add_argument("--service", action="append", default=[], metavar="NAME")
    c.add_argument("--all", action="store_true", help="end every open window")
    c.set_defaults(func="runbook_lib.cli.notify:cmd_maintenance_stop")
    c = msub.add_parser("list", help="open, planned and recurring windows")
    c.add_argument("--config", default=None, metavar="FILE")
    c.add_argument("--all", action="store_true", help="include ended windows")
    c.set_defaults(func="runbook_lib.cli.notify:cmd_maintenance_list")
    for c in msub.choices.values():
        c.add_argument("--db", default=None, metavar="PATH", help="maintenance file (default: RUNBOOK_MAINTENANCE_DB)")
        c.add_argument("--audit-log", default=None, metavar="FILE")

    p = sub.add_parser("incidents", help="list incident IDs with their times (from the alerts database)")
    p.add_argument("--alerts-db", default=None, metavar="PATH", help="default: RUNBOOK_ALERTS_DB or beside the store")
    p.add_argument("--store", default=None, metavar="PATH")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func="runbook_lib.cli.notify:cmd_incidents")
