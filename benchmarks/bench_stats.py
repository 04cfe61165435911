"""Resource stats of N running containers: runbook (one-shot, concurrent) vs docker-py's serial loop.

    .venv/bin/python benchmarks/bench_stats.py --count 20 --repeat 3

Creates N running busybox containers labelled runbook.bench=<id> (removed at the end), then
times, on the same engine and in the same run:
- runbook:   engine.stats.read_stats(client, ids)  (one-shot, thread pool over httpx on the socket)
- docker-py: [c.stats(stream=False) for c in client.containers.list(filters=...)]  (serial)
Prints the machine load (/proc/loadavg) before and after. Goal: runbook <= 1.5 s for 20.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dockerenv  # noqa: E402
from runbook_lib.engine.connection import connect  # noqa: E402
from runbook_lib.engine.stats import read_stats  # noqa: E402


def timed(fn, repeat: int, pause_s: float = 0.0) -> tuple[float, list[float]]:
    samples = []
    for _ in range(repeat):
        time.sleep(pause_s)  # noqa: not a test: spacing between benchmark runs
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), samples


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between runs (the collector's spacing)")
    args = ap.parse_args()
    client = connect(timeout_s=60)
    image = dockerenv.build_busybox_image(client)
    label = f"runbook.bench={uuid.uuid4().hex[:8]}"
    key, val = label.split("=")
    ids = []
    try:
        for i in range(args.count):
            cid = client.api.create_container(image, ["sleep", "3600"],
                                              labels={key: val, "com.docker.compose.project": "bench",
                                                      "com.docker.compose.service": f"svc{i}"})["Id"]
            client.api.start(cid)
            ids.append(cid)
        load_before = loadavg()
        read_stats(client, ids)  # warm-up
        # Engine 20.10 answers a second stats request for the same container within ~1 s only at its
        # next 1 s tick; the collector samples every >= 5 s, so the runs are spaced like it (--pause).
        ours, ours_all = timed(lambda: read_stats(client, ids), args.repeat, args.pause)
        back_to_back, _ = timed(lambda: read_stats(client, ids), 2)
        frame = read_stats(client, ids)
        assert len(frame) == args.count and frame["error"].isna().all(), frame[frame["error"].notna()]
        listed = client.containers.list(filters={"label": label})
        serial, serial_all = timed(lambda: [c.stats(stream=False) for c in listed], max(1, args.repeat // 2))
        load_after = loadavg()
    finally:
        for c in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(c["Id"], force=True)
    print(f"containers: {args.count}; loadavg before {load_before}, after {load_after}")
    print(f"runbook (one-shot, concurrent): median {ours:.2f} s  runs {[round(x, 2) for x in ours_all]}")
    print(f"runbook back-to-back (no pause): median {back_to_back:.2f} s")
    print(f"docker-py serial stats(stream=False): median {serial:.2f} s  runs {[round(x, 2) for x in serial_all]}")
    print(f"speed-up: {serial / ours:.1f}x; goal <= 1.5 s: {'met' if ours <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
