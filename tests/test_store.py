"""History store: concurrent writers with one SIGKILLed mid-transaction, location checks, schema."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.history import debounce as db
from runbook_lib.history import combine
from runbook_lib.history import sqlite_store
from runbook_lib.history import sqlite_schema
from runbook_lib.history import store as st
from runbook_lib.history import uptime as up
from runbook_lib.exceptions import StoreError

REPO = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2026-11-20T00:00:00Z")

WRITER = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from runbook_lib.history import store as st
    path, name, rounds, hold_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = st.open_store(path)
    t0 = 1_790_000_000
    for i in range(rounds):
        if i == hold_at:
            # start a transaction, write into it, and hold the write lock until killed
            s.con.execute("BEGIN IMMEDIATE")
            s.con.execute("INSERT INTO samples VALUES (?, ?, 1, 1, NULL, NULL)", (t0 + 10**6, 999))
            print("IN-TX", flush=True)
            time.sleep(60)
        states = pd.DataFrame({"project": "p", "service": [f"{name}-{k}" for k in range(20)], "raw": 1,
                               "latency_ms": 1.5, "error": None, "started_ts": None})
        s.write_states(t0 + i * 60, states, interval_s=60)
        print(f"ACK {t0 + i * 60}", flush=True)
    print("DONE", flush=True)
""")


def _spawn(path: Path, name: str, rounds: int, hold_at: int = -1) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(rounds), str(hold_at)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def test_two_writers_one_killed_mid_transaction(tmp_path):
    path = tmp_path / "history.sqlite3"
    st.open_store(path).close()
    killed = _spawn(path, "b", rounds=400, hold_at=150)
    steady = _spawn(path, "a", rounds=300)
    acked_b: list[int] = []
    try:
        for line in killed.stdout:  # wait until b holds the write lock inside a transaction
            if line.startswith("ACK"):
                acked_b.append(int(line.split()[1]))
            if line.startswith("IN-TX"):
                break
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        out_a, err_a = steady.communicate(timeout=300)
    finally:
        for p in (killed, steady):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert killed.returncode == -signal.SIGKILL
    assert steady.returncode == 0, err_a
    assert "locked" not in err_a.lower()
    acked_a = [int(x.split()[1]) for x in out_a.splitlines() if x.startswith("ACK")]
    assert len(acked_a) == 300 and len(acked_b) == 150
    with st.open_store(path) as s:
        assert s.integrity_check() == "ok"
        rows = s.con.execute("SELECT s.ts, v.service FROM samples s JOIN services v ON v.id = s.service_id").fetchall()
        have = {(ts, svc) for ts, svc in rows}
        for ts in acked_a:
            assert all((ts, f"a-{k}") in have for k in range(20))
        for ts in acked_b:
            assert all((ts, f"b-{k}") in have for k in range(20))
        # the transaction that was never acknowledged left nothing behind
        assert s.con.execute("SELECT COUNT(*) FROM samples WHERE service_id = 999").fetchone()[0] == 0
        runs = s.intervals()
        assert set(runs["state"]) == {"up"} and len(runs) == 40  # one run per service, no gaps


def test_write_round_runs_and_reads(tmp_path):
    with st.open_store(tmp_path / "h.sqlite3", thresholds=db.Thresholds(1, 1)) as s:
        assert s.version == sqlite_schema.SCHEMA_VERSION
        for i, raw in enumerate("UUUDDUUU"):
            code = {"U": db.UP, "D": db.DOWN}[raw]
            err = "http: 503 <script>alert(1)</script> password=hunter22" if raw == "D" else None
            s.write_states(T0 + pd.Timedelta(minutes=i),
                           pd.DataFrame([{"project": "p", "service": "api", "raw": code, "latency_ms": 2.0,
                                          "error": err, "started_ts": None}]), interval_s=60)
        runs = s.intervals()
        assert list(runs["state"]) == ["up", "down", "up"]
        assert list(runs["n_samples"]) == [3, 2, 3]
        assert runs.loc[1, "start"] == T0 + pd.Timedelta(minutes=3)
        assert runs.loc[1, "end"] == T0 + pd.Timedelta(minutes=5)
        inc = up.incidents(runs, now=T0 + pd.Timedelta(hours=1))
        assert len(inc) == 1 and inc.loc[0, "duration_s"] == 120
        assert inc.loc[0, "first_error"].startswith("http: 503")
        assert "hunter22" not in inc.loc[0, "first_error"]
        raw_bytes = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert b"hunter22" not in raw_bytes  # not in the file, the WAL or anywhere on disk
        samples = s.samples()
        assert len(samples) == 8 and samples["latency_ms"].iloc[0] == 2.0
        lat = s.latency_stats()
        assert lat.loc[0, "p50_ms"] == 2.0


