"""Masking 1 MB of hostile text (issue 14): runbook's redact against the one on main before it.

The hostile text is runs of ``-``, ``=``, spaces and long tokens (1-20 k characters each, the
shapes that made the old command-flag pattern quadratic) with ordinary secret-bearing lines
between them; 100 values are learned first, as a container's environment would teach them.

The old implementation is loaded from git (``git show main:runbook_lib/redact.py`` by default,
``--old-ref`` to change) in this same run. It cannot mask the whole megabyte in reasonable
time, so it is measured directly on a prefix of the same text and, per shape, on single runs
of 2 k and 4 k characters; its time for the full text is then the sum over the text's runs of
the measured quadratic cost (printed as an estimate, never as a measurement).

    .venv/bin/python benchmarks/bench_masking.py [--repeat 5] [--size 1000000] [--prefix 8000]
"""
from __future__ import annotations

import argparse
import random
import statistics
import string
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runbook_lib import redact  # noqa: E402  (after the path set-up, so the checkout is measured)

SHAPES = ("-", "=", " ", "token")
LINES = ("POSTGRES_PASSWORD=s3cr3t-{i} connecting to postgres://app:pw{i}x@db:5432/app\n",
         "redis-cli --no-auth-warning -a {i}90817263 ping -> NOAUTH\n",
         "GET /health Authorization: Bearer eyJhbGciOi{i}.payload.sig --password=hunter{i}x\n",
         "INFO worker-{i} started in 12 ms; passing_pct: 50; key: environment.X\n")


def hostile_text(size: int, seed: int = 14) -> tuple[str, list[tuple[str, int]]]:
    """``size`` characters of hostile runs and secret lines; also the (shape, length) of each run."""
    rnd = random.Random(seed)
    parts: list[str] = []
    runs: list[tuple[str, int]] = []
    total = 0
    alphabet = string.ascii_letters + string.digits
    while total < size:
        shape = rnd.choice(SHAPES)
        n = rnd.randrange(1_000, 20_000)
        run = "".join(rnd.choice(alphabet) for _ in range(n)) if shape == "token" else shape * n
        line = rnd.choice(LINES).format(i=rnd.randrange(1000))
        parts += [run, "\n", line]
        runs.append((shape, n))
        total += n + 1 + len(line)
    return "".join(parts)[:size], runs


def learned_env(count: int = 100) -> dict[str, str]:
    rnd = random.Random(7)
    return {f"SVC{i}_PASSWORD": "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(16))
            for i in range(count)}


def load_old(ref: str) -> types.ModuleType:
    """The redact module as it is at ``ref`` (e.g. ``main``), loaded from git under another name."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:runbook_lib/redact.py"], check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType("redact_old")
    exec(compile(src, f"{ref}:runbook_lib/redact.py", "exec"), mod.__dict__)  # noqa: S102 - our own history
    return mod


def timed(fn, text: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(text)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--prefix", type=int, default=8_000, help="prefix the old implementation masks directly")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--old-ref", default="main")
    args = ap.parse_args()

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    text, runs = hostile_text(args.size)
    env = learned_env()
    new = redact.Redactor()
    new.learn_env(env)
    old_mod = load_old(args.old_ref)
    old = old_mod.Redactor()
    old.learn_env(env)

    new_full = timed(new.mask_text, text, args.repeat)
    prefix = text[:args.prefix]
    new_prefix = timed(new.mask_text, prefix, args.repeat)
    old_prefix = timed(old.mask_text, prefix, 1)

    # The old cost per shape: c * n^2 from single runs of 2 k and 4 k characters.
    coef: dict[str, float] = {}
    per_shape: dict[str, tuple[float, float]] = {}
    rnd = random.Random(3)
    for shape in SHAPES:
        times = []
        for n in (2_000, 4_000):
            run = "".join(rnd.choice(string.ascii_letters) for _ in range(n)) if shape == "token" else shape * n
            times.append(min(timed(old.mask_text, run, 2)))
        per_shape[shape] = (times[0], times[1])
        coef[shape] = times[1] / 4_000 ** 2
    old_estimate = sum(coef[s] * n * n for s, n in runs)
    # The new scanner's own worst case: a trigger word every few characters.
    dense = ("key: a password=x1 Bearer " * (args.size // 26 + 1))[:args.size]
    new_dense = timed(new.mask_text, dense, max(1, args.repeat // 2))
    old_dense = timed(old.mask_text, dense, 1)  # linear for the old patterns too: measured in full
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    best, med = min(new_full), statistics.median(new_full)
    print(f"# masking {len(text):,} characters of hostile text ({len(runs)} runs), {len(env)} learned values")
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)} (2 cores)")
    print()
    print("| what | new (this checkout) | old (" + args.old_ref + ") | old / new |")
    print("|---|---:|---:|---:|")
    print(f"| {len(text) / 1e6:.1f} MB hostile text | {best * 1000:.0f} ms best, {med * 1000:.0f} ms median "
          f"| ~{old_estimate:,.0f} s (estimate) | ~{old_estimate / best:,.0f}× |")
    print(f"| first {len(prefix):,} characters | {min(new_prefix) * 1000:.1f} ms | {old_prefix[0]:.2f} s (measured) "
          f"| {old_prefix[0] / min(new_prefix):,.0f}× |")
    print(f"| {len(dense) / 1e6:.1f} MB of dense secrets (`key: a password=x1 Bearer ` repeated) "
          f"| {min(new_dense) * 1000:.0f} ms best | {old_dense[0] * 1000:.0f} ms (measured) "
          f"| {old_dense[0] / min(new_dense):.1f}× |")
    for shape in SHAPES:
        t2, t4 = per_shape[shape]
        label = "long token" if shape == "token" else f"run of {shape!r}"
        print(f"| {label}: 2 k / 4 k characters | - | {t2 * 1000:.0f} / {t4 * 1000:.0f} ms (measured) "
              f"| x{t4 / t2 if t2 else 0:.1f} for 2x |")
    print()
    goal = "met" if best <= 0.2 else "NOT met"
    print(f"goal <= 0.2 s per MB: {goal} ({best:.3f} s best of {args.repeat}: "
          f"{' '.join(f'{t:.3f}' for t in new_full)})")


if __name__ == "__main__":
    main()
