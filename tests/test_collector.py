"""Collector: rounds against the real engine, engine faults, clean stop on SIGTERM, no overlap."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.history import collector
from runbook_lib.history import debounce as db
from runbook_lib.history import store as st
from runbook_lib.history import uptime as up

REPO = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2026-11-20T00:00:00Z")


@pytest.mark.docker
def test_stop_and_start_between_rounds_gives_one_incident(docker_client, containers, test_label, tmp_path):
    c = containers(["sleep", "3600"], name="collect")
    with st.open_store(tmp_path / "h.sqlite3", thresholds=db.Thresholds(3, 2)) as s:
        def rnd(i: int) -> collector.RoundResult:
            return collector.collect_round(s, client=docker_client, label=test_label, probes=False,
                                           interval_s=60, ts=T0 + pd.Timedelta(minutes=i))
        for i in range(2):
            assert rnd(i).engine_ok
        c.stop(timeout=1)
        rnd(2)
        rnd(3)
        c.start()
        for i in range(4, 8):
            rnd(i)
        runs = s.intervals(services=[c.name])
        inc = up.incidents(runs, now=T0 + pd.Timedelta(minutes=8))
    assert len(inc) == 1
    row = inc.iloc[0]
    # down from the first stopped round until the second good round (success threshold 2)
    assert row["start"] == T0 + pd.Timedelta(minutes=2)
    assert row["end"] == T0 + pd.Timedelta(minutes=5)
    assert row["duration_s"] == 180 and not row["ongoing"]
    assert row["first_error"].startswith("exited")
    assert list(runs["state"]) == ["up", "down", "up"]


def test_engine_fault_recorded_as_unknown_and_loop_continues(tmp_path):
    with st.open_store(tmp_path / "h.sqlite3") as s:
        # a service seen before, then the engine vanishes
        s.write_round(T0, pd.DataFrame([{"project": "p", "service": "db", "name": "db", "state": "running",
                                         "health": "none"}]), None)
        res = collector.collect_round(s, engine_url="unix:///nonexistent/docker.sock", probes=False,
                                      ts=T0 + pd.Timedelta(minutes=1))
        assert not res.engine_ok and any("engine unreachable" in n for n in res.notes)
        assert list(s.samples()["state"]) == ["up", "unknown"]

        def boom():
            raise RuntimeError("probe layer exploded")
        res = collector.collect_round(s, engine_url="unix:///nonexistent/docker.sock", probe_func=boom,
                                      ts=T0 + pd.Timedelta(minutes=2))
        assert any("probes failed" in n for n in res.notes)


def test_loop_never_overlaps_and_skips_missed_ticks():
    active = []
    overlaps = []
    starts = []

    def slow_round():
        if active:
            overlaps.append(True)
        active.append(1)
        starts.append(time.monotonic())
        time.sleep(0.25 if len(starts) == 1 else 0.01)  # the first round overruns two ticks
        active.pop()
        return collector.RoundResult(pd.Timestamp.now(tz="UTC"), 0, True, 0, 0.0)
    n = collector.run_loop(slow_round, interval_s=0.1, count=3)
    assert n == 3 and not overlaps
    assert collector.next_start(0.0, 60.0, 10.0) == 60.0
    assert collector.next_start(0.0, 60.0, 130.0) == 180.0  # ticks at 60 and 120 skipped


def test_stop_event_ends_loop():
    stop = threading.Event()
    calls = []

    def rnd():
        calls.append(1)
        if len(calls) == 2:
            stop.set()
        return collector.RoundResult(pd.Timestamp.now(tz="UTC"), 0, True, 0, 0.0)
    assert collector.run_loop(rnd, interval_s=0.01, stop=stop) == 2


def test_sigterm_stops_the_collector_process_cleanly(tmp_path):
    store_path = tmp_path / "h.sqlite3"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib", "collect", "--interval", "1", "--store",
                             str(store_path), "--engine-url", "unix:///nonexistent/docker.sock",
                             "--project", "rbt-nothing"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if " round 2:" in line:  # the loop went on after an engine fault
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err
    assert "stopped cleanly" in out
    assert "engine UNREACHABLE" in "".join(lines)
    with st.open_store(store_path) as s:
        assert s.integrity_check() == "ok"
        assert len(s.rounds()) >= 2


@pytest.mark.docker
def test_container_killed_between_rounds_is_recorded_in_the_store(docker_client, containers, test_label, tmp_path):
    """Each round stores the engine's events since the last read: a kill between rounds is kept,
    once, even after the container is removed (the postmortem reads it from the store)."""
    c = containers(["sleep", "3600"], name="evkill", labels={"com.docker.compose.project": "evproj",
                                                              "com.docker.compose.service": "api"})
    with st.open_store(tmp_path / "h.sqlite3") as s:
        def rnd(i: int) -> collector.RoundResult:
            return collector.collect_round(s, client=docker_client, label=test_label, probes=False,
                                           interval_s=60, ts=T0 + pd.Timedelta(minutes=i))
        assert rnd(0).notes == []
        c.kill()
        rnd(1)
        c.remove(force=True)
        rnd(2)  # a later round reads again: nothing is stored twice
        got = s.events(project="evproj")
    actions = list(got["action"])
    assert "kill" in actions and "die" in actions and actions.count("kill") == 1, got
    kill = got[got["action"] == "kill"].iloc[0]
    assert kill["service"] == "api" and kill["container"] == c.name and kill["container_id"] == c.id[:12]
    assert kill["detail"] == "signal 9" and got[got["action"] == "die"]["exit_code"].iloc[0] == 137
