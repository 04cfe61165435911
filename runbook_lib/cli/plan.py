"""`runbook plan [--apply [--resume]]`: the recovery plan that follows the diagnosis, dry-run unless --apply.

The plan is made over records (``analysis.plan_records``); the dry-run (text and --json) prints
and audits it over those rows (``engine.plan_run``), without pandas. ``--apply`` runs the same
plan as a frame through ``engine.actions.apply_plan``.
"""
from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from runbook_lib import redact, stack as gather_stack
from runbook_lib.analysis.diagnosis_records import DiagnosisRecords, inventory_rows, run_diagnosis_records
from runbook_lib.analysis.expected_records import expected_vs_actual_records
from runbook_lib.analysis.plan_records import PlanRecords, plan_diagnosis
from runbook_lib.cli.hostargs import named_hosts
from runbook_lib.engine.audit_log import AuditLog
from runbook_lib.engine.plan_run import compose_binary, format_plan_rows, run_plan


def _gather(args, apply: bool) -> gather_stack.Stack:
    return gather_stack.gather(args.engine_url, project=args.project, compose_files=args.compose,
                               config=args.config, profiles=getattr(args, "profile", None) or None,
                               engine_timeout_s=max(float(args.engine_timeout), 30.0 if apply else 0.0))


def diagnosis_records(stack: gather_stack.Stack) -> DiagnosisRecords:
    """The stack's diagnosis as records (findings, status, catalog: lists of dicts; project, compose_files).

    Without an engine the status still lists every catalog service (nothing is known to run).
    """
    catalog = stack.require_catalog()
    diag = run_diagnosis_records(stack)
    if diag.status is None:
        diag.status = expected_vs_actual_records(list(catalog.rows), inventory_rows(stack), project=stack.project)
    return diag


def _compose_binary_soon() -> Callable[[], list[str] | None]:
    """``compose_binary()`` looked up in a thread while the stack is gathered and diagnosed (it runs
    `docker compose version`, 10-70 ms of waiting); the returned function waits for its answer."""
    found: list[list[str] | None] = []
    thread = threading.Thread(target=lambda: found.append(compose_binary()), name="compose-binary", daemon=True)
    thread.start()

    def result() -> list[str] | None:
        thread.join()
        return found[0] if found else None
    return result


def _verifier(args, project: str | None):
    """verify(service): a fresh diagnosis of the stack; the fix took when the service has no root cause."""
    # imported here, not at the top: only --apply --resume verifies (a fresh frame diagnosis; cli defers imports)
    from runbook_lib.cli.verify import fresh_verifier  # noqa: PLC0415
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
    binary = _compose_binary_soon()
    stack = _gather(args, bool(args.apply))
    stack.require_engine()  # no engine: the error says how to reach one, before anything is planned
    plan = plan_diagnosis(diagnosis_records(stack), budget_s=args.budget)
    catalog, project = stack.require_catalog(), stack.project
    as_json = bool(args.json)
    result: dict[str, Any] = {
        "project": project, "files": stack.compose_files, "dry_run": not args.apply,
        "root_causes": list(plan.root_causes or []),
        "plan": plan.rows,
    }
    if not as_json:
        print(f"Recovery plan for project {project or '?'} ({', '.join(stack.compose_files)})")
        print(format_plan_rows(plan.rows, project, columns=plan.columns))
    audit = AuditLog(args.audit_log)
    if not args.apply:
        # the dry-run goes through the same guarded path: audited (dry_run=true), no engine call at all
        run_plan(plan.rows, plan.attrs, catalog, audit, budget_s=args.budget, progress=None, dry_run=True,
                 compose=binary())
        result["audit_log"] = str(audit.path)
        if as_json:
            print(json.dumps(redact.mask_obj(result), indent=2, default=str))
        else:
            print(f"\nDry-run: nothing was changed (recorded in {audit.path}). "
                  "Run `runbook plan --apply` to execute, audited.")
        return 0
    return _apply(args, stack, plan, audit, result, binary())


def _apply(args, stack: gather_stack.Stack, planned: PlanRecords, audit: AuditLog, result: dict[str, Any],
           compose: list[str] | None) -> int:
    """`--apply [--resume]`: the plan as a frame through ``actions.apply_plan`` (maintenance windows first)."""
    # imported here, not at the top: only --apply runs the plan on the engine and reads the maintenance
    # windows (pandas, the docker SDK, croniter; cli defers imports)
    from runbook_lib.analysis.plan import plan_frame  # noqa: PLC0415
    from runbook_lib.engine.actions import apply_plan, resume_confirmed  # noqa: PLC0415
    from runbook_lib.maintenance.windows import refuse_in_window  # noqa: PLC0415
    client, catalog = stack.require_engine(), stack.require_catalog()
    plan, project, as_json = plan_frame(planned), planned.project, bool(args.json)
    refuse_in_window(plan["service"].dropna().astype(str) if "service" in plan else [], project, stack.config)
    confirmed: list[str] = []
    if bool(getattr(args, "resume", False)):
        confirmed = resume_confirmed(plan, audit)
        result["confirmed"] = confirmed
        if not as_json:
            print(f"\nResuming: the fix of {', '.join(confirmed) or 'nothing'} is taken as made; "
                  f"it is checked with a fresh diagnosis once the service is back.")
    log = apply_plan(client, plan, catalog, audit, budget_s=args.budget,
                     progress=(lambda m: print(m, file=sys.stderr)) if as_json else print,
                     confirmed=confirmed, verify=_verifier(args, project) if confirmed else None, compose=compose)
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
