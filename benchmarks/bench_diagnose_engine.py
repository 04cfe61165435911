"""Benchmark: diagnose 40 failing containers with 10 000 log lines each, on the real engine.

End to end: inventory -> logs.gather_evidence (bounded tails, health logs, events) ->
diagnose.diagnose (signatures, root causes). Side by side with two references:
  naive     docker-py `container.logs()` (the whole log in memory) per container, then the same
            classification over every line;
  cli       `docker logs --tail 200` once per container (what an on-call engineer types), no analysis.
Reports wall time and peak memory (tracemalloc peak of Python allocations). Goal: ours <= 2 s.
Containers carry runbook.bench=<id> and are removed at the end, even on failure.

    .venv/bin/python benchmarks/bench_diagnose_engine.py [--containers 40] [--lines 10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runbook_lib.demo import stack as demo
from runbook_lib.analysis import diagnosis as diagnose
from runbook_lib.engine import evidence_frame, logs
from runbook_lib.analysis.classify import classify  # noqa: E402
from runbook_lib.engine.connection import connect  # noqa: E402
from runbook_lib.engine.inventory import gather_inventory  # noqa: E402

FAILURES = [
    "echo \"Error: Cannot find module '@opentelemetry/api'\" >&2",
    "echo \"src/app.module.ts:12:5 - error TS2339: Property 'x' does not exist on type 'Y'.\"",
    "echo '[Nest] 1  - 11/27/2026, 1:00:00 AM   ERROR [Gateway] Error: connect ECONNREFUSED 127.0.0.1:3001'",
    "echo 'Error: getaddrinfo ENOTFOUND kafka'",
    "echo 'FATAL:  password authentication failed for user \"app\"'",
    "echo 'Error: listen EADDRINUSE: address already in use :::3000'",
    "echo 'the flux capacitor is out of sync'",
]


def script(lines: int, i: int) -> str:
    noise = ("awk 'BEGIN{for(i=0;i<%d;i++) printf \"[Nest] 1  - 11/27/2026, 1:00:00 AM     LOG "
             "[RouterExplorer] Mapped {/api/v1/items/%%d, GET} route +%%dms\\n\", i, i%%97}'" % (lines - 1))
    return f"{noise}; {FAILURES[i % len(FAILURES)]}; exit 1"


def setup(client, n: int, lines: int, label: str) -> None:
    image = demo.ensure_image(client)
    key, val = label.split("=", 1)
    for i in range(n):
        client.containers.run(image, ["sh", "-c", script(lines, i)], detach=True, labels={key: val},
                              name=f"rb-bench-{val}-{i:02d}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if not client.api.containers(filters={"label": label, "status": "running"}):
            return
        time.sleep(0.5)
    raise RuntimeError("containers did not exit in time")


def ours(client, label: str):
    inv = gather_inventory(client, label=label)
    ev = evidence_frame.gather_evidence(client, inv)
    return diagnose.diagnose(ev)


def naive(client, label: str):
    rows = []
    for c in client.containers.list(all=True, filters={"label": label}):
        text = c.logs().decode("utf-8", "replace")
        c.reload()
        rows.append({"service": c.name, "name": c.name, "state": c.status,
                     "exit_code": c.attrs["State"]["ExitCode"], "log_lines": text.splitlines(), "failing": True})
    return classify(rows)


def cli(client, label: str):
    for c in client.api.containers(all=True, filters={"label": label}):
        subprocess.run(["docker", "logs", "--tail", "200", c["Id"]], capture_output=True, check=True)


def measure(fn, client, label: str, repeat: int) -> tuple[float, float, object]:
    walls, peaks, out = [], [], None
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn(client, label)
        walls.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
        tracemalloc.stop()
    return statistics.median(walls), max(peaks), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=40)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    client = connect(timeout_s=60)
    label = f"runbook.bench={uuid.uuid4().hex[:8]}"
    try:
        t0 = time.perf_counter()
        setup(client, a.containers, a.lines, label)
        print(f"setup: {a.containers} containers x {a.lines} lines in {time.perf_counter() - t0:.1f} s")
        rows = [("ours: inventory + gather_evidence + diagnose", *measure(ours, client, label, a.repeat)),
                ("naive: docker-py logs() whole log + classify", *measure(naive, client, label, a.repeat))]
        if shutil.which("docker"):
            rows.append(("cli: docker logs --tail 200, x N (no analysis)", *measure(cli, client, label, a.repeat)))
        print(f"\n{'variant':50} {'wall s':>8} {'peak MB':>9} {'findings':>9}")
        for name, wall, peak, out in rows:
            n = len(out) if out is not None and hasattr(out, "__len__") else "-"
            print(f"{name:50} {wall:8.3f} {peak:9.1f} {n!s:>9}")
        wall = rows[0][1]
        print(f"\ngoal <= 2 s wall: {'met' if wall <= 2.0 else 'NOT met'} ({wall:.3f} s); "
              f"peak Python memory {rows[0][2]:.1f} MB")
    finally:
        for c in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(c["Id"], force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
