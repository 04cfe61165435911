"""Guarded recovery of a Swarm stack: forced updates and scale-backs, audited, dry-run by default.

Same guard rails as ``engine.actions``: the plan's actions go through its allow-list
(``guard``) before a single call, every step is written to the audit log before its
Docker call and its outcome after, and the run stops at the first failure. The only
calls are ``docker service update --force`` and ``docker service scale`` (through
``engine.action_calls``: each engine call within a total deadline); there is no code path
that removes a service, a stack or a volume.
"""
from __future__ import annotations

import time
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.engine import action_calls as calls
from runbook_lib.engine.actions import Progress, guard
from runbook_lib.engine.audit import AuditLog
from runbook_lib.exceptions import ActionRefused, EngineTimeout

SWARM_ACTIONS = frozenset({"service-update-force", "service-scale"})
LOG_COLUMNS = ["wave", "step", "service", "action", "replicas", "outcome", "detail", "started_at", "duration_s",
               "audit_id"]


def swarm_guard(action: Any) -> str:
    """The action name when the allow-list has it AND it is a Swarm action; ActionRefused otherwise."""
    name = guard(action)
    if name not in SWARM_ACTIONS:
        raise ActionRefused(f"Action '{name}' is not a Swarm action: a stack's plan only runs "
                            f"{', '.join(sorted(SWARM_ACTIONS))}.")
    return name


def _call(client: Any, action: str, service: str, replicas: Any) -> str:
    """The Docker API calls of one Swarm action, each within its total deadline."""
    if action == "service-update-force":
        calls.service_force_update(client, service)
        return "forced update accepted (tasks are replaced)"
    if action == "service-scale":
        n = int(replicas)
        calls.service_scale(client, service, n)
        return f"scaled to {n}"
    raise ActionRefused(f"Action '{action}' has no Docker call.")  # pragma: no cover - guarded


def apply_swarm_plan(client: Any, plan: pd.DataFrame, audit: AuditLog | None = None, *, dry_run: bool = True,
                     host: str | None = None, progress: Progress | None = print) -> pd.DataFrame:
    """Run a ``analysis.swarm.swarm_recovery_plan`` step by step; return the execution log.

    ``host`` names the engine in every audit record (``params.engine_host``).
    """
    say = progress or (lambda _msg: None)
    audit = audit or AuditLog()
    where = {"engine_host": host} if host else {}
    for a in (plan["action"] if len(plan) else []):
        if str(a) not in SWARM_ACTIONS:
            audit.event(str(a), None, "refused", "not a Swarm action on the allow-list; plan not executed",
                        where, dry_run=dry_run)
            swarm_guard(a)
    stack = str(plan["stack"].iloc[0]) if len(plan) else "stack"
    plan_id = audit.started("apply-swarm-plan", stack, {**where, "steps": int(len(plan))}, dry_run=dry_run)
    rows, stopped_at = [], None
    for step in plan.to_dict("records"):
        base = {"wave": int(step["wave"]), "step": int(step["step"]), "service": step["service"],
                "action": step["action"], "replicas": step.get("replicas")}
        if stopped_at is not None:
            rows.append({**base, "outcome": "not-run", "detail": f"stopped at {stopped_at}", "started_at": None,
                         "duration_s": None, "audit_id": None})
            continue
        action = swarm_guard(step["action"])
        params = {**where, "stack": stack, "wave": base["wave"], "replicas": step.get("replicas")}
        started_at, t0 = pd.Timestamp.now(tz="UTC"), time.monotonic()
        aid = audit.started(action, str(step["service"]), params, dry_run=dry_run)
        try:
            if dry_run:
                outcome, detail = "dry-run", f"not executed (dry-run): {step.get('command')}"
            else:
                say(f"[wave {base['wave']}] {step.get('command')} …")
                outcome, detail = "ok", _call(client, action, str(step["service"]), step.get("replicas"))
        except EngineTimeout as exc:  # a hung engine: the run stops here, audited, never a hang
            outcome, detail = "timeout", redact.mask_text(str(exc))[:500]
        except Exception as exc:  # noqa: BLE001 - any engine error stops the run, recorded as such
            outcome, detail = "failed", redact.mask_text(f"{type(exc).__name__}: {exc}")[:500]
        audit.outcome(aid, action, str(step["service"]), outcome, detail, params, dry_run=dry_run)
        rows.append({**base, "outcome": outcome, "detail": detail, "started_at": started_at,
                     "duration_s": round(time.monotonic() - t0, 3), "audit_id": aid})
        say(f"[wave {base['wave']}] {action} {step['service']}: {outcome} ({detail})")
        if outcome not in ("ok", "dry-run"):
            stopped_at = str(step["service"])
    log = pd.DataFrame(rows, columns=LOG_COLUMNS)
    status = "stopped" if stopped_at else ("dry-run" if dry_run else "complete")
    audit.outcome(plan_id, "apply-swarm-plan", stack, status, f"stopped at {stopped_at}" if stopped_at
                  else f"{len(log)} steps done", where, dry_run=dry_run)
    log.attrs.update({"status": status, "stopped_at": stopped_at, "audit_log": str(audit.path)})
    return log
