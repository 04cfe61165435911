"""Benchmark: expected-vs-actual + recovery plan, against the bare reference work, side by side.

Reference: what any planner must do at least — a pandas merge of catalog and inventory
on the service name plus ``graphlib.TopologicalSorter.static_order()`` over the same
graph. Ours adds states, root causes, transitive "blocked by", waves, conditions and
timeouts. Inputs: the 41-service vextrus-erp fixture and a generated 500-service file
(``bench_compose.generate``), each with a third of the services down.

    .venv/bin/python benchmarks/bench_plan.py [--repeat N]
"""
from __future__ import annotations

import argparse
import graphlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_compose import FIXTURE, generate  # noqa: E402

from runbook_lib.compose.catalog import load_catalog  # noqa: E402
from runbook_lib.config import RunbookConfig  # noqa: E402
from runbook_lib.analysis.expected import expected_vs_actual  # noqa: E402
from runbook_lib.engine.inventory import COLUMNS  # noqa: E402
from runbook_lib.analysis.plan import recovery_plan  # noqa: E402


def inventory_for(frame: pd.DataFrame, project: str) -> pd.DataFrame:
    """Every service has a container; every third one is down (exited, unhealthy, restarting)."""
    rows = []
    for i, (svc, hc) in enumerate(zip(frame["service"], frame["has_healthcheck"])):
        row = {c: None for c in COLUMNS}
        state, health = ("running", "healthy" if hc else "none")
        if i % 3 == 0:
            state, health = [("exited", "none"), ("running", "unhealthy"), ("restarting", "none")][(i // 3) % 3]
        row.update({"project": project, "service": svc, "name": f"{project}-{svc}-1", "id": f"{i:012d}",
                    "state": state, "health": health, "exit_code": 1 if state == "exited" else None,
                    "restart_count": 0, "oom_killed": False, "published_ports": [], "failing_streak": 0})
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000, statistics.median(times) * 1000, result


def reference(frame: pd.DataFrame, inv: pd.DataFrame):
    joined = frame[["service", "depends_on"]].merge(inv[["service", "state", "health"]], on="service", how="left")
    graph = {s: [d["service"] for d in deps] for s, deps in zip(joined["service"], joined["depends_on"])}
    return list(graphlib.TopologicalSorter(graph).static_order())


def ours(frame: pd.DataFrame, inv: pd.DataFrame, project: str):
    status = expected_vs_actual(frame, inv, project=project)
    return status, recovery_plan(frame, status, project=project)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    print(f"{args.repeat} runs each (best and median; the machine is shared)")
    print("| input | what | best ms | median ms | note |")
    print("|---|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "docker-compose.yml"
        big.write_text(generate(500))
        for label, path in (("vextrus-erp (41)", FIXTURE), ("generated (500)", big)):
            cat = load_catalog([path], environ={}, config=RunbookConfig(), project_name="bench")
            inv = inventory_for(cat.frame, "bench")
            b, m, order = timed(lambda: reference(cat.frame, inv), args.repeat)
            print(f"| {label} | reference: merge + graphlib static_order | {b:.1f} | {m:.1f} | {len(order)} nodes |")
            b, m, (status, plan) = timed(lambda: ours(cat.frame, inv, "bench"), args.repeat)
            note = (f"{int(status['root_cause'].sum())} root causes, {int(status['blocked_by'].map(bool).sum())} "
                    f"blocked, {len(plan)} steps in {int(plan['wave'].max()) if len(plan) else 0} waves")
            print(f"| {label} | ours: expected_vs_actual + recovery_plan | {b:.1f} | {m:.1f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
