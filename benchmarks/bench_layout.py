"""Before and after a restructure, side by side in one run: inventory, catalog + plan, report.

    .venv/bin/python benchmarks/bench_layout.py --before /path/to/old/checkout [--repeat 5] [--only plan inventory]

The old checkout needs its own ``.venv`` (``python3 -m venv .venv && .venv/bin/pip install -e .``).
Each measurement runs in a fresh worker process of the tree being measured (its own
interpreter and code), on the same containers and the same compose file, the two trees
interleaved, so machine load hits both alike. Prints one markdown table: wall-clock medians,
and for the in-process measurements the worker's CPU time too (less swayed by machine load).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _first(*names: str):
    """The first importable module of ``names`` (module paths moved in the restructure)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise SystemExit(f"none of {names} importable")


def _median_s(fn, repeat: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``repeat`` calls (after one warm call)."""
    fn()  # warm: imports, connection
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"s": statistics.median(wall), "cpu_s": statistics.median(cpu)}


def worker(task: str, arg: str, repeat: int) -> None:
    """Runs inside the measured tree's interpreter; prints the median seconds as JSON."""
    if task == "inventory":
        connection = _first("runbook_lib.engine.connection", "runbook_lib.connect")
        inventory = _first("runbook_lib.engine.inventory", "runbook_lib.inventory")
        client = connection.connect(timeout_s=60)
        n = len(inventory.gather_inventory(client, label=arg))
        secs = _median_s(lambda: inventory.gather_inventory(client, label=arg), repeat)
        print(json.dumps({**secs, "n": n}))
    elif task == "plan":
        compose = _first("runbook_lib.compose", "runbook_lib.compose.catalog")
        config = _first("runbook_lib.config")
        expected = _first("runbook_lib.analysis.expected", "runbook_lib.expected")
        inventory = _first("runbook_lib.engine.inventory", "runbook_lib.inventory")
        plan = _first("runbook_lib.analysis.plan", "runbook_lib.plan")
        load_catalog = getattr(compose, "load_catalog", None) or _first(
            "runbook_lib.compose.catalog").load_catalog

        def once():
            cat = load_catalog([arg], environ={}, config=config.RunbookConfig())
            status = expected.expected_vs_actual(cat.frame, inventory.empty_inventory(), project=cat.project)
            return plan.recovery_plan(cat.frame, status, project=cat.project)

        print(json.dumps({**_median_s(once, repeat), "n": 500}))
    else:
        raise SystemExit(f"unknown task {task}")


def _run_worker(tree: Path, task: str, arg: str, repeat: int) -> dict[str, float]:
    py = tree / ".venv" / "bin" / "python"
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([str(py), str(Path(__file__).resolve()), "--worker", task, arg,
                           "--repeat", str(repeat)], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=900, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report_once(tree: Path, out: Path) -> float:
    runbook = tree / ".venv" / "bin" / "runbook"
    t0 = time.perf_counter()
    subprocess.run([str(runbook), "report", "health_check", "--output-dir", str(out)], cwd=out,
                   capture_output=True, text=True, timeout=900, check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved before/after rounds")
    ap.add_argument("--worker", nargs=2, metavar=("TASK", "ARG"))
    ap.add_argument("--only", nargs="+", choices=["plan", "inventory", "report"], default=["plan", "inventory", "report"])
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeat)
        return 0
    if not args.before:
        ap.error("--before DIR is required")
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(HERE))
    import dockerenv  # noqa: E402  (test helpers: engine start, busybox image)
    from bench_compose import generate  # noqa: E402
    from runbook_lib.engine.connection import connect  # noqa: E402

    trees = {"before": args.before.resolve(), "after": REPO}
    rows: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # the worker's own CPU: what machine load changes least

    def record(what: str, name: str, got: dict[str, float]) -> None:
        rows.setdefault((what, name), []).append(got["s"])
        cpu.setdefault((what, name), []).append(got["cpu_s"])

    tmp = Path(tempfile.mkdtemp(prefix="bench-layout-"))
    compose_file = tmp / "docker-compose.yml"
    compose_file.write_text(generate(500))
    for _ in range(args.rounds if "plan" in args.only else 0):
        for name, tree in trees.items():
            record("catalog + plan, 500 services", name, _run_worker(tree, "plan", str(compose_file), args.repeat))
    if "inventory" in args.only or "report" in args.only:  # catalog + plan needs no engine
        if dockerenv.ensure_engine():
            raise SystemExit("no Docker engine")
        client = connect(timeout_s=60)
        image = dockerenv.build_busybox_image(client)
    for size in (40, 400) if "inventory" in args.only else ():
        label = f"runbook.bench={uuid.uuid4().hex[:8]}"
        key, val = label.split("=")
        try:
            for i in range(size):
                client.containers.run(image, ["sleep", "3600"], labels={key: val}, detach=True,
                                      name=f"bench-layout-{val}-{i}")
            for _ in range(args.rounds):
                for name, tree in trees.items():
                    record(f"inventory, {size} containers", name, _run_worker(tree, "inventory", label, args.repeat))
        finally:
            for c in client.api.containers(all=True, filters={"label": label}):
                client.api.remove_container(c["Id"], force=True)
    for _ in range(args.rounds if "report" in args.only else 0):
        for name, tree in trees.items():
            out = tmp / f"out-{name}"
            out.mkdir(exist_ok=True)
            rows.setdefault(("report health_check, end to end", name), []).append(_report_once(tree, out))
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nload average at the end: {' '.join(load)}; {args.rounds} interleaved rounds, "
          f"each a median of {args.repeat} (report: one run per round)\n")
    print("| measurement | before | after | after / before | rounds before | rounds after "
          "| CPU before | CPU after | CPU after / before |")
    print("|---|---:|---:|---:|---|---|---:|---:|---:|")
    for what in dict.fromkeys(k[0] for k in rows):
        b, a = statistics.median(rows[(what, "before")]), statistics.median(rows[(what, "after")])
        fmt = (lambda s: f"{s * 1000:.0f} ms") if b < 1 else (lambda s: f"{s:.2f} s")
        cells = ["", "", ""]
        if (what, "before") in cpu:
            cb, ca = statistics.median(cpu[(what, "before")]), statistics.median(cpu[(what, "after")])
            cells = [fmt(cb), fmt(ca), f"{ca / cb:.2f}×"]
        print(f"| {what} | {fmt(b)} | {fmt(a)} | {a / b:.2f}× | "
              f"{' '.join(fmt(x) for x in rows[(what, 'before')])} | "
              f"{' '.join(fmt(x) for x in rows[(what, 'after')])} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
