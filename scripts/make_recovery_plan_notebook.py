"""Write notebooks/recovery_plan.ipynb (no outputs, no execution counts).

Run: .venv/bin/python scripts/make_recovery_plan_notebook.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1]

cells = [
    new_markdown_cell(
        "# Recovery plan\n\n"
        "What should be running that isn't, and in which order to bring it back. The compose files\n"
        "say what is expected; the engine says what runs. Root causes (down, with nothing below them\n"
        "down) are shown apart from the services they block. The plan starts or restarts only what\n"
        "needs it, dependencies first, waiting for health between waves.\n\n"
        "Dry-run unless `apply` is true; then every step is audited before its Docker call and the run\n"
        "stops at the first service that does not come up. Produced by\n"
        "`runbook report recovery_plan -p compose_files '[docker-compose.yml]'`."),
    new_code_cell(
        "compose_files: list = []           # compose files in -f order; []: from the running containers' labels\n"
        "project: str | None = None         # compose project; None: from the labels or the files\n"
        "engine_url: str | None = None      # Docker engine URL; None: DOCKER_HOST, active context, local socket\n"
        "engine_timeout_s: float = 30.0     # connect/read timeout for engine calls\n"
        "apply: bool = False                # execute the plan (audited); False: dry-run, nothing changes\n"
        "budget_s: float | None = None      # seconds to wait for each service; None: from its healthcheck\n"
        "config_path: str | None = None     # runbook.yaml (tier overrides)\n"
        "audit_log: str | None = None       # audit log; None: RUNBOOK_AUDIT_LOG or ~/.local/share/runbook/audit.log",
        metadata={"tags": ["parameters"]}),
    new_code_cell(
        "from runbook_lib import actions, connect, plan as rplan, plots, render, report, tiers\n"
        "from runbook_lib.exceptions import RunbookError\n\n"
        "# plain papermill passes -p values as strings: 'false' must not mean apply\n"
        "compose_files, apply, budget_s = actions.report_parameters(compose_files, apply, budget_s)\n"
        "client, problem = connect.try_connect(engine_url, engine_timeout_s)\n"
        "ctx = None\n"
        "if client is not None:\n"
        "    try:\n"
        "        ctx = actions.build(client, compose_files, project, config_path, budget_s)\n"
        "    except RunbookError as exc:\n"
        "        problem = exc\n"
        "if ctx is None:\n"
        "    render.banner(f\"Degraded report, no plan: {problem}\", \"error\")\n"
        "    report.publish({\"status\": \"degraded\", \"degraded_reasons\": [str(problem)]})\n"
        "else:\n"
        "    status, plan = ctx[\"status\"], ctx[\"plan\"]\n"
        "    render.banner(f\"Project {ctx['project']} from {', '.join(ctx['files'])}\", \"info\")\n"
        "    notes = list(getattr(ctx[\"catalog\"], \"notes\", ())) + status.attrs.get(\"notes\", [])\n"
        "    if notes:\n"
        "        more = f\" … and {len(notes) - 3} more notes\" if len(notes) > 3 else \"\"\n"
        "        render.banner(\" | \".join(notes[:3]) + more, \"warning\")"),
    new_markdown_cell("## Expected vs actual, by tier"),
    new_code_cell(
        "if ctx is not None:\n"
        "    readiness = tiers.readiness_by_tier(status)\n"
        "    roots, blocked = status[status[\"root_cause\"]], status[status[\"blocked_by\"].map(bool)]\n"
        "    render.kpis({**{r.label: f\"{r.ready}/{r.total}\" for r in readiness.itertuples()},\n"
        "                 \"Root causes\": len(roots), \"Blocked\": len(blocked), \"Plan steps\": len(plan)})\n"
        "    all_up = bool(status.loc[status[\"expected\"], \"is_up\"].all())\n"
        "    render.banner(tiers.readiness_text(status), \"ok\" if all_up else \"warning\")\n"
        "    cols = [\"service\", \"container\", \"actual\", \"detail\", \"exit_code\", \"restart_count\",\n"
        "            \"port_issues\", \"root_cause\", \"blocked_by\"]\n"
        "    for tier in readiness[\"tier\"]:\n"
        "        render.heading(tiers.tier_label(tier), 3)\n"
        "        render.table(status[status[\"tier\"] == tier], state_col=\"actual\", columns=cols)"),
    new_markdown_cell("## Root causes and what they block\n\n"
                      "A root cause is down while nothing it depends on is down. Fix these first: the\n"
                      "blocked services may come back on their own once their dependencies do."),
    new_code_cell(
        "if ctx is not None:\n"
        "    render.heading(\"Root causes\", 3)\n"
        "    render.table(roots, state_col=\"actual\", columns=[\"service\", \"tier\", \"actual\", \"detail\", \"blocks\"])\n"
        "    render.heading(\"Blocked by a root cause\", 3)\n"
        "    render.table(blocked, state_col=\"actual\", columns=[\"service\", \"tier\", \"actual\", \"blocked_by\", \"detail\"])"),
    new_markdown_cell("## The plan\n\n"
                      "Wave by wave, dependencies first; each start or restart is followed by a wait for\n"
                      "the service to be healthy (or started, or completed) within its timeout."),
    new_code_cell(
        "if ctx is not None:\n"
        "    if len(plan) == 0:\n"
        "        render.banner(\"Nothing to do: every expected service is up.\", \"ok\")\n"
        "    render.table(plan, columns=[\"wave\", \"step\", \"service\", \"action\", \"condition\", \"timeout_s\",\n"
        "                                \"reason\", \"command\"])\n"
        "    plots.show(plots.plan_graph_figure(status, plan))"),
    new_markdown_cell("## Execution\n\nOnly when `apply` is true. Every step is in the audit log."),
    new_code_cell(
        "execution = None\n"
        "if ctx is not None and apply:\n"
        "    from runbook_lib.audit import AuditLog\n"
        "    execution = actions.apply_plan(client, plan, ctx[\"catalog\"], AuditLog(audit_log), budget_s=budget_s)\n"
        "    state = execution.attrs[\"status\"]\n"
        "    render.banner(f\"Plan {state}\" + (f\" at {execution.attrs['stopped_at']}; not touched: \"\n"
        "                  f\"{', '.join(execution.attrs['not_run']) or 'none'}\" if state == \"stopped\" else \"\")\n"
        "                  + f\" (audit log {execution.attrs['audit_log']})\", \"ok\" if state == \"complete\" else \"error\")\n"
        "    render.table(execution, state_col=\"outcome\", columns=[\"wave\", \"service\", \"action\", \"condition\",\n"
        "                                                        \"outcome\", \"detail\", \"duration_s\"])\n"
        "elif ctx is not None:\n"
        "    render.banner(\"Dry-run: nothing was changed. Run with -p apply true (or `runbook plan --apply`).\", \"info\")"),
    new_code_cell(
        "if ctx is not None:\n"
        "    report.publish({\n"
        "        \"project\": ctx[\"project\"], \"files\": ctx[\"files\"], \"dry_run\": not apply,\n"
        "        \"readiness\": readiness.to_dict(\"records\"), \"readiness_text\": tiers.readiness_text(status),\n"
        "        \"root_causes\": sorted(roots[\"service\"]),\n"
        "        \"blocked\": {s: b for s, b in zip(blocked[\"service\"], blocked[\"blocked_by\"])},\n"
        "        \"expected_vs_actual\": status.drop(columns=[\"started_at\"]).to_dict(\"records\"),\n"
        "        \"plan\": plan.to_dict(\"records\"), \"plan_summary\": rplan.plan_summary(plan),\n"
        "        \"execution\": None if execution is None else execution.to_dict(\"records\"),\n"
        "        \"execution_status\": None if execution is None else execution.attrs[\"status\"],\n"
        "    })"),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.validate(nb)
out = HERE / "notebooks" / "recovery_plan.ipynb"
nbformat.write(nb, str(out))
print(out)
