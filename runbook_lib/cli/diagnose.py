"""`runbook diagnose`: causes and fixes of what is down, root causes first."""
from __future__ import annotations

import json
import sys

from runbook_lib.analysis.diagnosis import findings_records, format_findings, run_diagnosis
from runbook_lib.cli.hosts import diagnose_hosts, named_hosts, swarm_diagnosis
from runbook_lib.stack import gather


def cmd_diagnose(args) -> int:
    """`runbook diagnose [--project NAME] [--compose FILE] [--json] [--all] [--host NAME=URL ...]`."""
    hosts = named_hosts(args)
    if hosts:
        return diagnose_hosts(args, hosts)
    stack = gather(args.engine_url, project=args.project, compose_files=args.compose or [], config=args.config,
                   engine_timeout_s=float(args.engine_timeout or 5.0))
    out = run_diagnosis(stack, all_containers=bool(args.all))
    findings, lint_df = out.findings, out.lint
    swarm = swarm_diagnosis(stack.client)  # on a Swarm manager: Swarm's own failures too
    swarm_severe = bool(swarm and len(swarm[0]) and swarm[0]["severity"].isin(["critical", "high"]).any())
    if args.json:
        doc = {"findings": findings_records(findings),
               "lint": findings_records(lint_df) if lint_df is not None else [],
               "notes": out.notes, "degraded_reasons": out.degraded_reasons}
        if swarm:
            doc["swarm"] = {"kpis": swarm[1], "findings": findings_records(swarm[0])}
        print(json.dumps(doc, indent=2, default=str, ensure_ascii=False))
    else:
        print(format_findings(findings, lint_df, out.notes) + (swarm[2] if swarm else ""), end="")
    sys.stdout.flush()
    return 1 if out.has_severe or swarm_severe else 0
