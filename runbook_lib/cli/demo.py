"""`runbook demo up|down|status`."""
from __future__ import annotations

import sys

import pandas as pd

from runbook_lib.demo import stack as demo
from runbook_lib.engine.connection import connect


def _print_status(df: pd.DataFrame) -> None:
    if df.empty:
        print("demo: no containers")
        return
    with pd.option_context("display.max_colwidth", 70, "display.width", 200):
        print(df.to_string(index=False))


def cmd_demo(args) -> int:
    """`runbook demo up|down|status`."""
    client = connect(args.engine_url, timeout_s=max(args.engine_timeout, 30.0))
    project = args.project or demo.DEMO_PROJECT
    port_base = args.port_base or demo.DEFAULT_PORT_BASE
    if args.action == "up":
        inv = demo.demo_up(client, project=project, port_base=port_base)
        created = inv.attrs.get("created", [])
        print(f"demo: project {project!r}: created {len(created)} container(s)"
              + (f" ({', '.join(created)})" if created else ", everything already there"))
        print(f"demo: compose file {inv.attrs.get('compose_file')}")
        servers = inv.attrs.get("servers") or {}
        if servers:
            what = {"stand-in": "stand-in"}
            print("demo: infrastructure: " + ", ".join(
                f"{svc} = {what.get(v, v + ' (host binaries)')}" for svc, v in servers.items()
                if svc != "kafka") + ", kafka = Kafka wire-protocol responder")
        _print_status(demo.demo_status(client, project))
        print("next: runbook diagnose --project demo   |   runbook report recovery_report -p project demo")
    elif args.action == "down":
        out = demo.demo_down(client, project=project)
        print(f"demo: removed {out['containers']} container(s) and {out['networks']} network(s) "
              f"of project {project!r}; volumes untouched")
    else:
        _print_status(demo.demo_status(client, project))
    sys.stdout.flush()
    return 0