def test_engine_fault_is_unknown_and_vanished_container_is_down(tmp_path):
    inv = pd.DataFrame([{"project": "p", "service": "db", "name": "p-db-1", "state": "running", "health": "healthy"},
                        {"project": "p", "service": "api", "name": "p-api-1", "state": "running", "health": "none"}])
    with st.open_store(tmp_path / "h.sqlite3", thresholds=db.Thresholds(1, 1)) as s:
        s.write_round(T0, inv, None, interval_s=60)
        s.write_round(T0 + pd.Timedelta(minutes=1), None, None, interval_s=60)  # engine unreachable
        s.write_round(T0 + pd.Timedelta(minutes=2), inv.iloc[:1], None, interval_s=60)  # api container gone
        smp = s.samples()
        assert list(smp[smp["service"] == "api"]["state"]) == ["up", "unknown", "down"]
        assert list(smp[smp["service"] == "db"]["state"]) == ["up", "unknown", "up"]
        assert s.rounds()["engine_ok"].tolist() == [True, False, True]


def test_combine_round_probes_and_masking():
    inv = pd.DataFrame([{"project": "p", "service": "api", "name": "api", "state": "running", "health": "none"},
                        {"project": "p", "service": "db", "name": "db", "state": "exited", "exit_code": 137,
                         "oom_killed": True, "health": "none"}])
    rows = pd.DataFrame([{"service": "api", "kind": "http", "state": "down", "latency_ms": 5.0,
                          "error": "GET http://u:s3cr3tpw@api/health refused"},
                         {"service": "db", "kind": "postgres", "state": "up", "latency_ms": 1.0, "error": None},
                         {"service": "cache", "kind": "redis", "state": "unknown", "error": "no port"}])
    out = combine.combine_round(inv, rows).set_index("service")
    assert out.loc["api", "raw"] == db.DOWN and "s3cr3tpw" not in out.loc["api", "error"]
    assert out.loc["db", "raw"] == db.STOPPED and "OOM" in out.loc["db", "error"]
    assert out.loc["cache", "raw"] == db.UNKNOWN


def test_read_only_path_refused_with_clear_message(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                             capture_output=True).returncode == 0
    try:
        if mounted:  # a real read-only file system (root may write anywhere else)
            with pytest.raises(StoreError, match="read-only.*--store PATH or RUNBOOK_STORE"):
                st.open_store(ro / "h.sqlite3")
        else:  # no mount permission: the same check fed a mount table
            mounts = f"/dev/vda / ext4 rw 0 0\ntmpfs {ro} tmpfs ro,nosuid 0 0\n"
            with pytest.raises(StoreError, match="read-only.*--store PATH or RUNBOOK_STORE"):
                st.open_store(ro / "h.sqlite3", mounts_text=mounts)
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=False)
    assert not (ro / "h.sqlite3").exists()
    # an existing store file on a path this user cannot write
    if os.geteuid() != 0:
        ro.chmod(0o555)
        with pytest.raises(StoreError, match="read-only"):
            st.open_store(ro / "h.sqlite3")


def test_network_file_system_refused_or_warned(tmp_path):
    mounts = f"/dev/vda / ext4 rw 0 0\nserver:/export {tmp_path} nfs4 rw,relatime 0 0\n"
    with pytest.raises(StoreError, match="network file system.*nfs4"):
        st.open_store(tmp_path / "h.sqlite3", mounts_text=mounts)
    mounts = f"/dev/vda / ext4 rw 0 0\nu@h:/x {tmp_path} fuse.sshfs rw 0 0\n"
    with pytest.raises(StoreError, match="RUNBOOK_STORE_ALLOW_NETWORK"):
        sqlite_store.check_location(tmp_path / "h.sqlite3", mounts_text=mounts)
    with pytest.warns(RuntimeWarning, match="network file system"):
        sqlite_store.check_location(tmp_path / "h.sqlite3", mounts_text=mounts, allow_network=True)


