"""`runbook plan --host NAME=URL ...` for compose projects: one recovery plan per host, dry-run unless --apply.

Each host's stack is gathered (compose files from its containers' labels, or --compose) and
planned on its own. Every step names its host, every command carries it
(``docker --host URL ...``, the URL masked), --apply acts on that host's engine through the
same allow-list (``engine.actions.apply_plan``: compose steps run with DOCKER_HOST set to
that engine), and the audit log records the host in every record. ``--apply --resume`` goes on
past the fix step each host's last run stopped at (read from that host's audit records) and
checks with a fresh diagnosis of that host that the fix took. An unreachable host, or one whose
project cannot be planned, is reported with the reason and the others go on.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis.plan import plan_stack
from runbook_lib.cli.hosts import gather_named, print_hosts
from runbook_lib.cli.verify import fresh_verifier
from runbook_lib.engine.actions import apply_plan, format_plan, resume_confirmed
from runbook_lib.engine.hosts import HostAudit, HostSpec
from runbook_lib.exceptions import RunbookError
from runbook_lib.maintenance.windows import refuse_in_window


def host_command(command: Any, spec: HostSpec) -> Any:
    """``docker ...`` -> ``docker --host URL ...`` (URL masked); anything else unchanged."""
    if isinstance(command, str) and command.startswith("docker "):
        return f"docker --host {spec.display_url} {command[len('docker '):]}"
    return command


def host_plan(plan: pd.DataFrame, spec: HostSpec) -> pd.DataFrame:
    """The plan with a ``host`` column first and every command naming the host."""
    out = plan.copy()
    out.attrs = dict(plan.attrs)
    if "command" in out.columns:
        out["command"] = [host_command(c, spec) for c in out["command"]]
    out.insert(0, "host", spec.name)
    return out


def _plan_one(args, spec: HostSpec, st: Any, say) -> tuple[dict[str, Any], int]:
    """Plan (and with --apply run) one host's project; (JSON entry, exit status)."""
    planned = plan_stack(st, budget_s=args.budget)
    plan = host_plan(planned.plan, spec)
    entry: dict[str, Any] = {"url": spec.display_url, "project": planned.project, "files": st.compose_files,
                             "root_causes": planned.root_causes,
                             "plan": json.loads(plan.to_json(orient="records"))}
    say(f"\n== host {spec.name} ({spec.display_url}): recovery plan for project {planned.project or '?'}")
    say(format_plan(plan.drop(columns=["host"]), planned.project))
    files = list(st.compose_files)
    if spec.uses_tls and args.apply:
        # compose's own TLS settings are not carried over: its steps stay manual on this host
        files = []
        entry["note"] = ("compose steps on a TLS engine are manual: run them with DOCKER_HOST, DOCKER_TLS_VERIFY=1 "
                         "and DOCKER_CERT_PATH set for this engine")
    audit = HostAudit(spec.name, args.audit_log, url=spec.display_url)
    if args.apply:
        refuse_in_window(plan["service"].dropna().astype(str) if "service" in plan else [], planned.project,
                         st.config)
    confirmed: list[str] = []
    if args.apply and getattr(args, "resume", False):  # the fix this host's last run stopped at (its audit)
        confirmed = entry["confirmed"] = resume_confirmed(plan, audit, host=spec.name)
        say(f"Resuming on host {spec.name}: the fix of {', '.join(confirmed) or 'nothing'} is taken as made; "
            f"it is checked with a fresh diagnosis of this host once the service is back.")
    verify = fresh_verifier(lambda: gather_named(args, [spec]).stacks[spec.name], planned.project)
    log = apply_plan(st.client, plan, planned.catalog, audit, budget_s=args.budget,
                     progress=say if args.apply else None, dry_run=not args.apply, compose_files=files,
                     confirmed=confirmed, verify=verify if confirmed else None)
    entry.update(status=log.attrs["status"], stopped_at=log.attrs["stopped_at"], audit_log=str(audit.path),
                 applied=json.loads(log.to_json(orient="records", date_format="iso")))
    return entry, 1 if log.attrs["status"] == "stopped" and args.apply else 0


def plan_hosts(args, hosts: list[HostSpec]) -> int:
    """`runbook plan --host ...`: a plan per host (dry-run by default, audited); exit 1 when an --apply stopped."""
    multi = gather_named(args, hosts)
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result: dict[str, Any] = {"dry_run": not args.apply, "hosts": {}}
    status = 0
    if not args.json:
        print_hosts(multi)
    for spec in multi.hosts:
        st = multi.stacks[spec.name]
        if st.client is None:
            reason = redact.mask_text(str(st.engine_error))
            result["hosts"][spec.name] = {"url": spec.display_url, "status": "unknown", "error": reason}
            say(f"\n== host {spec.name}: unknown ({reason})")
            continue
        try:
            entry, code = _plan_one(args, spec, st, say)
        except RunbookError as exc:  # this host cannot be planned (no compose files here, a window): say why
            reason = redact.mask_text(str(exc))
            result["hosts"][spec.name] = {"url": spec.display_url, "status": "not planned", "error": reason}
            say(f"\n== host {spec.name}: not planned: {reason}")
            continue
        status = max(status, code)
        result["hosts"][spec.name] = entry
    if args.json:
        print(json.dumps(redact.mask_obj(result), indent=2, default=str))
    elif not args.apply:
        print("\nDry-run: nothing was changed (recorded in the audit log). Run with --apply to execute, audited.")
    return status
