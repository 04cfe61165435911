"""The `runbook` argument parser: one sub-command per task, handlers named "module:function".

Handlers live in the cli command modules and are imported only when their command runs,
so `runbook --help` never imports pandas, docker or plotly.
"""
from __future__ import annotations

import argparse
from typing import NoReturn

from runbook_lib import __version__
from runbook_lib.cli.validate import count, days, every, seconds, store_location, time_or_age


class _Parser(argparse.ArgumentParser):
    """argparse, with every refusal on ONE line of stderr (exit status 2): the message and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
from runbook_lib.cli.parser_alerts import add_alert_commands


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine-url", default=None,
                   help="Docker engine URL (default: DOCKER_HOST, the active context, the local socket)")
    p.add_argument("--engine-timeout", type=seconds(example="5"), default=5.0, metavar="S",
                   help="connect/read timeout for engine calls in seconds (default 5, at most a week)")


def _compose_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compose", "-f", action="append", default=[], metavar="FILE",
                   help="compose file (repeat for overrides); default: from the running containers' labels")
    p.add_argument("--project", default=None, help="compose project name")
    p.add_argument("--config", default=None, metavar="FILE", help="runbook config file (runbook.yaml)")


# --- several engines (issue 12): one helper, applied to every engine command at the end of build_parser ---
HOST_COMMANDS = ("plan", "probe", "diagnose", "collect", "catalog", "lint")


def _host_args(sub: argparse._SubParsersAction) -> None:
    """`--host NAME=URL` (repeatable) on the engine commands; `--stack NAME` on plan (a Swarm stack)."""
    for name in HOST_COMMANDS:
        p = sub.choices[name]
        p.add_argument("--host", action="append", default=[], metavar="NAME=URL",
                       help="a named engine (repeat; unix://, tcp://, ssh://, a Docker context name); "
                            "default: RUNBOOK_HOSTS, hosts: in runbook.yaml, else the one engine")
    sub.choices["plan"].add_argument("--stack", default=None, metavar="NAME",
                                     help="recover a Swarm stack on the manager(s) instead of a compose project")
# --- end several engines ---


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="runbook", description="Operations runbook for Docker service stacks.")
    parser.add_argument("--version", action="version", version=f"runbook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("report", help="execute a report notebook into dated outputs (ipynb, html, json)")
    p.add_argument("name", help="notebook name in notebooks/ (health_check, recovery_plan, uptime_report, recovery_report, investigate)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="notebook parameter (value read as YAML: 7d, true, [a, b])")
    p.add_argument("--output-dir", default=None, help="reports folder (default: ./outputs)")
    p.add_argument("--shared-plotly", action="store_true",
                   help="write plotly.js once under the output folder instead of embedding it in each report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="runbook_lib.cli.report:cmd_report")

    p = sub.add_parser("demo", help="start or remove the demo stack (compose project 'demo')")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--project", default="demo", help="compose project name (default: demo)")
    p.add_argument("--port-base", type=count(1024, 64000, example="18000"), default=18000, metavar="N",
                   help="host ports are 127.0.0.1:N+offset (default 18000: 18432 postgres, 18400 api-gateway, ...)")
    _engine_args(p)
    p.set_defaults(func="runbook_lib.cli.demo:cmd_demo")

    p = sub.add_parser("plan", help="print the dependency-ordered recovery plan (dry-run); --apply executes it")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--apply", action="store_true", help="execute the plan on the engine (audited)")
    p.add_argument("--resume", action="store_true",
                   help="with --apply: the fix the last run stopped at is made; go on and check that it took")
    p.add_argument("--profile", action="append", default=[], metavar="NAME",
                   help="enable a compose profile (repeat; default: COMPOSE_PROFILES)")
    p.add_argument("--budget", type=seconds(example="120"), default=None, metavar="S",
                   help="seconds to wait for each service to come up (default: from its healthcheck)")
    p.add_argument("--audit-log", default=None, metavar="FILE", help="audit log path")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func="runbook_lib.cli.plan:cmd_plan")

    p = sub.add_parser("catalog", help="load and validate the compose files; print one row per service")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--profile", action="append", default=[], metavar="NAME",
                   help="enable a compose profile (repeat; default: COMPOSE_PROFILES)")
    p.add_argument("--json", action="store_true", help="print the summary and the masked catalog as JSON")
    p.set_defaults(func="runbook_lib.cli.compose:cmd_catalog")

    p = sub.add_parser("probe", help="run one round of health probes and print the rows")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.add_argument("--timeout", type=seconds(example="3"), default=None, metavar="S", help="per-probe timeout")
    p.set_defaults(func="runbook_lib.cli.probe:cmd_probe")

    p = sub.add_parser("collect", help="sample the stack every interval into the history store")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--interval", type=seconds(1.0, inclusive_low=True, example="60"), default=60.0, metavar="S",
                   help="seconds between rounds (default 60, at least 1)")
    p.add_argument("--count", type=count(), default=None, metavar="N", help="stop after N rounds")
    p.add_argument("--store", type=store_location, default=None, metavar="PATH",
                   help="store path or URL (sqlite:///PATH, postgresql://...; default: RUNBOOK_STORE or the user data folder)")
    p.add_argument("--notify", action="append", default=[], metavar="URL",
                   help="apprise URL to notify on state changes (repeat; also RUNBOOK_NOTIFY, notify: in runbook.yaml)")
    p.set_defaults(func="runbook_lib.cli.history:cmd_collect")
    add_alert_commands(sub, _compose_args, _engine_args)

    p = sub.add_parser("export", help="write raw samples and incidents (parquet or csv)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("--since", type=time_or_age, default=None, help="ISO time or age (default 30d)")
    p.add_argument("--until", type=time_or_age, default=None, help="ISO time or age (default now)")
    p.add_argument("--store", type=store_location, default=None, metavar="PATH")
    p.add_argument("--output-dir", default=".", metavar="DIR")
    p.set_defaults(func="runbook_lib.cli.history:cmd_export")

    p = sub.add_parser("diagnose", help="find causes and fixes for what is down")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--json", action="store_true", help='print {"findings": [...]}')
    p.add_argument("--all", action="store_true", help="gather evidence for healthy containers too")
    p.set_defaults(func="runbook_lib.cli.diagnose:cmd_diagnose")

    p = sub.add_parser("lint", help="check the compose files for outage-prone configuration (with fixes)")
    _compose_args(p)
    _engine_args(p)
    p.add_argument("--profile", action="append", default=[], metavar="NAME",
                   help="enable a compose profile (repeat; default: COMPOSE_PROFILES)")
    p.add_argument("--min-severity", choices=["critical", "high", "medium", "low"], default="low",
                   help="hide findings below this severity (default: low, i.e. show all)")
    p.add_argument("--json", action="store_true", help='print {"findings": [...]}')
    p.set_defaults(func="runbook_lib.cli.compose:cmd_lint")

    p = sub.add_parser("reports", help="manage the report site")
    rsub = p.add_subparsers(dest="reports_command", metavar="ACTION")
    c = rsub.add_parser("clean", help="remove old reports only (never anything else)")
    c.add_argument("--keep-days", type=days(), default=None, metavar="N")
    c.add_argument("--keep-last", type=count(0), default=None, metavar="M")
    c.add_argument("--output-dir", default=None)
    c.add_argument("--dry-run", action="store_true")
    c.set_defaults(func="runbook_lib.cli.report:cmd_reports_clean")
    c = rsub.add_parser("index", help="rebuild outputs/index.html")
    c.add_argument("--output-dir", default=None)
    c.set_defaults(func="runbook_lib.cli.report:cmd_reports_index")

    p = sub.add_parser("schedule", help="print (or --install) a systemd timer or cron line")
    p.add_argument("--every", type=every, default="1h", help="interval: 15m, 1h, 1d")
    p.add_argument("--report", default=None, help="report notebook to run")
    p.add_argument("--collect", action="store_true", help="schedule the collector instead")
    p.add_argument("--cron", action="store_true", help="print a cron line instead of systemd units")
    p.add_argument("--install", action="store_true", help="write the units (or crontab entry)")
    p.add_argument("--timeout", type=count(1, 7 * 86400, example="3000"), default=None, metavar="S",
                   help="longest a run may take (default: 90%% of the interval, at most 6 h)")
    p.add_argument("--unit-dir", default=None, metavar="DIR",
                   help="where --install writes units (default: /etc/systemd/system as root, else ~/.config/systemd/user)")
    p.add_argument("--workdir", default=None, metavar="DIR", help="working folder of the runs (default: the current one)")
    p.set_defaults(func="runbook_lib.cli.report:cmd_schedule")
    _host_args(sub)
    return parser
