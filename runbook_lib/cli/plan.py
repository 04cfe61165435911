"""`runbook plan [--apply]`: the dependency-ordered recovery plan, dry-run unless --apply."""
from __future__ import annotations

import json
import sys
from typing import Any

from runbook_lib import redact, stack as gather_stack
from runbook_lib.analysis.plan import plan_stack
from runbook_lib.engine.actions import apply_plan, format_plan
from runbook_lib.engine.audit import AuditLog
from runbook_lib.maintenance.windows import refuse_in_window


def cmd_plan(args) -> int:
    """`runbook plan`: print the plan (dry-run, default); `--apply` executes it, audited."""
    stack = gather_stack.gather(args.engine_url, project=args.project, compose_files=args.compose,
                                config=args.config,
                                engine_timeout_s=max(float(args.engine_timeout), 30.0 if args.apply else 0.0))
    client = stack.require_engine()
    planned = plan_stack(stack, budget_s=args.budget)
    catalog, status, plan, project = planned.catalog, planned.status, planned.plan, planned.project
    as_json = bool(args.json)
    result: dict[str, Any] = {
        "project": project, "files": stack.compose_files, "dry_run": not args.apply,
        "root_causes": sorted(status.loc[status["root_cause"], "service"]),
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
    refuse_in_window(plan["service"].dropna().astype(str) if "service" in plan else [], project, stack.config)
    log = apply_plan(client, plan, catalog, audit, budget_s=args.budget,
                     progress=(lambda m: print(m, file=sys.stderr)) if as_json else print)
    result["applied"] = json.loads(log.to_json(orient="records", date_format="iso"))
    result["status"] = log.attrs["status"]
    result["stopped_at"] = log.attrs["stopped_at"]
    result["audit_log"] = str(audit.path)
    if as_json:
        print(json.dumps(redact.mask_obj(result), indent=2, default=str))
    else:
        print(f"Audit log: {audit.path}")
    return 1 if log.attrs["status"] == "stopped" else 0
