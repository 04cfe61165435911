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
medians are reported. Each run also reads the CPU seconds of this process and of the engines'
dockerd processes (utime + stime in /proc/PID/stat, 10 ms ticks): the gathering is CPU work on
both sides, so on this machine together can never take less than (all that CPU) / (cores); that
floor, over the slowest engine alone, is the best ratio the machine allows.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import cProfile
import os
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
CORES = os.cpu_count() or 1


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


def dockerd_cpu_s(pids: list[int]) -> float:
    """utime + stime of the given processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def timed_gather(hosts: list[str], timeout_s: float, pids: list[int]) -> tuple[float, float, float, int, str]:
    """Wall seconds of one gather_hosts call, CPU seconds of this process and of the engines' dockerds,
    rows in the combined inventory, status."""
    d0, t0, c0 = dockerd_cpu_s(pids), time.perf_counter(), time.process_time()
    multi = gather_hosts(hosts, engine_timeout_s=timeout_s)
    wall, cpu, dcpu = time.perf_counter() - t0, time.process_time() - c0, dockerd_cpu_s(pids) - d0
    return wall, cpu, dcpu, len(multi.inventory), multi.status


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
        pids = {h: [e.pid] for h, e in zip(hosts, engines)}
        every = [e.pid for e in engines]
        timed_gather(hosts, args.engine_timeout, every)  # warm-up, not timed (first-call imports, engine caches)
        together: list[float] = []
        floor: list[float] = []  # (this process's CPU + the dockerds' CPU) / cores, per together run
        floor_alone: list[float] = []  # the same with the CPU of the three alone runs of that repeat
        alone: dict[str, list[float]] = {h: [] for h in hosts}
        for r in range(args.repeat):
            wall, cpu, dcpu, rows, status = timed_gather(hosts, args.engine_timeout, every)
            together.append(wall)
            floor.append((cpu + dcpu) / CORES)
            print(f"run {r + 1}: together {wall:.3f} s (cpu {cpu:.3f} s + dockerds {dcpu:.2f} s, {rows} rows, "
                  f"{status})", end="", flush=True)
            floor_alone.append(0.0)
            for h in hosts:
                wall, cpu, dcpu, rows, status = timed_gather([h], args.engine_timeout, pids[h])
                alone[h].append(wall)
                floor_alone[-1] += (cpu + dcpu) / CORES
                print(f"; {h.split('=')[0]} {wall:.3f} s (cpu {cpu:.3f} s + dockerd {dcpu:.2f} s, {rows} rows)",
                      end="", flush=True)
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
    best, best_alone = statistics.median(floor), statistics.median(floor_alone)
    fastest = min(min(v) for v in alone.values())  # the nearest to an idle machine this run saw
    print(f"CPU floor of together on {CORES} cores = (process + dockerds CPU) / cores: {best:.3f} s (median; "
          f"{best_alone:.3f} s from the CPU of the alone runs) = {best / ref:.2f}x the slowest alone's median, "
          f"{best / fastest:.2f}x the fastest alone run ({fastest:.3f} s): no run can beat these ratios here")

if __name__ == "__main__":
    main()
