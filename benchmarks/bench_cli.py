"""Cold-process CLI on a 40-service compose file: `runbook catalog --json`, `lint`, `plan` (dry-run)
and `runbook --help` vs `docker-compose -f FILE config` (Debian's 1.29), interleaved in one run.

    .venv/bin/python benchmarks/bench_cli.py --repeat 5 [--baseline /path/to/other/.venv/bin/runbook]

Prints median seconds, the ratio to docker-compose, and the load average (/proc/loadavg).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "tests" / "fixtures" / "ledgerline-erp" / "docker-compose.yml"
RUNBOOK = str(Path(sys.executable).parent / "runbook")


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, capture_output=True)  # lint exits 1 on findings; compose 1.29 rejects v2 keys
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compose", default=str(COMPOSE))
    ap.add_argument("--baseline", help="another tree's `runbook` (e.g. main's .venv/bin/runbook), run interleaved")
    args = ap.parse_args()
    cmds = {
        "docker-compose config": [shutil.which("docker-compose") or "docker-compose", "-f", args.compose, "config"],
        "runbook --help": [RUNBOOK, "--help"],
        "runbook catalog --json": [RUNBOOK, "catalog", "--json", "-f", args.compose],
        "runbook lint": [RUNBOOK, "lint", "-f", args.compose],
        "runbook plan (dry-run)": [RUNBOOK, "plan", "-f", args.compose],
    }
    if args.baseline:
        for name in [n for n in cmds if n.startswith("runbook ") and n != "runbook --help"]:
            cmds[f"baseline {name.split(' ', 1)[1]}"] = [args.baseline, *cmds[name][1:]]
    times: dict[str, list[float]] = {k: [] for k in cmds}
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    for _ in range(args.repeat):  # interleaved so load affects all alike
        for name, cmd in cmds.items():
            times[name].append(run(cmd))
    ref = statistics.median(times["docker-compose config"])
    print(f"load before {' '.join(load0)}, after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"{'':26} {'median s':>9} {'x compose':>10}   runs")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:26} {m:>9.2f} {m / ref:>10.2f}   {' '.join(f'{x:.2f}' for x in ts)}")


if __name__ == "__main__":
    main()
