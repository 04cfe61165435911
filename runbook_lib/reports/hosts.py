"""The "Hosts" section of health_check and recovery_report: several named engines in one report.

``hosts_overview(hosts, ...)`` resolves the hosts (the ``hosts`` parameter, else RUNBOOK_HOSTS,
else ``hosts:`` in runbook.yaml), gathers them all and returns the frames to show, grouped by
host; ``None`` when no host is named (the report keeps its one-engine content). A Swarm manager's
stacks are shown like compose projects: services converged X/Y, replicas A/B, tasks with errors.
``show_hosts(overview)`` renders them and publishes the summary.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib.analysis.diagnosis import findings_records, run_diagnosis
from runbook_lib.analysis.hosts import kpis_by_host, kpis_by_host_project
from runbook_lib.analysis.swarm import diagnose_swarm, kpis_by_stack, swarm_kpis
from runbook_lib.config import load_config
from runbook_lib.engine.hosts import resolve_hosts
from runbook_lib.engine.swarm import PROBLEM_STATES
from runbook_lib.multistack import MultiStack, gather_hosts
from runbook_lib.reports import publish as report
from runbook_lib.reports.engines import records
from runbook_lib.reports.values import as_list
from runbook_lib.view import render


@dataclass
class SwarmView:
    """One manager's Swarm, shown like a compose project."""

    kpis: dict[str, Any]
    by_stack: pd.DataFrame
    services: pd.DataFrame
    tasks: pd.DataFrame  # tasks with an error, or not running
    findings: pd.DataFrame


@dataclass
class HostsOverview:
    multi: MultiStack
    hosts: pd.DataFrame
    by_host: pd.DataFrame
    by_host_project: pd.DataFrame
    swarm: dict[str, SwarmView] = field(default_factory=dict)
    findings: pd.DataFrame | None = None  # root causes and fixes of every reachable host (``host`` column)


def hosts_overview(hosts: Iterable[str] | None, *, project: str | None = None,
                   compose_files: Iterable[str | Path] = (), config_path: str | Path | None = None,
                   engine_timeout_s: float = 5.0, include_stopped: bool = True,
                   diagnose: bool = False, multi: MultiStack | None = None,
                   findings: pd.DataFrame | None = None) -> HostsOverview | None:
    """Gather every named host (or use ``multi``, already gathered); None when none is named
    (hosts=None and no RUNBOOK_HOSTS/config hosts). ``findings``: the hosts' findings already
    made (a ``host`` column, e.g. the recovery report's), shown instead of diagnosing every host again."""
    if multi is None:
        cfg = load_config(config_path)
        specs = resolve_hosts(as_list(hosts), cfg)
        if not specs:
            return None
        multi = gather_hosts(specs, project=project, compose_files=list(compose_files), config=cfg,
                             engine_timeout_s=engine_timeout_s, include_stopped=include_stopped,
                             all_projects=not (project or compose_files), load_compose=False)
    inv = multi.inventory
    swarm = {}
    for host, frames in multi.swarm(project).items():
        tasks = frames.tasks
        bad = tasks[tasks["state"].isin(PROBLEM_STATES) | tasks["error"].fillna("").astype(bool)] if len(tasks) else tasks
        swarm[host] = SwarmView(kpis=swarm_kpis(frames.services), by_stack=kpis_by_stack(frames.services),
                                services=frames.services, tasks=bad,
                                findings=diagnose_swarm(frames.nodes, frames.services, frames.tasks, frames.logs))
    if diagnose and findings is not None and "host" in findings.columns:
        reachable = [h for h, st in multi.stacks.items() if st.client is not None]
        findings = findings[findings["host"].isin(reachable)].reset_index(drop=True)
    elif diagnose:
        parts = [run_diagnosis(st).findings.assign(host=h) for h, st in multi.stacks.items() if st.client is not None]
        parts = [p[["host", *[c for c in p.columns if c != "host"]]] for p in parts if len(p)]
        findings = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["host"])
    else:
        findings = None
    return HostsOverview(multi=multi, hosts=multi.hosts_frame(), by_host=kpis_by_host(inv),
                         by_host_project=kpis_by_host_project(inv), swarm=swarm, findings=findings)


def show_hosts(view: HostsOverview | None) -> None:
    """Render the Hosts section (or one line saying the report covers the one default engine)."""
    if view is None:
        render.banner("One engine (no hosts named: pass hosts=[NAME=URL, ...], RUNBOOK_HOSTS or hosts: "
                      "in runbook.yaml for several).", "info")
        return
    for reason in view.multi.degraded_reasons:
        render.banner(f"Degraded: {reason}", "error")
    render.table(view.hosts.drop(columns=["projects"]))
    render.heading("KPIs by host", 3)
    render.table(view.by_host)
    render.heading("KPIs by host and project", 3)
    render.table(view.by_host_project)
    summary: dict[str, Any] = {"hosts": records(view.hosts), "by_host": records(view.by_host),
                               "by_host_project": records(view.by_host_project), "swarm": {}}
    if view.findings is not None:
        render.heading("Root causes by host", 3)
        if len(view.findings):
            cols = [c for c in ("host", "service", "severity", "kind", "category", "cause", "fix") if c in view.findings]
            render.table(view.findings[cols])
        else:
            render.banner("No findings on any reachable host.", "ok")
        summary["findings"] = findings_records(view.findings)
    for host, sw in view.swarm.items():
        render.heading(f"Swarm on {host}: {sw.kpis['headline']}", 3)
        render.table(sw.by_stack)
        render.table(sw.services[["stack", "service", "mode", "running_replicas", "desired_replicas", "image",
                                  "update_state"]])
        if len(sw.tasks):
            render.table(sw.tasks[["service", "slot", "node", "desired_state", "state", "error", "message"]],
                         state_col="state")
        for r in sw.findings.to_dict("records"):
            render.banner(f"[{r['severity']}] {r.get('service') or r.get('node')}: {r['title']}: {r['cause']} "
                          f"Fix: {r['fix']}", "error" if r["severity"] in ("critical", "high") else "warning")
        summary["swarm"][host] = {"kpis": sw.kpis, "by_stack": records(sw.by_stack),
                                  "failing_tasks": records(sw.tasks)}
    summary["degraded_reasons"] = view.multi.degraded_reasons
    report.publish({"hosts": summary, **({"status": "degraded"} if view.multi.degraded_reasons else {})})
