"""Inventory of N containers: runbook vs the docker CLI vs docker-py, side by side in one run.

    .venv/bin/python benchmarks/bench_inventory.py --sizes 40 400 --repeat 5

Creates N running busybox containers labelled runbook.bench=<id> (removed at the end),
then times, on the same engine and in the same run:
- runbook:   inventory.gather_inventory(client, label=...) (full fidelity)
- CLI:       docker ps -aq --filter label=... | xargs docker inspect
- docker-py: client.containers.list(all=True, filters=...)
- bare list: client.api.containers(all=True, filters=...) (lacks restart counts, health, times)
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dockerenv  # noqa: E402
from runbook_lib.engine import inventory# noqa: E402
from runbook_lib.engine.connection import connect  # noqa: E402


def interleaved(fns: list, repeat: int) -> list[float]:
    """Median seconds of each function, run round-robin (one warm-up each) so load hits all alike."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            samples[i].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[40, 400])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    client = connect(timeout_s=60)
    image = dockerenv.build_busybox_image(client)
    label = f"runbook.bench={uuid.uuid4().hex[:8]}"
    key, val = label.split("=")
    rows = []
    made = 0
    try:
        for size in sorted(args.sizes):
            while made < size:
                client.api.start(client.api.create_container(
                    image, ["sleep", "3600"], labels={key: val, "com.docker.compose.project": "bench",
                                                      "com.docker.compose.service": f"svc{made}"},
                    host_config=client.api.create_host_config(restart_policy={"Name": "no"}))["Id"])
                made += 1
            cli = ("docker ps -aq --filter label=%s | xargs docker inspect > /dev/null" % label)
            t_cli, t_ours, t_py, t_bare = interleaved([
                lambda: subprocess.run(cli, shell=True, check=True),
                lambda: inventory.gather_inventory(client, label=label),
                lambda: client.containers.list(all=True, filters={"label": label}),
                lambda: client.api.containers(all=True, filters={"label": label})], args.repeat)
            n = len(inventory.gather_inventory(client, label=label))
            assert n == size, (n, size)
            rows.append((size, t_ours, t_cli, t_py, t_bare))
    finally:
        for c in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(c["Id"], force=True)
    print(f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"{'containers':>10} {'runbook':>10} {'CLI':>10} {'docker-py':>10} {'bare list':>10} {'runbook/CLI':>12}")
    for size, ours, cli_t, py, bare in rows:
        print(f"{size:>10} {ours*1000:>8.0f}ms {cli_t*1000:>8.0f}ms {py*1000:>8.0f}ms {bare*1000:>8.0f}ms {ours/cli_t:>11.2f}x")


if __name__ == "__main__":
    main()
