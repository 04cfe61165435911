"""`runbook diagnose`: causes and fixes of what is down, root causes first."""
from __future__ import annotations

import json
import sys

from runbook_lib.analysis.diagnosis import findings_records, format_findings, run_diagnosis


def cmd_diagnose(args) -> int:
    """`runbook diagnose [--project NAME] [--compose FILE] [--json] [--all]`."""
    out = run_diagnosis(engine_url=args.engine_url, project=args.project, compose_files=args.compose or [],
                        all_containers=bool(args.all), engine_timeout_s=float(args.engine_timeout or 5.0),
                        config=args.config)
    findings, lint_df = out["findings"], out["lint"]
    if args.json:
        doc = {"findings": findings_records(findings),
               "lint": findings_records(lint_df) if lint_df is not None else [],
               "notes": out["notes"], "degraded_reasons": out["degraded_reasons"]}
        print(json.dumps(doc, indent=2, default=str, ensure_ascii=False))
    else:
        print(format_findings(findings, lint_df, out["notes"]), end="")
    sys.stdout.flush()
    has_critical = len(findings) and (findings["severity"].isin(["critical", "high"])).any()
    return 1 if has_critical else 0
