"""`runbook probe`: one round of native health probes of every service."""
from __future__ import annotations

import json
import sys

from runbook_lib.cli.hostargs import named_hosts
from runbook_lib.probes.discovery import standardisation
from runbook_lib.probes.rows import format_table, probe_summary, rows_to_json
from runbook_lib.probes.stack_round import probe_stack
from runbook_lib.stack import gather


def cmd_probe(args) -> int:
    """Derive probes from the compose files, run one round, print rows.

    Exit code 0 when nothing is down, 1 when something is down (unknown never counts)."""
    hosts = named_hosts(args)
    if hosts:
        # imported here, not at the top: the multi-host path pulls the diagnosis and Swarm layers (cli defers imports)
        from runbook_lib.cli.hosts import probe_hosts  # noqa: PLC0415
        return probe_hosts(args, hosts)
    stack = gather(args.engine_url, project=args.project, compose_files=list(args.compose or []),
                   config=args.config, engine_timeout_s=float(args.engine_timeout or 5.0))
    res = probe_stack(stack, timeout_s=args.timeout)
    rows = res.rows
    for note in res.notes:
        print(f"runbook: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"project": res.project, "engine_ok": res.engine_ok, "summary": probe_summary(rows),
                          "rows": rows_to_json(rows),
                          "endpoint_audit": standardisation(res.audit), "notes": res.notes},
                         default=str, indent=2))
    else:
        print(format_table(rows))
        s = probe_summary(rows)
        print(f"\n{s['probes_total']} checks: " + ", ".join(f"{k} {v}" for k, v in s["probes_by_state"].items()))
    return 0 if rows.empty or not (rows["state"] == "down").any() else 1
