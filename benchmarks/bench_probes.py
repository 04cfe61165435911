"""Probe round: ours (concurrent, per-probe hard timeouts) vs the same probes one after another.

Run: ``.venv/bin/python benchmarks/bench_probes.py [--rounds N]``

A round of 50 probes on 127.0.0.1: 15 HTTP (NestJS Terminus body), 15 TCP, 10 Redis PING
(a real redis-server with requirepass) and 10 TCP probes to a blackhole with a 2 s timeout.
Goals: wall <= 2.5 s for the round; <= 0.2 CPU-s per round of the 40 answering probes
(the collector runs rounds forever). Servers run in child processes, so the CPU measured
(``time.process_time``, all threads of this process) is the probing cost only.
"""
from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from runbook_lib.probes import runner  # noqa: E402
from runbook_lib.probes.spec import ProbeSpec  # noqa: E402
from servers import TcpBlackhole, free_port, wait_port  # noqa: E402


# tests/servers.HttpStub (Terminus routes, listen backlog 128) in a child process
HTTP_SERVER = """
import sys, time, socket
sys.path.insert(0, '.')
import servers
stub = servers.HttpStub()
stub.server.server_close()
stub.server = servers._Server(('127.0.0.1', int(sys.argv[1])), stub.server.RequestHandlerClass)
stub.server.daemon_threads = True
stub.server.serve_forever()
"""


def start_servers(tmp: Path) -> tuple[list[subprocess.Popen], int, int, str]:
    http_port, redis_port = free_port(), free_port()
    password = "bench-" + secrets.token_hex(6)
    procs = [
        subprocess.Popen([sys.executable, "-c", HTTP_SERVER, str(http_port)], cwd=str(ROOT / "tests"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind",
                          "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    wait_port(http_port, 20, procs[0])
    wait_port(redis_port, 20, procs[1])
    return procs, http_port, redis_port, password


def make_specs(http_port: int, redis_port: int, password: str, blackhole_port: int) -> tuple[list, list]:
    answering = ([ProbeSpec(f"app{i}", "http", port=http_port, path="/health", timeout_s=2.0) for i in range(15)]
                 + [ProbeSpec(f"tcp{i}", "tcp", port=http_port, timeout_s=2.0) for i in range(15)]
                 + [ProbeSpec(f"redis{i}", "redis", port=redis_port, timeout_s=2.0, options={"password": password})
                    for i in range(10)])
    hole = [ProbeSpec(f"hole{i}", "tcp", port=blackhole_port, timeout_s=2.0) for i in range(10)]
    return answering, hole


def sequential(specs: list[ProbeSpec]) -> list[dict]:
    """The reference: the same probes one after another (each with its own timeout)."""
    return [runner.probe_once(s) for s in specs]


def measure(fn, *args) -> tuple[float, float, object]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rb-bench-probes-"))
    procs, http_port, redis_port, password = start_servers(tmp)
    hole = TcpBlackhole()
    try:
        answering, holes = make_specs(http_port, redis_port, password, hole.port)
        round50 = answering + holes
        runner.run_round(answering[:3])  # warm imports (httpx, redis) outside the timings

        results = []
        walls, cpus = [], []
        for _ in range(args.rounds):
            w, c, df = measure(runner.run_round, round50)
            walls.append(w)
            cpus.append(c)
        states = df["state"].value_counts().to_dict()
        results.append(("ours: run_round (concurrent)", 50, statistics.median(walls), min(walls),
                        statistics.median(cpus), f"{states}"))
        w, c, rows = measure(sequential, round50)
        seq_states = {}
        for r in rows:
            seq_states[r["state"]] = seq_states.get(r["state"], 0) + 1
        results.append(("reference: one after another", 50, w, w, c, f"{seq_states}"))

        cpu40, wall40 = [], []
        for _ in range(max(args.rounds, 10)):
            w, c, df40 = measure(runner.run_round, answering)
            cpu40.append(c)
            wall40.append(w)
        results.append(("ours: 40 answering probes", 40, statistics.median(wall40), min(wall40),
                        statistics.median(cpu40), f"{df40['state'].value_counts().to_dict()}"))
        w, c, _ = measure(sequential, answering)
        results.append(("reference: 40 one after another", 40, w, w, c, ""))

        print(f"probe round benchmark ({args.rounds} rounds, median; 2 s timeout, 10 blackhole targets)\n")
        print(f"| what | probes | wall s (median) | wall s (best) | CPU s (median) | states |")
        print("|---|---:|---:|---:|---:|---|")
        for name, n, wm, wb, cm, st in results:
            print(f"| {name} | {n} | {wm:.2f} | {wb:.2f} | {cm:.3f} | {st} |")
        ok_wall = statistics.median(walls) <= 2.5
        ok_cpu = statistics.median(cpu40) <= 0.2
        print(f"\ngoal wall <= 2.5 s for 50 probes: {'met' if ok_wall else 'NOT met'}; "
              f"goal <= 0.2 CPU-s per 40-probe round: {'met' if ok_cpu else 'NOT met'}")
        return 0
    finally:
        hole.close()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
