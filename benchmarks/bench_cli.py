"""Cold-process CLI on a 40-service compose file: `runbook catalog --json`, `lint`, `plan` (dry-run)
and `runbook --help` vs `docker-compose -f FILE config` (Debian's 1.29), interleaved in one run.

    .venv/bin/python benchmarks/bench_cli.py --repeat 5 [--baseline /path/to/other/.venv/bin/runbook]

Prints median wall seconds, median CPU seconds (user + system of the process and its children,
steadier than wall time on a loaded machine), the ratios to docker-compose, and the load average
(/proc/loadavg).

Bytecode: Debian's docker-compose runs from the .pyc files its package installed; an editable
install of runbook has none, and with PYTHONDONTWRITEBYTECODE set every run would compile the
package's ~60 modules from source again (~0.1–0.2 s). So the runbook commands run with
PYTHONPYCACHEPREFIX set to a private temporary folder (removed at the end; the trees are not
written to) after one untimed warm-up run of every command, as an installed package runs.
``--no-bytecode-cache`` measures without it.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "tests" / "fixtures" / "ledgerline-erp" / "docker-compose.yml"
RUNBOOK = str(Path(sys.executable).parent / "runbook")


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(cmd: list[str], env: dict[str, str] | None) -> tuple[float, float]:
    """(wall s, CPU s) of one run."""
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, capture_output=True, env=env)  # lint exits 1 on findings; compose 1.29 rejects v2 keys
    return time.perf_counter() - t0, _children_cpu_s() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compose", default=str(COMPOSE))
    ap.add_argument("--baseline", help="another tree's `runbook` (e.g. main's .venv/bin/runbook), run interleaved")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="run runbook with the caller's environment (no private .pyc folder, no warm-up)")
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
    pyc = None if args.no_bytecode_cache else tempfile.mkdtemp(prefix="rb-bench-pyc-")
    env = None
    if pyc is not None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pyc
    envs = {name: (None if name.startswith("docker-compose") else env) for name in cmds}
    try:
        if pyc is not None:
            for name, cmd in cmds.items():  # untimed warm-up: writes the .pyc files once
                run(cmd, envs[name])
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        load0 = Path("/proc/loadavg").read_text().split()[:3]
        for _ in range(args.repeat):  # interleaved so load affects all alike
            for name, cmd in cmds.items():
                times[name].append(run(cmd, envs[name]))
    finally:
        if pyc is not None:
            shutil.rmtree(pyc, ignore_errors=True)
    ref_wall = statistics.median(w for w, _ in times["docker-compose config"])
    ref_cpu = statistics.median(c for _, c in times["docker-compose config"])
    print(f"load before {' '.join(load0)}, after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; "
          f"bytecode cache: {'off' if pyc is None else 'private folder, after a warm-up run'}")
    print(f"{'':26} {'wall s':>7} {'x compose':>9} {'CPU s':>7} {'x compose':>9}   wall runs")
    for name, ts in times.items():
        w = statistics.median(x for x, _ in ts)
        c = statistics.median(x for _, x in ts)
        print(f"{name:26} {w:>7.2f} {w / ref_wall:>9.2f} {c:>7.2f} {c / ref_cpu:>9.2f}   "
              f"{' '.join(f'{x:.2f}' for x, _ in ts)}")


if __name__ == "__main__":
    main()
