"""Several hosts (issue 12): the inventory of 3 engines x N containers gathered together by
``multistack.gather_hosts`` (the call behind `runbook diagnose --host ...`, full fidelity:
inventory, inspects, notes) against the slowest of the three engines gathered alone (same call,
one host). Goal: together <= 1.3 x the slowest alone.

The engines are extra dockerd instances, each in its own network namespace, started by the
tests' helpers (tests/swarmenv.py); the busybox image reaches them by `docker save | docker load`.
Each engine gets N containers labelled ``runbook.bench-hosts=<id>``: all created, the first
``--running`` of them started (`docker create` is much cheaper than a start). Containers are
created by a thread pool, and everything (containers, daemons by pid, namespaces, bridge) is
removed in a ``finally``, also on Ctrl-C.

    sudo .venv/bin/python benchmarks/bench_hosts.py [--containers 200] [--running 5] [--repeat 3]

After one untimed warm-up, runs are interleaved (together, then each engine alone, per repeat);
medians are reported.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import cProfile
import pstats
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dockerenv  # noqa: E402
import swarmenv  # noqa: E402
from runbook_lib.engine.connection import connect  # noqa: E402
from runbook_lib.multistack import gather_hosts  # noqa: E402
from runbook_lib.stack import gather  # noqa: E402

GOAL = 1.3


def _sigterm(signum, frame):  # noqa: ANN001 - signal handler: turn SIGTERM into the Ctrl-C path
    raise KeyboardInterrupt


def populate(url: str, image: str, n: int, running: int, label: str, workers: int) -> float:
    """Create ``n`` labelled containers on one engine (the first ``running`` started); seconds taken."""
    key, val = label.split("=")
    client = connect(url, timeout_s=120)

    def one(i: int) -> None:
        is_running = i < running
        cid = client.api.create_container(
            image, ["sleep", "3600"] if is_running else ["sh", "-c", "exit 0"], name=f"benchhosts-{val}-{i}",
            labels={key: val, "com.docker.compose.project": f"bench{val}",
                    "com.docker.compose.service": f"svc{i}", "com.docker.compose.container-number": "1"},
            host_config=client.api.create_host_config(restart_policy={"Name": "no"}, network_mode="none"))["Id"]
        if is_running:
            client.api.start(cid)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t0


def remove_labelled(url: str, label: str, workers: int) -> None:
    client = connect(url, timeout_s=120)
    ids = [c["Id"] for c in client.api.containers(all=True, filters={"label": label})]
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda cid: client.api.remove_container(cid, force=True), ids))


def timed_gather(hosts: list[str], timeout_s: float) -> tuple[float, float, int, str]:
    """Wall and CPU seconds (this process) of one gather_hosts call, rows in the combined inventory, status."""
    t0, c0 = time.perf_counter(), time.process_time()
    multi = gather_hosts(hosts, engine_timeout_s=timeout_s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, len(multi.inventory), multi.status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", type=int, default=3)
    ap.add_argument("--containers", type=int, default=200, help="containers per engine")
    ap.add_argument("--running", type=int, default=5, help="of which started (per engine)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8, help="threads creating containers per engine")
    ap.add_argument("--engine-timeout", type=float, default=30.0)
    ap.add_argument("--profile", action="store_true", help="also print the top of a cProfile of one host's stack.gather")
    args = ap.parse_args()
    why = swarmenv.can_run()
    if why:
        sys.exit(f"bench_hosts: {why}")
    signal.signal(signal.SIGTERM, _sigterm)
    shared = connect(timeout_s=120)
    image = dockerenv.build_busybox_image(shared)
    run_id = uuid.uuid4().hex[:8]
    label = f"runbook.bench-hosts={run_id}"
    lab = swarmenv.EngineLab()
    engines = []
    try:
        t0 = time.perf_counter()
        for _ in range(args.engines):
            engines.append(lab.engine(image=image))
        print(f"{args.engines} engines started (image loaded) in {time.perf_counter() - t0:.1f} s", flush=True)
        with cf.ThreadPoolExecutor(max_workers=len(engines)) as pool:
            took = list(pool.map(lambda e: populate(e.url, image, args.containers, args.running, label,
                                                    args.workers), engines))
        print("created " + ", ".join(f"{args.containers} on e{e.index} in {s:.1f} s" for e, s in zip(engines, took)),
              flush=True)
        hosts = [f"e{e.index}={e.url}" for e in engines]
        timed_gather(hosts, args.engine_timeout)  # warm-up, not timed (first-call imports, engine caches)
        together: list[float] = []
        alone: dict[str, list[float]] = {h: [] for h in hosts}
        for r in range(args.repeat):
            wall, cpu, rows, status = timed_gather(hosts, args.engine_timeout)
            together.append(wall)
            print(f"run {r + 1}: together {wall:.3f} s (cpu {cpu:.3f} s, {rows} rows, {status})", end="", flush=True)
            for h in hosts:
                wall, cpu, rows, status = timed_gather([h], args.engine_timeout)
                alone[h].append(wall)
                print(f"; {h.split('=')[0]} {wall:.3f} s (cpu {cpu:.3f} s, {rows} rows)", end="", flush=True)
            print()
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if args.profile:
            # gather_hosts works in threads cProfile does not follow: profile one host's gather directly
            prof = cProfile.Profile()
            prof.runcall(gather, client=connect(engines[0].url, timeout_s=args.engine_timeout))
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    finally:
        for e in engines:
            try:
                if e.pid is not None:
                    remove_labelled(e.url, label, args.workers)
            except Exception as exc:  # noqa: BLE001 - the daemon and its data go anyway
                print(f"cleanup of e{e.index}: {exc}", file=sys.stderr)
        lab.close()
    med_alone = {h.split("=")[0]: statistics.median(v) for h, v in alone.items()}
    slowest = max(med_alone, key=med_alone.get)
    ours, ref = statistics.median(together), med_alone[slowest]
    ratio = ours / ref
    print(f"{args.engines} engines x {args.containers} containers ({args.running} running each); load {load}")
    print(f"together (gather_hosts, {args.engines} hosts): median {ours:.3f} s  runs "
          + " ".join(f"{v:.3f}" for v in together))
    for h, v in alone.items():
        print(f"alone {h.split('=')[0]}: median {statistics.median(v):.3f} s  runs " + " ".join(f"{x:.3f}" for x in v))
    print(f"ratio together / slowest alone ({slowest}) = {ratio:.2f}x  goal <= {GOAL}x: "
          f"{'met' if ratio <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
