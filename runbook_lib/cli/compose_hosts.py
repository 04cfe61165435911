"""`runbook catalog --host ...` and `runbook lint --host ...`: the compose files of every named host.

Each host's projects are found from its containers' compose labels (config_files and
working_dir, as for the local engine); the files are read on this machine. A project whose
files are not readable here, or a host that cannot be reached, is one entry with the reason,
and the other hosts and projects go on. Output is grouped by host (a ``host`` key in --json).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis.lint import SEVERITY_RANK, lint_catalog
from runbook_lib.cli.hosts import gather_named, hosts_records, print_hosts
from runbook_lib.compose.catalog import Catalog, catalog_summary, load_catalog
from runbook_lib.compose.discover import compose_projects, find_compose_files
from runbook_lib.engine.hosts import HostSpec
from runbook_lib.exceptions import RunbookError
from runbook_lib.multistack import MultiStack


@dataclass
class HostProject:
    """One compose project of one host: its catalog, or why it has none."""

    host: str
    project: str | None
    catalog: Catalog | None = None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        files = list(self.catalog.files) if self.catalog is not None else []
        return {"host": self.host, "project": self.project, "files": files, "error": self.error}


def host_projects(args, hosts: list[HostSpec]) -> tuple[MultiStack, list[HostProject]]:
    """Every (host, project) with its catalog or the reason it has none; never raises for one host."""
    multi = gather_named(args, hosts, load_compose=False)
    cfg = multi.stacks[hosts[0].name].config if hosts else None
    out: list[HostProject] = []
    for host, st in multi.stacks.items():
        if st.client is None:
            out.append(HostProject(host, args.project, error=f"host unreachable: {redact.mask_text(str(st.engine_error))}"))
            continue
        projects = [args.project] if (args.project or args.compose) else compose_projects(st.inventory)
        if not projects:
            out.append(HostProject(host, None, error="no container carries the label "
                                   "com.docker.compose.project.config_files (pass --compose FILE)"))
        for project in projects:
            try:
                files = list(args.compose) or find_compose_files(st.inventory, project, host=host)[0]
                cat = load_catalog(files, project_name=project, profiles=args.profile or None, config=cfg)
                out.append(HostProject(host, cat.project, catalog=cat))
            except RunbookError as exc:
                out.append(HostProject(host, project, error=redact.mask_text(str(exc))))
    return multi, out


def catalog_hosts(args, hosts: list[HostSpec], print_catalog) -> int:
    """`runbook catalog --host ...`: one catalog per (host, project); ``print_catalog`` prints one."""
    multi, entries = host_projects(args, hosts)
    if args.json:
        doc = {"hosts": hosts_records(multi), "projects": []}
        for e in entries:
            rec = e.record()
            if e.catalog is not None:
                rec["summary"] = catalog_summary(e.catalog)
                rec["services"] = [{"host": e.host, **r} for r in e.catalog.frame.to_dict("records")]
            doc["projects"].append(rec)
        print(json.dumps(doc, default=str, indent=2))
        return 0
    print_hosts(multi)
    for e in entries:
        print(f"\n== host {e.host}" + (f", project {e.project}" if e.project else ""))
        if e.catalog is None:
            print(f"not read: {e.error}")
        else:
            print_catalog(e.catalog)
    return 0


def lint_hosts(args, hosts: list[HostSpec], print_findings) -> int:
    """`runbook lint --host ...`: lint each (host, project); exit 1 on a critical or high finding anywhere."""
    multi, entries = host_projects(args, hosts)
    floor = SEVERITY_RANK[args.min_severity or "low"]
    parts: list[pd.DataFrame] = []
    for e in entries:
        if e.catalog is not None:
            found = lint_catalog(e.catalog)
            found = found[found["severity"].map(SEVERITY_RANK) <= floor].reset_index(drop=True)
            found.insert(0, "host", e.host)
            found.insert(1, "project", e.catalog.project)
            parts.append(found)
    findings = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["host", "project", "severity"])
    if args.json:
        print(json.dumps({"hosts": hosts_records(multi), "projects": [e.record() for e in entries],
                          "findings": findings.to_dict("records")}, indent=2, default=str))
    else:
        print_hosts(multi)
        for e in entries:
            print(f"\n== host {e.host}" + (f", project {e.project}" if e.project else ""))
            if e.catalog is None:
                print(f"not read: {e.error}")
                continue
            mine = findings[(findings["host"] == e.host) & (findings["project"] == e.catalog.project)]
            print_findings(e.catalog, list(mine.drop(columns=["host", "project"]).itertuples()))
    return 1 if len(findings) and (findings["severity"].map(SEVERITY_RANK) <= SEVERITY_RANK["high"]).any() else 0
