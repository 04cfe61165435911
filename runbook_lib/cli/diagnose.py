"""`runbook diagnose`: causes and fixes of what is down, root causes first.

The one-engine path runs the diagnosis over records (``analysis.diagnosis_records``): no
pandas. Swarm's own failures are read only on a Swarm manager (one ``GET /info`` decides),
and the multi-host path (``--host``) uses frames; both import their layer when they run.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from runbook_lib.analysis.diagnosis_records import findings_json, format_findings_records, run_diagnosis_records
from runbook_lib.cli.hostargs import named_hosts
from runbook_lib.stack import gather


def swarm_manager(client: Any) -> bool:
    """True when the engine is a Swarm manager (as ``engine.swarm.swarm_state`` reads it, without its frames)."""
    if client is None:
        return False
    try:
        info = client.info().get("Swarm") or {}
    except Exception:  # noqa: BLE001 - an engine that does not say: no Swarm section, as swarm_diagnosis decides
        return False
    return bool(info.get("ControlAvailable"))


def cmd_diagnose(args) -> int:
    """`runbook diagnose [--project NAME] [--compose FILE] [--json] [--all] [--host NAME=URL ...]`."""
    hosts = named_hosts(args)
    if hosts:
        from runbook_lib.cli.hosts import diagnose_hosts  # deferred: the multi-host layer (frames) only with --host
        return diagnose_hosts(args, hosts)
    stack = gather(args.engine_url, project=args.project, compose_files=args.compose or [], config=args.config,
                   engine_timeout_s=float(args.engine_timeout or 5.0))
    out = run_diagnosis_records(stack, all_containers=bool(args.all))
    swarm = None
    if swarm_manager(stack.client):  # on a Swarm manager: Swarm's own failures too
        from runbook_lib.cli.hosts import swarm_diagnosis  # deferred: the Swarm layer (frames) on a manager only
        swarm = swarm_diagnosis(stack.client)
    swarm_severe = bool(swarm and len(swarm[0]) and swarm[0]["severity"].isin(["critical", "high"]).any())
    if args.json:
        doc = {"findings": findings_json(out.findings),
               "lint": findings_json(out.lint) if out.lint is not None else [],
               "notes": out.notes, "degraded_reasons": out.degraded_reasons}
        if swarm:
            doc["swarm"] = {"kpis": swarm[1], "findings": findings_json(swarm[0])}
        print(json.dumps(doc, indent=2, default=str, ensure_ascii=False))
    else:
        print(format_findings_records(out.findings, out.lint, out.notes) + (swarm[2] if swarm else ""), end="")
    sys.stdout.flush()
    return 1 if out.has_severe or swarm_severe else 0
