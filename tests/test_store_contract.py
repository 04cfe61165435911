"""The history store contract, run against every backend: SQLite (a file) and PostgreSQL (a real server).

Every test takes ``store_url`` (a fresh store per test) and talks only through
``open_store`` and the ``HistoryStore`` interface, so both backends must behave the same.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from runbook_lib.exceptions import StoreError
from runbook_lib.history import debounce as db
from runbook_lib.history import export as ex
from runbook_lib.history import store as st
from runbook_lib.history import uptime as up
from runbook_lib.history.interface import HistoryStore
from runbook_lib.history.postgres_store import SCHEMA_VERSION, display_url
from servers import postgres_server  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2026-11-20T00:00:00Z")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """A fresh, empty store of each backend (a new database on the test's PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    pg = request.getfixturevalue("postgres_server")
    name = f"rb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.dbname,
                         autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{name}"


def _one(service: str, raw: int, latency_ms: float | None = 2.0, error: str | None = None,
         project: str = "p") -> pd.DataFrame:
    return pd.DataFrame([{"project": project, "service": service, "raw": raw, "latency_ms": latency_ms,
                          "error": error, "started_ts": None}])


def test_runs_samples_incidents_and_masking(store_url):
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        assert isinstance(s, HistoryStore) and s.version == SCHEMA_VERSION
        for i, raw in enumerate("UUUDDUUU"):
            err = "http: 503 password=hunter22" if raw == "D" else None
            s.write_states(T0 + pd.Timedelta(minutes=i), _one("api", {"U": db.UP, "D": db.DOWN}[raw], error=err))
        runs = s.intervals()
        assert list(runs["state"]) == ["up", "down", "up"] and list(runs["n_samples"]) == [3, 2, 3]
        assert runs.loc[1, "start"] == T0 + pd.Timedelta(minutes=3) and str(runs["start"].dt.tz) == "UTC"
        inc = up.incidents(runs, now=T0 + pd.Timedelta(hours=1))
        assert len(inc) == 1 and inc.loc[0, "duration_s"] == 120 and "hunter22" not in inc.loc[0, "first_error"]
        smp = s.samples()
        assert len(smp) == 8 and smp["latency_ms"].iloc[0] == 2.0
        assert s.latency_stats().loc[0, "p50_ms"] == 2.0
        assert s.services()[["project", "service"]].values.tolist() == [["p", "api"]]
        assert len(s.rounds()) == 8


def test_thresholds_debounce(store_url):
    with st.open_store(store_url, thresholds=db.Thresholds(3, 2)) as s:
        for i, raw in enumerate("UUDDUDDDUU"):
            s.write_states(T0 + pd.Timedelta(minutes=i), _one("api", {"U": db.UP, "D": db.DOWN}[raw]))
        assert list(s.intervals()["state"]) == ["up", "down", "up"]
        assert list(s.samples()["raw_state"][:3]) == ["up", "up", "down"]


def test_engine_fault_is_unknown_and_vanished_container_stopped(store_url):
    inv = pd.DataFrame([{"project": "p", "service": "db", "name": "p-db-1", "state": "running", "health": "healthy"},
                        {"project": "p", "service": "api", "name": "p-api-1", "state": "running", "health": "none"}])
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        s.write_round(T0, inv, None, interval_s=60)
        s.write_round(T0 + pd.Timedelta(minutes=1), None, None, interval_s=60)
        s.write_round(T0 + pd.Timedelta(minutes=2), inv.iloc[:1], None, interval_s=60)
        smp = s.samples()
        assert list(smp[smp["service"] == "api"]["state"]) == ["up", "unknown", "down"]
        assert s.rounds()["engine_ok"].tolist() == [True, False, True]


def test_raw_retention_and_hourly_rollups(store_url):
    with st.open_store(store_url, raw_retention_days=1) as s:
        for h in range(72):
            s.write_states(T0 + pd.Timedelta(hours=h), _one("api", db.UP, 1.0), interval_s=3600)
        assert s.samples()["ts"].min() >= T0 + pd.Timedelta(hours=71 - 24)
        runs = s.intervals()
        assert len(runs) == 1 and runs.loc[0, "n_samples"] == 72
        lat = s.latency_stats(T0, T0 + pd.Timedelta(hours=72))
        assert lat.loc[0, "source"] == "hourly" and lat.loc[0, "p50_ms"] == 1.0
        assert s.latency_stats(T0 + pd.Timedelta(hours=60)).loc[0, "source"] == "raw"


def test_duplicate_round_is_not_counted_twice(store_url):
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        for _ in range(2):
            s.write_states(T0, _one("api", db.UP))
        s.write_states(T0 + pd.Timedelta(minutes=1), _one("api", db.UP))
        assert len(s.samples()) == 2 and s.intervals().loc[0, "n_samples"] == 2


def test_same_project_on_two_hosts_stays_apart(store_url):
    """Services are keyed by (host, project, service): one project on two engines is two histories."""
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        for i in range(3):
            rows = pd.concat([_one("api", db.UP).assign(host="a"), _one("api", db.DOWN, error="refused").assign(host="b")],
                             ignore_index=True)
            s.write_states(T0 + pd.Timedelta(minutes=i), rows)
        svc = s.services()
        assert sorted(zip(svc["host"], svc["project"], svc["service"])) == [("a", "p", "api"), ("b", "p", "api")]
        runs = s.intervals().set_index("host")
        assert runs.loc["a", "state"] == "up" and runs.loc["b", "state"] == "down"
        assert runs.loc["a", "n_samples"] == 3 and runs.loc["b", "n_samples"] == 3
        assert sorted(s.samples()["host"].unique()) == ["a", "b"]


def test_collectors_in_the_same_second_keep_a_round_each(store_url):
    """Rounds are keyed by (ts, collector): two hosts' collectors writing at the same second both
    keep their round (engine_ok, notes), and the one default engine's rounds read as before."""
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        s.write_states(T0, _one("api", db.UP).assign(host="a"), notes=["a fine"])
        s.write_states(T0, _one("api", db.UNKNOWN).assign(host="b"), engine_ok=False, notes=["b unreachable"])
        s.write_states(T0, _one("api", db.UP))  # the default engine ('')
        s.write_states(T0, _one("api", db.UP))  # the same round again: replaced, not added
        r = s.rounds().set_index("collector")
        assert sorted(r.index) == ["", "a", "b"] and len(r) == 3
        assert bool(r.loc["a", "engine_ok"]) and not bool(r.loc["b", "engine_ok"])
        assert "b unreachable" in r.loc["b", "notes"]


def test_reopen_migrates_once_and_reads_readonly(store_url):
    st.open_store(store_url).close()
    with st.open_store(store_url) as s:
        assert s.version == SCHEMA_VERSION
        s.write_states(T0, _one("api", db.UP))
    with st.open_store(store_url, readonly=True) as r:
        assert len(r.samples()) == 1


def test_docker_events_stored_masked_deduplicated_and_expired(store_url):
    """Events (schema 3): one row per (time, container, action) however often a span is read,
    texts masked, read back by window / service / project, expired with the raw samples."""
    ev = [{"ts": T0 + pd.Timedelta(seconds=5, microseconds=7), "host": "h1", "project": "p", "service": "api",
           "container": "p-api-1", "container_id": "abc123def456", "action": "kill", "exit_code": None,
           "detail": "signal 9 password=hunter22"},
          {"ts": T0 + pd.Timedelta(seconds=6), "host": "h1", "project": "p", "service": "api",
           "container": "p-api-1", "container_id": "abc123def456", "action": "die", "exit_code": 137,
           "detail": ""},
          {"ts": T0 + pd.Timedelta(seconds=7), "host": "h1", "project": "q", "service": "db",
           "container": "q-db-1", "container_id": "0123456789ab", "action": "oom", "exit_code": None,
           "detail": ""}]
    with st.open_store(store_url, raw_retention_days=1) as s:
        assert s.events_read_to("h1/p") is None
        s.write_events(ev[:2], read_to=T0 + pd.Timedelta(seconds=6), key="h1/p")
        s.write_events(pd.DataFrame(ev), read_to=T0 + pd.Timedelta(seconds=8), key="h1/p")  # overlapping read
        assert s.events_read_to("h1/p") == T0 + pd.Timedelta(seconds=8) and s.events_read_to("other") is None
        got = s.events()
        assert list(got["action"]) == ["kill", "die", "oom"] and str(got["ts"].dt.tz) == "UTC"
        assert got.loc[0, "ts"] == T0 + pd.Timedelta(seconds=5, microseconds=7)
        assert got.loc[1, "exit_code"] == 137 and pd.isna(got.loc[0, "exit_code"])
        assert "hunter22" not in got.loc[0, "detail"] and got.loc[0, "detail"].startswith("signal 9")
        assert list(s.events(project="p")["action"]) == ["kill", "die"]
        assert list(s.events(services=["db"])["action"]) == ["oom"]
        assert list(s.events(T0 + pd.Timedelta(seconds=6), T0 + pd.Timedelta(seconds=7))["action"]) == ["die"]
        s.write_states(T0 + pd.Timedelta(days=3), _one("api", db.UP))  # prunes raw samples and events
        assert s.events().empty
    with st.open_store(store_url, readonly=True) as r:
        assert r.events().empty and list(r.events().columns)[:2] == ["ts", "host"]


def test_docker_events_of_two_hosts_stay_apart(store_url):
    """The events' key holds the host (schema 5): the same (time, container id, action) seen on two
    engines (cloned engines, a replayed span) is two events, and reading a span twice is still one."""
    ev = {"ts": T0 + pd.Timedelta(seconds=5), "project": "p", "service": "api", "container": "p-api-1",
          "container_id": "abc123def456", "action": "die", "exit_code": 1, "detail": ""}
    with st.open_store(store_url) as s:
        s.write_events([{**ev, "host": "a"}], key="a/p")
        s.write_events([{**ev, "host": "b"}, {**ev, "host": "a"}], key="b/p")
        got = s.events()
        assert sorted(got["host"]) == ["a", "b"] and len(got) == 2


def test_a_schema_4_store_migrates_its_events(store_url):
    """Opening a store written before schema 5 keeps its events and adds the host to their key."""
    ev = {"ts": T0, "host": "a", "project": "p", "service": "api", "container": "p-api-1",
          "container_id": "abc123def456", "action": "die", "exit_code": 1, "detail": ""}
    if store_url.startswith("postgresql://"):
        from runbook_lib.history import postgres_store as backend
    else:
        from runbook_lib.history import sqlite_schema as backend
    old = [m for m in backend.MIGRATIONS if m[0] <= 4]
    with st.open_store(store_url) as s:  # a fresh store at the newest schema: take it back to schema 4
        con = s.con
        if store_url.startswith("postgresql://"):
            con.pg.execute("DROP TABLE events")
            con.pg.execute("DELETE FROM schema_version WHERE version >= 5")
            con.pg.execute(backend._V3)
            con.pg.commit()
        else:
            con.execute("DROP TABLE events")
            con.execute("DELETE FROM schema_version WHERE version >= 5")
            con.execute(backend.EVENTS_DDL)
            con.commit() if con.in_transaction else None
        assert backend.migrate(con, old) == 4 and s.version == 4
        s.write_events([ev])
    with st.open_store(store_url) as s:
        assert s.version == SCHEMA_VERSION == 5
        s.write_events([{**ev, "host": "b"}, ev])
        assert sorted(s.events()["host"]) == ["a", "b"]


def test_export_from_either_backend(store_url, tmp_path):
    with st.open_store(store_url, thresholds=db.Thresholds(1, 1)) as s:
        for i, raw in enumerate("UDU"):
            s.write_states(T0 + pd.Timedelta(minutes=i), _one("api", {"U": db.UP, "D": db.DOWN}[raw], error="x"))
        frames = ex.export_frames(s, T0, T0 + pd.Timedelta(hours=1), now=T0 + pd.Timedelta(hours=1))
    assert len(frames["samples"]) == 3 and len(frames["incidents"]) == 1
    assert ex.write_frame(frames["samples"], tmp_path / "s.csv", "csv").exists()


@pytest.mark.parametrize("fmt", ex.FORMATS)
def test_docker_events_exported_from_either_backend(store_url, tmp_path, fmt):
    """``runbook export`` writes the stored Docker events (events-….<fmt>) in the window, masked."""
    canary = "canary-Ev3nt-5ecret"
    ev = [{"ts": T0 + pd.Timedelta(seconds=s), "host": "h1", "project": "p", "service": "api",
           "container": "p-api-1", "container_id": "abc123def456", "action": a, "exit_code": code,
           "detail": f"signal 9 password={canary}" if a == "kill" else ""}
          for s, a, code in ((5, "kill", None), (6, "die", 137), (7200, "start", None))]
    with st.open_store(store_url) as s:
        s.write_events(ev)
        frames = ex.export_frames(s, T0, T0 + pd.Timedelta(hours=1), now=T0 + pd.Timedelta(hours=1))
    got = frames["events"]
    assert list(got["action"]) == ["kill", "die"] and list(got.columns) == ex.EVENT_COLUMNS  # window: not +2 h
    path = ex.write_frame(got, tmp_path / f"events.{fmt}", fmt)
    back = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    assert list(back["action"]) == ["kill", "die"] and back["exit_code"].iloc[1] == 137
    assert pd.Timestamp(back["ts"].iloc[0]) == T0 + pd.Timedelta(seconds=5)
    assert canary not in path.read_bytes().decode("latin-1") and back["detail"].iloc[0].startswith("signal 9")


def test_runbook_store_env_selects_backend(store_url, monkeypatch):
    monkeypatch.setenv(st.ENV_VAR, store_url)
    with st.open_store() as s:
        s.write_states(T0, _one("api", db.UP))
        assert len(s.samples()) == 1
        if store_url.startswith("postgresql"):
            assert store_url.split(":")[2].split("@")[0] not in str(s.path)  # the password


WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    from runbook_lib.history import store as st
    url, host, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = st.open_store(url)
    t0 = 1_790_000_000
    for i in range(rounds):
        states = pd.DataFrame({"project": host, "service": [f"svc-{k}" for k in range(10)], "raw": 1,
                               "latency_ms": 1.5, "error": None, "started_ts": None})
        s.write_states(t0 + i * 60, states, interval_s=60)
    s.close()
    print("DONE", flush=True)
""")


def test_collectors_write_at_once_nothing_lost(store_url):
    """One collector per host, all at once: every sample lands once and every run is whole."""
    st.open_store(store_url).close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    hosts, rounds = ["h1", "h2", "h3", "h4"], 40
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, h, str(rounds)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=REPO) for h in hosts]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "DONE" in out, err[-2000:]
    with st.open_store(store_url, readonly=True) as s:
        smp = s.samples()
        assert len(smp) == len(hosts) * 10 * rounds
        assert not smp.duplicated(["ts", "project", "service"]).any()
        runs = s.intervals()
        assert len(runs) == len(hosts) * 10 and set(runs["n_samples"]) == {rounds}
        assert sorted(s.services()["project"].unique()) == hosts


def test_unreachable_postgres_names_the_fix():
    with pytest.raises(StoreError, match="cannot connect to the history store") as err:
        st.open_store("postgresql://runbook:s3cretpw@127.0.0.1:1/history", connect_timeout_s=2)
    assert "s3cretpw" not in str(err.value)
    assert "pw-1234" not in display_url("postgresql://u:pw-1234@h:5432/d")
