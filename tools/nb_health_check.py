"""Defines notebooks/health_check.ipynb (run: .venv/bin/python tools/nb_health_check.py)."""
from pathlib import Path

from nbwrite import write

CELLS = [
    ("md", """
# Health check

What is running, what is healthy, what is restarting — for the local Docker engine
(or `engine_url`, or every engine named in `hosts`), optionally one compose project. Produced by `runbook report health_check`.
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
from runbook_lib.reports import health, hosts as hosts_report
from runbook_lib.reports.engines import gather_engines

# One gathering for the whole report: every named host (concurrently), else the one engine.
eng = gather_engines(engine_url, hosts, project=project, compose_files=compose_files, config_path=config_path,
                     engine_timeout_s=engine_timeout_s, include_stopped=include_stopped, load_compose=run_probes,
                     with_stats=True)  # resource stats read in the background from now on
health.show_engine(eng, run_probes)  # also starts the probes in the background
"""),
    ("md", "## Hosts\n\nEvery named engine side by side (KPIs by host and by host and project; Swarm stacks like projects)."),
    ("code", """
hosts_report.show_hosts(hosts_report.hosts_overview(hosts, project=project, compose_files=compose_files,
                                                    config_path=config_path, engine_timeout_s=engine_timeout_s,
                                                    include_stopped=include_stopped, multi=eng.multi))
"""),
    ("md", "## Summary"),
    ("code", "health.show_summary(eng)"),
    ("md", "## Containers"),
    ("code", "health.show_containers(eng, store_path, project, config_path)"),
    ("md", """
## Native health probes

Each service checked the way its operators would (PostgreSQL `SELECT 1`, Redis `PING`, Kafka
ApiVersions, Elasticsearch cluster health, NestJS Terminus `/health` …), derived from the compose
files with no configuration. "unknown" means the probe could not run; it never counts as down.
"""),
    ("code", "res = health.show_probes(eng, run_probes)"),
    ("md", "### Components and health endpoints"),
    ("code", "health.show_components(res)"),
    ("md", """
## Resources and early warnings

Memory against each container's limit (one-shot engine stats, read concurrently), and the signs
that come before an outage: memory near its limit, a growing restart count, a health probe near
its timeout. The collector warns after several samples; this report has one.
"""),
    ("code", "health.show_resources(eng)"),
    ("md", "## Charts"),
    ("code", "health.show_charts(eng)"),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / "notebooks" / "health_check.ipynb", CELLS, "Health check")
