"""Benchmark: 10 collectors writing concurrently into one PostgreSQL store, 0 rounds lost (issue 12).

Each collector is the real CLI, started at the same moment (so they also race on the schema
migration): ``runbook collect --store postgresql://… --host cN=unix:///var/run/docker.sock
--project P --interval 2 --count K`` with K = minutes x 60 / interval; every collector names
its own host, so it writes its own rows (the multi-collector shape of a team store). The
engine is the local one, only read; the benchmark starts one labelled idle busybox container
(compose labels, project P, no network) so every round of every collector has exactly one
service to record, and removes it at the end.

At the end, per host: the rounds the collector reported (its ``round N:`` lines with their
timestamps, exit status) against what the store holds (samples of the host's service,
distinct timestamps, sum of the effective-state runs' sample counts). Lost = reported and
not stored; duplicated = stored twice or counted twice in the runs; extra = stored and never
reported.

The PostgreSQL server: Debian's PostgreSQL 15 on 127.0.0.1, free port, temp folder (as
tests/servers.py), stopped and removed at the end, like the container, even on error / Ctrl-C.

    .venv/bin/python benchmarks/bench_collectors.py [--minutes 5] [--collectors 10] [--interval 2]
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import psycopg  # noqa: E402
from bench_pg_store import pg_server  # noqa: E402

RUNBOOK = Path(sys.executable).parent / "runbook"
BUSYBOX_IMAGE = "runbook-test-busybox:1"  # built by the test suite (tests/dockerenv.py)
ROUND_OK = re.compile(r"^(\S+) round (\d+): (\d+) services")
ROUND_FAILED = re.compile(r"^round (\d+) failed")


def start_container(project: str, label: str) -> str:
    """One idle container with compose labels (service ``idle``), no network; returns its id."""
    out = subprocess.run(["docker", "run", "-d", "--network", "none", "--label", label,
                          "--label", f"com.docker.compose.project={project}",
                          "--label", "com.docker.compose.service=idle",
                          "--label", "com.docker.compose.container-number=1",
                          "--label", f"com.docker.compose.project.config_files=/nonexistent/{project}/compose.yml",
                          "--name", f"{project}-idle-1", BUSYBOX_IMAGE, "sleep", "3600"],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def parse_log(text: str) -> tuple[set[int], int, int | None]:
    """(epoch seconds of the rounds reported written, rounds reported failed, final 'after N round(s)')."""
    ok: set[int] = set()
    failed = 0
    final = None
    for line in text.splitlines():
        if m := ROUND_OK.match(line):
            ok.add(int(datetime.fromisoformat(m.group(1)).timestamp()))
        elif ROUND_FAILED.match(line):
            failed += 1
        elif m := re.search(r"stopped cleanly after (\d+) round", line):
            final = int(m.group(1))
    return ok, failed, final


def stored(url: str, project: str) -> dict[str, dict]:
    """Per host: the sample timestamps of its ``idle`` service and the runs' sample count."""
    out: dict[str, dict] = {}
    with psycopg.connect(url) as pg:
        for host, sid in pg.execute("SELECT host, id FROM services WHERE project=%s AND service='idle'", (project,)):
            ts = [r[0] for r in pg.execute("SELECT ts FROM samples WHERE service_id=%s", (sid,))]
            runs_n = pg.execute("SELECT COALESCE(SUM(n), 0) FROM intervals WHERE service_id=%s", (sid,)).fetchone()[0]
            out[host] = {"ts": ts, "runs_n": int(runs_n)}
        out["_rounds_rows"] = pg.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--collectors", type=int, default=10)
    ap.add_argument("--interval", type=float, default=2.0)
    a = ap.parse_args()
    count = max(1, int(a.minutes * 60 / a.interval))
    tag = secrets.token_hex(4)
    project = f"rbbench{tag}"
    logs = Path(tempfile.mkdtemp(prefix="bench_collectors_"))
    container = None
    procs: list[subprocess.Popen] = []
    try:
        container = start_container(project, f"runbook.test=benchpg-{tag}")
        with pg_server() as pg:
            t0 = time.perf_counter()
            for i in range(1, a.collectors + 1):
                with open(logs / f"c{i}.log", "w") as f:
                    procs.append(subprocess.Popen(
                        [str(RUNBOOK), "collect", "--store", pg.url, "--host", f"c{i}=unix:///var/run/docker.sock",
                         "--project", project, "--interval", f"{a.interval:g}", "--count", str(count)],
                        stdout=f, stderr=subprocess.STDOUT, cwd=logs))
            print(f"{a.collectors} collectors x {count} rounds every {a.interval:g} s started", flush=True)
            codes = [p.wait() for p in procs]
            wall_s = time.perf_counter() - t0
            load = os.getloadavg()
            db = stored(pg.url, project)
        rows = []
        totals = dict(expected=0, reported=0, failed=0, stored=0, lost=0, dup=0, extra=0)
        for i, code in enumerate(codes, 1):
            text = (logs / f"c{i}.log").read_text()
            ok, failed, final = parse_log(text)
            got = db.get(f"c{i}", {"ts": [], "runs_n": 0})
            got_set = set(got["ts"])
            lost = len(ok - got_set)
            dup = (len(got["ts"]) - len(got_set)) + max(0, got["runs_n"] - len(got["ts"]))
            extra = len(got_set - ok)
            rows.append(f"| c{i} | {code} | {count} | {len(ok)} | {failed} | {final} | {len(got['ts'])} | "
                        f"{got['runs_n']} | {lost} | {dup} | {extra} |")
            for k, v in (("expected", count), ("reported", len(ok)), ("failed", failed), ("stored", len(got["ts"])),
                         ("lost", lost), ("dup", dup), ("extra", extra)):
                totals[k] += v
            if code != 0 or failed:
                print(f"--- c{i} log (exit {code}) ---\n{text[-2000:]}")
        print()
        print("| collector | exit | rounds asked | reported written | reported failed | 'stopped after' | "
              "samples stored | runs' sample count | lost | duplicated | extra |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print(f"| **all** | | {totals['expected']} | {totals['reported']} | {totals['failed']} | | {totals['stored']} | "
              f"| **{totals['lost']}** | **{totals['dup']}** | {totals['extra']} |")
        print(f"\nwall time {wall_s:.1f} s ({a.minutes:g} min asked); rows in the shared `rounds` table: "
              f"{db['_rounds_rows']} (keyed by second, shared by all hosts); load average after the run: "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        good = (totals["lost"] == 0 and totals["dup"] == 0 and totals["extra"] == 0 and totals["failed"] == 0
                and totals["reported"] == totals["expected"] and not any(codes))
        print("RESULT:", "0 rounds lost, 0 duplicated" if good else "FAILED (see table)")
        return 0 if good else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # SIGTERM: the collector stops after its round
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if container:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=120)
        for f in logs.glob("*"):
            f.unlink()
        logs.rmdir()


if __name__ == "__main__":
    sys.exit(main())
