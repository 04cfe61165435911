"""`runbook export` writes the Docker events the collector stored, masked, beside samples, runs and incidents."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from runbook_lib import cli
from runbook_lib.history import sqlite_schema
from runbook_lib.history import store as st

T0 = pd.Timestamp("2026-11-20T00:00:00Z")
CANARY = "canary-Exp0rt-ev3nt"
RANGE = ["--since", "2026-11-19T23:00Z", "--until", "2026-11-20T01:00Z"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_events(tmp_path, fmt, capsys):
    store = tmp_path / "h.sqlite3"
    with st.open_store(store) as s:
        s.write_events([{"ts": T0 + pd.Timedelta(seconds=5), "host": "", "project": "p", "service": "db",
                         "container": "p-db-1", "container_id": "0123456789ab", "action": "oom", "exit_code": None,
                         "detail": f"DATABASE_URL=postgres://u:{CANARY}@db/x"},
                        {"ts": T0 + pd.Timedelta(seconds=6), "host": "", "project": "p", "service": "db",
                         "container": "p-db-1", "container_id": "0123456789ab", "action": "die", "exit_code": 137,
                         "detail": ""}])
    out = tmp_path / "out"
    assert cli.main(["export", "--format", fmt, "--store", str(store), *RANGE, "--output-dir", str(out)]) == 0
    assert sorted(p.name.split("-")[0] for p in out.iterdir()) == ["events", "incidents", "runs", "samples"]
    path = next(out.glob(f"events-*.{fmt}"))
    events = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    assert list(events["action"]) == ["oom", "die"] and events["exit_code"].iloc[1] == 137
    assert CANARY not in "".join(p.read_bytes().decode("latin-1") for p in out.iterdir())
    assert "events-" in capsys.readouterr().out


def test_export_of_a_store_older_than_events(tmp_path):
    """A schema-2 store (before the events table), opened read-only and so not migrated, still exports."""
    store = tmp_path / "old.sqlite3"
    con = sqlite3.connect(store, isolation_level=None)
    sqlite_schema.migrate(con, sqlite_schema.MIGRATIONS[:2])
    con.close()
    out = tmp_path / "out"
    assert cli.main(["export", "--format", "csv", "--store", str(store), *RANGE, "--output-dir", str(out)]) == 0
    events = pd.read_csv(next(out.glob("events-*.csv")))
    assert events.empty and list(events.columns)[:2] == ["ts", "host"]
