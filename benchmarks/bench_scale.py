"""Scale on one host: S stopped + R running containers of one compose project (labelled
runbook.bench-scale=<id>, removed at the end even on failure), then the on-call commands, cold:
`runbook report health_check`, `runbook diagnose`, `runbook probe`, each scoped to the project.

    .venv/bin/python benchmarks/bench_scale.py --stopped 300 --running 60 --repeat 1 \
        [--before /path/to/other/.venv/bin/runbook] [--no-report]

``--before``: another checkout's runbook, run interleaved on the same containers (A/B).
Also prints the slowest cells of the last health_check run (papermill's per-cell durations).
Prints wall time and peak RSS (of the process tree, GNU time's %M) per command, and the load.
Goals (issue 15): report <= 4 s, diagnose and probe each <= 1 s.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dockerenv  # noqa: E402
from bench_report import compile_package  # noqa: E402 - beside this script
from runbook_lib.engine.connection import connect  # noqa: E402

RUNBOOK = str(Path(sys.executable).parent / "runbook")


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS in MB of ``cmd`` (exit status ignored: degraded reports exit 0/1)."""
    with tempfile.NamedTemporaryFile("r") as f:
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd], capture_output=True)
        wall = time.perf_counter() - t0
        return wall, int(f.read().split()[-1]) // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stopped", type=int, default=300)
    ap.add_argument("--running", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--before", "--baseline", default=None, help="another runbook executable, run interleaved (A/B)")
    ap.add_argument("--no-report", action="store_true", help="diagnose and probe only")
    args = ap.parse_args()
    compile_package()
    client = connect(timeout_s=120)
    image = dockerenv.build_busybox_image(client)
    run_id = uuid.uuid4().hex[:8]
    label, project = f"runbook.bench-scale={run_id}", f"benchscale{run_id}"
    key, val = label.split("=")

    def make(i: int) -> None:
        running = i < args.running
        cid = client.api.create_container(
            image, ["sleep", "3600"] if running else ["sh", "-c", "exit 0"],
            labels={key: val, "com.docker.compose.project": project,
                    "com.docker.compose.service": f"svc{i}", "com.docker.compose.container-number": "1"},
            host_config=client.api.create_host_config(restart_policy={"Name": "no"}))["Id"]
        client.api.start(cid)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:  # the engine creates a few at once faster
            list(pool.map(make, range(args.stopped + args.running)))
        out = tempfile.mkdtemp(prefix="bench-scale-")
        cmds = {"report health_check": [RUNBOOK, "report", "health_check", "-p", "project", project,
                                        "--output-dir", out, "--quiet"],
                "diagnose": [RUNBOOK, "diagnose", "--project", project],
                "probe": [RUNBOOK, "probe", "--project", project]}
        if args.no_report:
            del cmds["report health_check"]
        if args.before:  # interleaved command by command, so that a change of load hits both alike
            cmds = {name: cmd for k, c in cmds.items() for name, cmd in ((f"{k} (before)", [args.before, *c[1:]]), (k, c))}
        results: dict[str, list[tuple[float, int]]] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                results[name].append(timed(cmd))
    finally:
        for c in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(c["Id"], force=True)
    print(f"{args.stopped} stopped + {args.running} running; load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"{'':22} {'wall s':>8} {'peak RSS MB':>12}   runs")
    for name, rs in results.items():
        print(f"{name:22} {statistics.median(r[0] for r in rs):>8.2f} {max(r[1] for r in rs):>12}   "
              f"{' '.join(f'{r[0]:.2f}' for r in rs)}")
    slowest_cells(Path(out))


def slowest_cells(out: Path, top: int = 6) -> None:
    """The slowest cells of the newest health_check notebook (papermill records each cell's duration)."""
    runs = sorted(out.rglob("health_check-*.ipynb"))
    if not runs:
        return
    nb = json.loads(runs[-1].read_text())
    cells = [(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, i,
              "".join(c.get("source", "")).splitlines()[:1]) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    print(f"slowest cells of {runs[-1].name}: " + "; ".join(
        f"#{i} {d:.2f}s {(src or [''])[0][:40]!r}" for d, i, src in sorted(cells, reverse=True)[:top]))


if __name__ == "__main__":
    main()
