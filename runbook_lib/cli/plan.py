"""`runbook plan [--apply [--resume]]`: the recovery plan that follows the diagnosis, dry-run unless --apply."""
from __future__ import annotations

import json
import sys
from typing import Any

from runbook_lib import redact, stack as gather_stack
from runbook_lib.analysis.plan import plan_stack
from runbook_lib.cli.hostargs import named_hosts
from runbook_lib.cli.verify import fresh_verifier
from runbook_lib.engine.actions import apply_plan, format_plan, resume_confirmed
from runbook_lib.engine.audit import AuditLog


def _gather(args, apply: bool) -> gather_stack.Stack:
    return gather_stack.gather(args.engine_url, project=args.project, compose_files=args.compose,
                               config=args.config, profiles=getattr(args, "profile", None) or None,
                               engine_timeout_s=max(float(args.engine_timeout), 30.0 if apply else 0.0))


def _verifier(args, project: str | None):
    """verify(service): a fresh diagnosis of the stack; the fix took when the service has no root cause."""
    return fresh_verifier(lambda: _gather(args, True), project)


def _local_host(args):
    """The one default engine as a named host (``local``), for the Swarm path."""
    from runbook_lib.engine.connection import resolve_engine  # noqa: PLC0415 - cli defers imports
    from runbook_lib.engine.hosts import parse_host  # noqa: PLC0415
    return parse_host(f"local={args.engine_url or resolve_engine(None).url}")


def cmd_plan(args) -> int:
    """`runbook plan`: print the plan (dry-run, default); `--apply` executes it, audited;
    `--apply --resume` goes on past the fix step the last run stopped at and checks it took."""
    if getattr(args, "stack", None):
        # imported here, not at the top: only --stack pays for the Swarm and multi-host layers (cli defers imports)
        from runbook_lib.cli.hosts import plan_swarm_stack  # noqa: PLC0415
        return plan_swarm_stack(args, named_hosts(args) or [_local_host(args)])
    hosts = named_hosts(args)
    if hosts:
        from runbook_lib.cli.plan_hosts import plan_hosts  # noqa: PLC0415 - cli defers imports
        return plan_hosts(args, hosts)
    resume = bool(getattr(args, "resume", False))
    stack = _gather(args, bool(args.apply))
    client = stack.require_engine()
    planned = plan_stack(stack, budget_s=args.budget)
    catalog, plan, project = planned.catalog, planned.plan, planned.project
    as_json = bool(args.json)
    result: dict[str, Any] = {
        "project": project, "files": stack.compose_files, "dry_run": not args.apply,
        "root_causes": planned.root_causes,
        "plan": json.loads(plan.to_json(orient="records")),
    }
    if not as_json:
        print(f"Recovery plan for project {project or '?'} ({', '.join(stack.compose_files)})")
        print(format_plan(plan, project))
    audit = AuditLog(args.audit_log)
    if not args.apply:
        # the dry-run goes through the same guarded path: audited (dry_run=true), no mutating call
        apply_plan(client, plan, catalog, audit, budget_s=args.budget, progress=None, dry_run=True)
        result["audit_log"] = str(audit.path)
        if as_json:
            print(json.dumps(redact.mask_obj(result), indent=2, default=str))
        else:
            print(f"\nDry-run: nothing was changed (recorded in {audit.path}). "
                  "Run `runbook plan --apply` to execute, audited.")
        return 0
    # imported here, not at the top: only --apply reads the maintenance windows (croniter; cli defers imports)
    from runbook_lib.maintenance.windows import refuse_in_window  # noqa: PLC0415
    refuse_in_window(plan["service"].dropna().astype(str) if "service" in plan else [], project, stack.config)
    confirmed: list[str] = []
    if resume:
        confirmed = resume_confirmed(plan, audit)
        result["confirmed"] = confirmed
        if not as_json:
            print(f"\nResuming: the fix of {', '.join(confirmed) or 'nothing'} is taken as made; "
                  f"it is checked with a fresh diagnosis once the service is back.")
    log = apply_plan(client, plan, catalog, audit, budget_s=args.budget,
                     progress=(lambda m: print(m, file=sys.stderr)) if as_json else print,
                     confirmed=confirmed, verify=_verifier(args, project) if confirmed else None)
    result["applied"] = json.loads(log.to_json(orient="records", date_format="iso"))
    result["status"] = log.attrs["status"]
    result["stopped_at"] = log.attrs["stopped_at"]
    result.update({k: log.attrs[k] for k in ("ran", "skipped", "unchecked")})
    result["not_touched"] = log.attrs["not_run"]
    result["audit_log"] = str(audit.path)
    if as_json:
        print(json.dumps(redact.mask_obj(result), indent=2, default=str))
    else:
        print(f"Audit log: {audit.path}")
    return 1 if log.attrs["status"] == "stopped" else 0
