"""Defines notebooks/health_check.ipynb (run: .venv/bin/python tools/nb_health_check.py)."""
from pathlib import Path

from nbwrite import write

CELLS = [
    ("md", """
# Health check

What is running, what is healthy, what is restarting — for the local Docker engine
(or `engine_url`), optionally one compose project. Produced by `runbook report health_check`.
"""),
    ("params", """
from typing import Optional
engine_url: Optional[str] = None      # Docker engine URL; None: DOCKER_HOST, active context, local socket
project: Optional[str] = None         # compose project to show; None: every container
include_stopped: bool = True       # include exited / created containers
engine_timeout_s: float = 5.0      # connect/read timeout for engine calls
compose_files: list = []           # compose files for probes; []: from the containers' labels
config_path: Optional[str] = None     # runbook.yaml (probe overrides, tiers)
run_probes: bool = True            # probe every service natively (postgres, redis, http …)
store_path: Optional[str] = None      # history store for 24 h uptime; None: RUNBOOK_STORE or default
hosts: Optional[list] = None          # named engines, each NAME followed by its URL; None: RUNBOOK_HOSTS, runbook.yaml hosts, else one
"""),
    ("code", """
from runbook_lib.engine import inventory
from runbook_lib.analysis import kpis
from runbook_lib.view import plots, render
from runbook_lib.stack import gather
from runbook_lib.probes import discovery, rows as probe_rows, stack_round
from runbook_lib.reports import publish as report
from runbook_lib.history import uptime

# One gathered stack for the whole report: engine, containers and (for probes) compose catalogs.
stack = gather(engine_url, project=project, compose_files=compose_files, config=config_path,
               engine_timeout_s=engine_timeout_s, include_stopped=include_stopped,
               all_projects=not (project or compose_files), load_compose=run_probes)
client, engine_error, inv = stack.client, stack.engine_error, stack.inventory
if engine_error:
    render.banner(f"Degraded report: {engine_error}", "error")
    report.publish({"status": "degraded", "degraded_reasons": [str(engine_error)],
                    "engine": {"ok": False, "error": str(engine_error), "cause": engine_error.cause}})
else:
    report.publish({"engine": {"ok": True, "url": stack.engine_url}})
for note in inv.attrs.get("notes", []):
    render.banner(note, "warning")
"""),
    ("md", "## Hosts\n\nEvery named engine side by side (KPIs by host and by host and project; Swarm stacks like projects)."),
    ("code", """
from runbook_lib.reports import hosts as hosts_report
hosts_report.show_hosts(hosts_report.hosts_overview(hosts, project=project, compose_files=compose_files,
                                                    config_path=config_path, engine_timeout_s=engine_timeout_s,
                                                    include_stopped=include_stopped))
"""),
    ("md", "## Summary"),
    ("code", """
k = kpis.summary_kpis(inv)
render.kpis(kpis.kpi_tiles(k))
render.banner(kpis.headline(k), "ok" if k["running"] == k["containers"] and k["unhealthy"] == 0 else "warning")
by_project = kpis.kpis_by_project(inv)
render.table(by_project)
report.publish({"kpis": k, "headline": kpis.headline(k), "by_project": by_project.to_dict("records")})
"""),
    ("md", "## Containers"),
    ("code", """
table, note = uptime.with_uptime_24h(inventory.status_table(inv), store_path, project, config_path=config_path)
render.table(table, state_col=["state", "health"], pre_cols=["last health output"])
if note:
    render.banner(note, "warning" if table.attrs.get("degraded_reason") else "info")
if table.attrs.get("degraded_reason"):  # a damaged store: degraded, not failed
    report.publish({"status": "degraded", "degraded_reasons": [table.attrs["degraded_reason"]]})
report.publish({"containers": table.to_dict("records"),
                "labels": {n: l for n, l in zip(inv["name"], inv["labels"])}})
"""),
    ("md", """
## Native health probes

Each service checked the way its operators would (PostgreSQL `SELECT 1`, Redis `PING`, Kafka
ApiVersions, Elasticsearch cluster health, NestJS Terminus `/health` …), derived from the compose
files with no configuration. "unknown" means the probe could not run; it never counts as down.
"""),
    ("code", """
res, probe_notes = stack_round.probe_projects(stack) if run_probes else (None, ["probes not requested"])
for note in probe_notes:
    render.banner(note, "warning")
if res is not None:
    s = stack_round.stack_summary(res)
    render.kpis({"Checks": s["probes_total"], **s["probes_by_state"], "Coverage": f"{s['probe_coverage_pct']} %"})
    render.table(res.rows.drop(columns=["detail", "ok"]), state_col="state")
    plots.show(plots.probe_status_grid(res.rows))
    plots.show(plots.probe_latency_chart(res.rows))
    report.publish({"probes": s, "probe_rows": probe_rows.rows_to_json(res.rows)})
"""),
    ("md", "### Components and health endpoints"),
    ("code", """
if res is not None:
    render.table(plots.probe_components_frame(res.rows), state_col="status")
    plots.show(plots.probe_components_figure(res.rows))
    render.table(discovery.audit_matrix(res.audit))
    plots.show(plots.endpoint_audit_figure(res.audit))
"""),
    ("md", """
## Resources and early warnings

Memory against each container's limit (one-shot engine stats, read concurrently), and the signs
that come before an outage: memory near its limit, a growing restart count, a health probe near
its timeout. The collector warns after several samples; this report has one.
"""),
    ("code", """
from runbook_lib.engine import stats as engine_stats
from runbook_lib.analysis import warnings as early
from runbook_lib.view import resources
st = engine_stats.read_stats(client, inv) if client else engine_stats.empty_frame()
render.table(resources.resource_table(st))
plots.show(resources.memory_vs_limit(st))
cat = stack.catalog.frame if stack.catalog is not None else None
warn = early.early_warnings(stats_history=st, inventory=inv, catalog_frame=cat, timeouts_s=early.health_timeouts(cat),
                            mem_samples=1)
if len(warn):
    render.table(warn)
else:
    render.banner("No early warnings.", "ok")
report.publish({"resources": engine_stats.records(st), "warnings": warn.to_dict("records")})
"""),
    ("md", "## Charts"),
    ("code", """
plots.show(plots.state_by_service(inv))
plots.show(plots.container_uptime(inv))
plots.show(plots.restart_counts(inv))
"""),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / "notebooks" / "health_check.ipynb", CELLS, "Health check")
