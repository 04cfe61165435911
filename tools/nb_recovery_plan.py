"""Defines notebooks/recovery_plan.ipynb (run: .venv/bin/python tools/nb_recovery_plan.py)."""
from pathlib import Path

from nbwrite import write

CELLS = [
    ("md", """
# Recovery plan

What should be running that isn't, and in which order to bring it back. The compose files
say what is expected; the engine says what runs. Root causes (down, with nothing below them
down) are shown apart from the services they block. The plan starts or restarts only what
needs it, dependencies first, waiting for health between waves.

Dry-run unless `apply` is true; then every step is audited before its Docker call and the run
stops at the first service that does not come up. Produced by
`runbook report recovery_plan -p compose_files '[docker-compose.yml]'`.
"""),
    ("params", """
from typing import Optional
compose_files: list = []           # compose files in -f order; []: from the running containers' labels
project: Optional[str] = None         # compose project; None: from the labels or the files
engine_url: Optional[str] = None      # Docker engine URL; None: DOCKER_HOST, active context, local socket
engine_timeout_s: float = 30.0     # connect/read timeout for engine calls
apply: bool = False                # execute the plan (audited); False: dry-run, nothing changes
budget_s: Optional[float] = None      # seconds to wait for each service; None: from its healthcheck
config_path: Optional[str] = None     # runbook.yaml (tier overrides)
audit_log: Optional[str] = None       # audit log; None: RUNBOOK_AUDIT_LOG or ~/.local/share/runbook/audit.log
"""),
    ("code", """
from runbook_lib import stack as gather_stack
from runbook_lib.engine import actions
from runbook_lib.analysis import plan as rplan, tiers
from runbook_lib.view import plots, render
from runbook_lib.reports.publish import publish

# plain papermill passes -p values as strings: 'false' must not mean apply
compose_files, apply, budget_s = actions.report_parameters(compose_files, apply, budget_s)
stack = gather_stack.gather(engine_url, project=project, compose_files=compose_files, config=config_path,
                            engine_timeout_s=engine_timeout_s)
ctx, problem = rplan.try_plan_stack(stack, budget_s)
if ctx is None:
    render.banner(f"Degraded report, no plan: {problem}", "error")
    publish({"status": "degraded", "degraded_reasons": [str(problem)]})
else:
    status, plan = ctx.status, ctx.plan
    render.banner(f"Project {ctx.project} from {', '.join(ctx.files)}", "info")
    notes = list(getattr(ctx.catalog, "notes", ())) + status.attrs.get("notes", [])
    if notes:
        more = f" … and {len(notes) - 3} more notes" if len(notes) > 3 else ""
        render.banner(" | ".join(notes[:3]) + more, "warning")
"""),
    ("md", "## Expected vs actual, by tier"),
    ("code", """
if ctx is not None:
    readiness = tiers.readiness_by_tier(status)
    roots, blocked = status[status["root_cause"]], status[status["blocked_by"].map(bool)]
    render.kpis({**{r.label: f"{r.ready}/{r.total}" for r in readiness.itertuples()},
                 "Root causes": len(roots), "Blocked": len(blocked), "Plan steps": len(plan)})
    all_up = bool(status.loc[status["expected"], "is_up"].all())
    render.banner(tiers.readiness_text(status), "ok" if all_up else "warning")
    cols = ["service", "container", "actual", "detail", "exit_code", "restart_count",
            "port_issues", "root_cause", "blocked_by"]
    for tier in readiness["tier"]:
        render.heading(tiers.tier_label(tier), 3)
        render.table(status[status["tier"] == tier], state_col="actual", columns=cols)
"""),
    ("md", """
## Root causes and what they block

A root cause is down while nothing it depends on is down. Fix these first: the
blocked services may come back on their own once their dependencies do.
"""),
    ("code", """
if ctx is not None:
    render.heading("Root causes", 3)
    render.table(roots, state_col="actual", columns=["service", "tier", "actual", "detail", "blocks"])
    render.heading("Blocked by a root cause", 3)
    render.table(blocked, state_col="actual", columns=["service", "tier", "actual", "blocked_by", "detail"])
"""),
    ("md", """
## The plan

Wave by wave, dependencies first; each start or restart is followed by a wait for
the service to be healthy (or started, or completed) within its timeout.
"""),
    ("code", """
if ctx is not None:
    if len(plan) == 0:
        render.banner("Nothing to do: every expected service is up.", "ok")
    render.table(plan, columns=["wave", "step", "service", "action", "condition", "timeout_s",
                                "reason", "command"])
    plots.show(plots.plan_graph_figure(status, plan))
"""),
    ("md", """
## Execution

Only when `apply` is true. Every step is in the audit log.
"""),
    ("code", """
execution = None
if ctx is not None and apply:
    from runbook_lib.engine.audit import AuditLog
    execution = actions.apply_plan(stack.client, plan, ctx.catalog, AuditLog(audit_log), budget_s=budget_s)
    state = execution.attrs["status"]
    render.banner(f"Plan {state}" + (f" at {execution.attrs['stopped_at']}; not touched: "
                  f"{', '.join(execution.attrs['not_run']) or 'none'}" if state == "stopped" else "")
                  + f" (audit log {execution.attrs['audit_log']})", "ok" if state == "complete" else "error")
    render.table(execution, state_col="outcome", columns=["wave", "service", "action", "condition",
                                                        "outcome", "detail", "duration_s"])
elif ctx is not None:
    render.banner("Dry-run: nothing was changed. Run with -p apply true (or `runbook plan --apply`).", "info")
"""),
    ("code", """
if ctx is not None:
    publish({
        "project": ctx.project, "files": ctx.files, "dry_run": not apply,
        "readiness": readiness.to_dict("records"), "readiness_text": tiers.readiness_text(status),
        "root_causes": sorted(roots["service"]),
        "blocked": {s: b for s, b in zip(blocked["service"], blocked["blocked_by"])},
        "expected_vs_actual": status.drop(columns=["started_at"]).to_dict("records"),
        "plan": plan.to_dict("records"), "plan_summary": rplan.plan_summary(plan),
        "execution": None if execution is None else execution.to_dict("records"),
        "execution_status": None if execution is None else execution.attrs["status"],
    })
"""),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / "notebooks" / "recovery_plan.ipynb", CELLS, "Recovery plan")
