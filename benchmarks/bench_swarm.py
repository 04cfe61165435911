"""Swarm frames (issue 12): nodes, services and tasks of 100 services / 500 tasks read by
``engine.swarm.gather_swarm`` (what `runbook diagnose` reads on a Swarm manager) against the
Docker CLI: `docker service ls` plus `docker service ps --no-trunc SVC` for every service
(DOCKER_HOST pointing at the manager's socket). Goal: ours <= 1.0 x the CLI.

The manager is an extra dockerd in its own network namespace (tests/swarmenv.py), never the
shared engine; `swarm init` runs there only. Services: ``--services`` x ``--replicas`` with a
placement constraint no node satisfies (node.labels.bench==none), so every task stays pending
and no container is started. Everything is removed in a ``finally`` (also on Ctrl-C): the
manager leaves the Swarm, the daemon is stopped by pid, its namespace and folders are removed.

    sudo .venv/bin/python benchmarks/bench_swarm.py [--services 100] [--replicas 5] [--repeat 3]

After one untimed warm-up of each side, both are measured interleaved; medians are reported. "ours" includes connecting.
``gather_swarm`` with logs (diagnose's call: it also reads the logs of every service that does
not converge, here all of them) is printed as a third line.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dockerenv  # noqa: E402
import swarmenv  # noqa: E402
from docker.types import ServiceMode  # noqa: E402

from runbook_lib.engine.connection import connect  # noqa: E402
from runbook_lib.engine.swarm import gather_swarm  # noqa: E402

GOAL = 1.0


def _sigterm(signum, frame):  # noqa: ANN001 - signal handler: turn SIGTERM into the Ctrl-C path
    raise KeyboardInterrupt


def ours(url: str, with_logs: bool) -> tuple[float, int, int]:
    """Wall seconds of connect + gather_swarm; (services, tasks) read."""
    t0 = time.perf_counter()
    frames = gather_swarm(connect(url, timeout_s=60), with_logs=with_logs)
    wall = time.perf_counter() - t0
    return wall, len(frames.services), len(frames.tasks)


def cli(url: str) -> tuple[float, int, int]:
    """Wall seconds of `docker service ls` + `docker service ps --no-trunc` per service; (services, task lines)."""
    env = {**os.environ, "DOCKER_HOST": url}
    t0 = time.perf_counter()
    ls = subprocess.run(["docker", "service", "ls"], env=env, capture_output=True, text=True, check=True)
    names = [line.split()[1] for line in ls.stdout.splitlines()[1:] if line.strip()]
    tasks = 0
    for name in names:
        ps = subprocess.run(["docker", "service", "ps", "--no-trunc", name], env=env, capture_output=True, text=True,
                            check=True)
        tasks += len(ps.stdout.splitlines()) - 1
    return time.perf_counter() - t0, len(names), tasks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8, help="threads creating services")
    args = ap.parse_args()
    why = swarmenv.can_run()
    if why:
        sys.exit(f"bench_swarm: {why}")
    signal.signal(signal.SIGTERM, _sigterm)
    image = dockerenv.build_busybox_image(connect(timeout_s=120))
    run_id = uuid.uuid4().hex[:8]
    want = args.services * args.replicas
    lab = swarmenv.EngineLab()
    results: dict[str, list[float]] = {"ours (frames)": [], "CLI (ls + ps per service)": [], "ours (with logs)": []}
    try:
        mgr = lab.engine(image=image)
        mgr.docker("swarm", "init", "--advertise-addr", mgr.address)
        client = connect(mgr.url, timeout_s=120)
        t0 = time.perf_counter()

        def one(i: int) -> None:
            client.services.create(
                image, ["sleep", "3600"], name=f"bench{run_id}_{i:03d}", mode=ServiceMode("replicated", args.replicas),
                constraints=["node.labels.bench==none"], labels={"runbook.bench-swarm": run_id})

        with cf.ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(one, range(args.services)))
        dockerenv.wait_for(lambda: len(client.api.tasks()) >= want, timeout_s=300, interval_s=1)
        print(f"{args.services} services, {want} pending tasks in {time.perf_counter() - t0:.1f} s", flush=True)
        ours(mgr.url, True), cli(mgr.url)  # warm-up, not timed (first-call imports, engine caches)
        for r in range(args.repeat):
            line = []
            for name, fn in (("ours (frames)", lambda: ours(mgr.url, False)),
                             ("CLI (ls + ps per service)", lambda: cli(mgr.url)),
                             ("ours (with logs)", lambda: ours(mgr.url, True))):
                wall, n_svc, n_task = fn()
                results[name].append(wall)
                line.append(f"{name} {wall:.3f} s ({n_svc} services, {n_task} tasks)")
            print(f"run {r + 1}: " + "; ".join(line), flush=True)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    finally:
        lab.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{args.services} services x {args.replicas} replicas (all pending, no containers); load {load}")
    for k, v in results.items():
        print(f"{k:28} median {med[k]:.3f} s  runs " + " ".join(f"{x:.3f}" for x in v))
    ratio = med["ours (frames)"] / med["CLI (ls + ps per service)"]
    print(f"ratio ours (frames) / CLI = {ratio:.2f}x  goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'}; "
          f"with logs {med['ours (with logs)'] / med['CLI (ls + ps per service)']:.2f}x")


if __name__ == "__main__":
    main()
