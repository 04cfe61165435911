"""Benchmark: classify 40 failing containers x 10 000 log lines (analysis.classify).

Compares runbook's matcher (needle pre-filter in one Aho-Corasick pass, patterns only
on a window around each hit) with its stdlib fallback (one ``str.find`` per needle) and
with a naive baseline (every pattern of every signature searched on every line).
Reports wall time, lines per second and peak memory (tracemalloc; ru_maxrss for the
process). Goal: <= 2 s wall for the 40 x 10 000 case.

    .venv/bin/python benchmarks/bench_diagnose.py [--containers 40] [--lines 10000]
                                                  [--baseline-containers 8] [--repeat 3]

``--profile`` (e.g. ``--containers 300 --lines 200 --profile``, the scale of `runbook diagnose` on a
host with 300 stopped containers) times the records path once (CPU) and prints its cProfile instead.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runbook_lib.analysis import logmatch, signatures as sig  # noqa: E402
from runbook_lib.analysis.classify import classify  # noqa: E402
from runbook_lib.analysis.diagnosis_core import diagnose_records  # noqa: E402

NOISE = [
    "[Nest] 1  - {ts}   LOG [RouterExplorer] Mapped {{/api/v1/items/{i}, GET}} route +{ms}ms",
    "[Nest] 1  - {ts}   LOG [InstanceLoader] TypeOrmModule dependencies initialized +{ms}ms",
    '{{"level":"INFO","timestamp":"{ts}","logger":"kafkajs","message":"[Consumer] Starting","groupId":"auth-consumer"}}',
    "{ts} UTC [{i}] LOG:  checkpoint complete: wrote {ms} buffers (0.1%); 0 WAL file(s) added",
    '172.18.0.{ms} - - [{ts}] "GET /api/v1/health HTTP/1.1" 200 {i} "-" "kube-probe/1.29"',
    "[Nest] 1  - {ts}  DEBUG [HealthController] redis: up, database: up, kafka: up ({ms} ms)",
    "{ts} INFO  [main] o.a.k.clients.consumer.ConsumerConfig: auto.offset.reset = latest, request.timeout.ms = 30000",
]
HITS = [
    "Error: Cannot find module '@opentelemetry/api'",
    "src/activities/index.ts(12,5): error TS2339: Property 'sendEmail' does not exist on type 'Activities'.",
    "Error: connect ECONNREFUSED 127.0.0.1:5432",
    "Error: getaddrinfo ENOTFOUND kafka",
    '{"level":"ERROR","logger":"kafkajs","message":"[BrokerPool] Failed to connect to seed broker, trying another '
    'broker from the list: Connection error: connect ECONNREFUSED 172.18.0.7:9093"}',
    'FATAL:  password authentication failed for user "vextrus"',
    'Error: Config validation error: "JWT_SECRET" is required',
    "Error: listen EADDRINUSE: address already in use :::3000",
]


def make_evidence(containers: int, lines: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for c in range(containers):
        rows = []
        for i in range(lines):
            ts = f"2026-11-27T00:{(i // 60) % 60:02d}:{i % 60:02d}.{c:03d}Z"
            rows.append(NOISE[rng.randrange(len(NOISE))].format(ts=ts, i=i, ms=rng.randrange(1, 250)))
        for _ in range(5):  # a few signature hits per container
            rows[rng.randrange(lines)] = HITS[rng.randrange(len(HITS))]
        out.append({"service": f"svc{c}", "container": f"stack-svc{c}-1", "state": "exited", "exit_code": 1,
                    "restart_count": 4, "restart_growth": 1, "log_lines": rows})
    return out


def naive(evidence: list[dict]) -> int:
    """The reference: every compiled pattern of every signature on every line."""
    found = 0
    patterns = [rx for s in sig.SIGNATURES if "log" in s.sources for rx in s.compiled]
    for ev in evidence:
        for line in ev["log_lines"]:
            for rx in patterns:
                if rx.search(line):
                    found += 1
                    break
    return found


def measure(fn, evidence, repeat: int) -> tuple[float, float, object]:
    """(median wall s, peak traced MB, result)."""
    walls, peak, result = [], 0.0, None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn(evidence)
        walls.append(time.perf_counter() - t0)
    gc.collect()
    tracemalloc.start()
    fn(evidence)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(walls), peak, result


def profile(evidence: list[dict], top: int = 20) -> None:
    """CPU time of the records path (``diagnose_records``) once, then its profile (no repeats)."""
    diagnose_records(evidence[:1])  # warm: the automaton, the compiled patterns
    t0 = time.process_time()
    found = diagnose_records(evidence)
    cpu = time.process_time() - t0
    print(f"diagnose_records: {cpu:.3f} s CPU, {len(found)} findings")
    prof = cProfile.Profile()
    prof.runcall(diagnose_records, evidence)
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=40)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--baseline-containers", type=int, default=8,
                    help="containers for the naive baseline (slow); its time is scaled to --containers")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="time the records path once and print its profile")
    args = ap.parse_args()

    evidence = make_evidence(args.containers, args.lines)
    if args.profile:
        profile(evidence)
        return 0
    total_lines = args.containers * args.lines
    mb_in = sum(len(x) + 1 for ev in evidence for x in ev["log_lines"]) / 2**20
    print(f"input: {args.containers} containers x {args.lines} lines = {total_lines} lines, {mb_in:.1f} MB of text")

    rows = []
    wall, peak, df = measure(classify, evidence, args.repeat)
    rows.append(("runbook classify (Aho-Corasick)", wall, peak, len(df), ""))

    saved = logmatch._ac
    logmatch._ac = None
    logmatch._automaton.cache_clear()
    try:
        wall_fb, peak_fb, df_fb = measure(classify, evidence, args.repeat)
    finally:
        logmatch._ac = saved
        logmatch._automaton.cache_clear()
    rows.append(("runbook classify (stdlib str.find fallback)", wall_fb, peak_fb, len(df_fb), ""))

    n = min(args.baseline_containers, args.containers)
    wall_nv, peak_nv, hits = measure(naive, evidence[:n], 1)
    scale = args.containers / n
    rows.append(("naive: every pattern on every line", wall_nv * scale, peak_nv, "-",
                 f"measured on {n} containers, scaled x{scale:g}" if scale != 1 else ""))
    sub = classify(evidence[:n])
    ours = int(sub.loc[sub["source"] == "log", "match_count"].sum())
    print(f"same lines found on the first {n} containers: runbook {ours}, naive {hits} "
          f"({'equal' if ours == hits else 'DIFFERENT'})")

    print(f"\n| {'matcher':44} | {'wall s':>7} | {'lines/s':>10} | {'peak MB':>8} | {'findings':>9} | note")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 12}|{'-' * 10}|{'-' * 11}|-----")
    for name, w, p, f, note in rows:
        print(f"| {name:44} | {w:7.3f} | {total_lines / w:10.0f} | {p:8.1f} | {str(f):>9} | {note}")
    worst = [{**ev, "log_lines": [f"2026-11-27T00:00:{i % 60:02d}Z Error: connect ECONNREFUSED 127.0.0.1:5432"
                                  for i in range(args.lines)]} for ev in evidence]
    wall_w, peak_w, df_w = measure(classify, worst, 1)
    print(f"| {'worst case: every line matches (crash loop)':44} | {wall_w:7.3f} | {total_lines / wall_w:10.0f} "
          f"| {peak_w:8.1f} | {len(df_w):>9} | {int(df_w['match_count'].sum())} matched lines")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess ru_maxrss {rss_mb:.0f} MB (includes the {mb_in:.0f} MB input and pandas)")
    print(f"speed-up over naive: x{rows[2][1] / wall:.0f}; goal <= 2 s wall: {'met' if wall <= 2 else 'NOT met'}")
    return 0 if wall <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
