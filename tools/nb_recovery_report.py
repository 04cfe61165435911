"""Write notebooks/recovery_report.ipynb (no outputs, no execution counts).

Run: .venv/bin/python tools/nb_recovery_report.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1]

cells = [
    new_markdown_cell(
        "# Recovery report\n\n"
        "What is down, since when, and why: the root causes first (with the log lines that show\n"
        "them and the fix), then what they block. KPIs compare with the previous recovery report.\n"
        "Every log line, health output and setting shown here is masked (secrets) and escaped.\n\n"
        "Produced by `runbook report recovery_report -p project demo` (or `-p compose_files '[docker-compose.yml]'`)."),
    new_code_cell(
        "from typing import Optional\n"
        "project: Optional[str] = None         # compose project; None: every container / from the files\n"
        "compose_files: list = []           # compose files in -f order; []: from the containers' labels\n"
        "engine_url: Optional[str] = None      # Docker engine URL; None: DOCKER_HOST, active context, local socket\n"
        "engine_timeout_s: float = 30.0     # connect/read timeout for engine calls\n"
        "window: str = '24h'                # incident window: 1h, 24h, 7d, or START..END (ISO times)\n"
        "store_path: Optional[str] = None      # history store (uptime); None: RUNBOOK_STORE or the default\n"
        "config_path: Optional[str] = None     # runbook.yaml (tier overrides)\n"
        "previous_report: Optional[str] = None # previous report's .json; None: the newest earlier one in output_dir\n"
        "output_dir: Optional[str] = None      # where reports are written (to find the previous one); None: ./outputs\n"
        "tail_lines: int = 200              # log lines read per failing container\n"
        "hosts: Optional[list] = None       # named engines, each NAME followed by its URL; None: RUNBOOK_HOSTS, runbook.yaml hosts, else one",
        metadata={"tags": ["parameters"]}),
    new_code_cell(
        "import yaml\n"
        "from runbook_lib.reports import recovery as recovery_report\nfrom runbook_lib.reports.publish import publish\n"
        "from runbook_lib.reports.engines import gather_engines\nfrom runbook_lib.reports.recovery_hosts import build_engines\n"
        "from runbook_lib.view import plots, render\n\n"
        "if isinstance(compose_files, str):  # plain papermill -p passes '[a.yml]' as text\n"
        "    compose_files = yaml.safe_load(compose_files) or []\n"
        "    compose_files = [compose_files] if isinstance(compose_files, str) else list(compose_files)\n"
        "eng = gather_engines(engine_url, hosts, project=project, compose_files=compose_files, config_path=config_path,\n"
        "                     engine_timeout_s=float(engine_timeout_s), include_stopped=True, all_projects=False)\n"
        "r = build_engines(eng, project=project, window=window, store_path=store_path, config_path=config_path,\n"
        "                  previous_report=previous_report, output_dir=output_dir, tail_lines=int(tail_lines))\n"
        "render.banner(r.headline, 'ok' if not len(r.findings) else 'error')\n"
        "render.banner(f\"Project {r.project or '(all)'}; window {r.start:%Y-%m-%d %H:%M} → {r.end:%Y-%m-%d %H:%M} UTC\"\n"
        "              + (f\"; compose files: {', '.join(r.compose_files)}\" if r.compose_files else ''), 'info')\n"
        "for reason in r.degraded_reasons:\n"
        "    render.banner(f'Degraded: {reason}', 'warning')"),
    new_markdown_cell("## Hosts\n\nEvery named engine: KPIs and root causes by host; Swarm stacks like projects."),
    new_code_cell(
        "from runbook_lib.reports import hosts as hosts_report\n"
        "hosts_report.show_hosts(hosts_report.hosts_overview(hosts, project=project, compose_files=compose_files,\n"
        "                                                    config_path=config_path, diagnose=True, multi=eng.multi,\n"
        "                                                    engine_timeout_s=float(engine_timeout_s)))"),
    new_markdown_cell("## KPIs\n\nThe change is against the previous recovery report (its `.json`)."),
    new_code_cell(
        "render.kpis(r.kpi_tiles())\n"
        "if r.by_host is not None:\n"
        "    render.table(r.by_host)\n"
        "if r.previous_path:\n"
        "    render.banner(f'Compared with {r.previous_path}', 'info')"),
    new_markdown_cell("## Readiness by tier"),
    new_code_cell(
        "if r.readiness is not None and len(r.readiness):\n"
        "    render.table(r.readiness, columns=recovery_report.with_host(r.readiness, ['label', 'ready', 'total', 'pct', 'text']))\n"
        "    if r.status is not None:\n"
        "        render.table(r.status, state_col='actual', columns=recovery_report.with_host(r.status, [\n"
        "            'service', 'tier', 'actual', 'detail', 'exit_code', 'restart_count', 'root_cause', 'blocked_by']))\n"
        "else:\n"
        "    render.banner('No readiness data (engine or compose files unavailable).', 'warning')"),
    new_markdown_cell(
        "## Findings: root causes first\n\n"
        "Each finding names the service, the kind of failure, the likely cause, the fix, and the\n"
        "lines that show it. *Blocked* findings are symptoms of a root cause they depend on."),
    new_code_cell(
        "render.table(recovery_report.findings_display(r.findings), severity_col='severity',\n"
        "             pre_cols=['evidence'])"),
    new_markdown_cell("## Compose lint\n\nWhat in the compose files will break the stack again (file, service, key, fix)."),
    new_code_cell(
        "if r.lint is None:\n"
        "    render.banner('No compose files read: lint skipped.', 'warning')\n"
        "else:\n"
        "    render.table(r.lint, severity_col='severity')"),
    new_markdown_cell("## Recovery plan (dry-run)\n\nDependencies first; apply with `runbook plan --apply`."),
    new_code_cell(
        "if r.plan is None:\n"
        "    render.banner('No plan: it needs the compose files and the engine.', 'warning')\n"
        "elif len(r.plan) == 0:\n"
        "    render.banner('Nothing to do: every expected service is up.', 'ok')\n"
        "else:\n"
        "    render.table(r.plan, columns=recovery_report.with_host(r.plan, ['wave', 'step', 'service', 'action', 'condition',\n"
        "                                                                    'timeout_s', 'reason', 'command']))"),
    new_markdown_cell(
        "## Incident timeline\n\n"
        "State changes, Docker events (die, oom, kill, health_status, restart) and bursts of error\n"
        "lines per minute. The engine keeps only its last 256 events: older ones come from the\n"
        "history store (uptime below)."),
    new_code_cell("plots.show(plots.incident_timeline(r.timeline))"),
    new_markdown_cell("## Uptime in the window\n\nFrom the history store that `runbook collect` fills."),
    new_code_cell(
        "if r.uptime is not None and r.uptime.has_data:\n"
        "    render.kpis(r.uptime.kpis)\n"
        "    for tier, frame in r.uptime.tier_tables:\n"
        "        render.heading(tier, 3)\n"
        "        render.table(frame, state_col='state')\n"
        "else:\n"
        "    render.banner('Uptime: no data (no history store yet: run `runbook collect`).', 'info')"),
    new_code_cell(
        "if r.notes:\n"
        "    render.banner(' | '.join(r.notes[:5]), 'info')\n"
        "publish(r.summary())"),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"}})
for i, c in enumerate(nb.cells):  # stable ids: regenerating gives the same file
    c["id"] = f"c{i:02d}"
out = HERE / "notebooks" / "recovery_report.ipynb"
nbformat.write(nb, out)
print(out)