def test_store_path_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_STORE", str(tmp_path / "env.sqlite3"))
    assert st.resolve_path("/x/explicit.sqlite3") == Path("/x/explicit.sqlite3")
    assert st.resolve_path() == tmp_path / "env.sqlite3"
    monkeypatch.delenv("RUNBOOK_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert st.resolve_path() == tmp_path / "data" / "runbook" / "history.sqlite3"


def test_migrations_and_newer_schema_refused(tmp_path):
    path = tmp_path / "h.sqlite3"
    st.open_store(path).close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a later migration applies once, on the next open
    nxt = sqlite_schema.SCHEMA_VERSION + 1
    extra = sqlite_schema.MIGRATIONS + [(nxt, "ALTER TABLE services ADD COLUMN tier TEXT;")]
    assert sqlite_schema.migrate(con, extra) == nxt and sqlite_schema.migrate(con, extra) == nxt
    assert "tier" in [r[1] for r in con.execute("PRAGMA table_info(services)")]
    con.execute("INSERT INTO schema_version VALUES (99, 'x')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer runbook"):
        st.open_store(path)


def test_v1_store_migrates_to_host_keyed_services(tmp_path):
    """A schema-1 file keeps its services (host '') and reads the same after the v2 migration."""
    path = tmp_path / "v1.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    sqlite_schema.migrate(con, sqlite_schema.MIGRATIONS[:1])
    con.execute("INSERT INTO services (project, service, first_ts) VALUES ('p', 'api', 1)")
    con.close()
    with st.open_store(path) as s:
        assert s.version == sqlite_schema.SCHEMA_VERSION
        assert list(s.services()[["host", "project", "service"]].itertuples(index=False, name=None)) == [("", "p", "api")]


def test_raw_retention_keeps_runs(tmp_path):
    with st.open_store(tmp_path / "h.sqlite3", raw_retention_days=1) as s:
        one = pd.DataFrame([{"project": "p", "service": "api", "raw": db.UP, "latency_ms": 1.0, "error": None,
                             "started_ts": None}])
        for h in range(0, 72):
            s.write_states(T0 + pd.Timedelta(hours=h), one, interval_s=3600)
        assert s.samples()["ts"].min() >= T0 + pd.Timedelta(hours=71 - 24)
        runs = s.intervals()
        assert len(runs) == 1 and runs.loc[0, "start"] == T0 and runs.loc[0, "n_samples"] == 72
        # latency outlives the raw samples as hourly roll-ups
        lat = s.latency_stats(T0, T0 + pd.Timedelta(hours=72))
        assert lat.loc[0, "source"] == "hourly" and lat.loc[0, "p50_ms"] == 1.0 and lat.loc[0, "samples"] >= 70
        recent = s.latency_stats(T0 + pd.Timedelta(hours=60))
        assert recent.loc[0, "source"] == "raw"


def test_open_store_takes_a_sqlite_url_and_names_unknown_backends(tmp_path):
    from runbook_lib.history.interface import HistoryStore
    with st.open_store(f"sqlite:///{tmp_path}/u.sqlite3") as s:
        assert isinstance(s, HistoryStore) and s.path == tmp_path / "u.sqlite3"
    with pytest.raises(StoreError, match="no history store backend for mysql"):
        st.open_store("mysql://runbook@127.0.0.1/history")


def test_until_keeps_the_last_partial_second(tmp_path):
    """[since, until) is exact: a sample stored at second s is read with until = s + 0.4 s (stored
    seconds are whole; flooring until dropped it, e.g. an export run right after a collect)."""
    ts = pd.Timestamp.now(tz="UTC").floor("s")
    with st.open_store(tmp_path / "h.sqlite3") as s:
        s.write_states(ts, pd.DataFrame([{"project": "p", "service": "api", "raw": 1, "latency_ms": 2.0,
                                          "error": None}]))
        assert list(s.samples(ts - pd.Timedelta("1s"), ts + pd.Timedelta("400ms"))["service"]) == ["api"]
        assert s.samples(ts - pd.Timedelta("1s"), ts).empty  # until itself is excluded
        assert len(s.rounds(None, ts + pd.Timedelta("400ms"))) == 1
