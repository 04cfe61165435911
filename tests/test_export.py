"""`runbook export`: parquet and csv of raw samples, runs and incidents; read-only store opening."""
from __future__ import annotations

import pandas as pd
import pytest

from runbook_lib import cli
from runbook_lib.history import debounce as db
from runbook_lib import redact
from runbook_lib.history import store as st

T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def _fill(path):
    with st.open_store(path, thresholds=db.Thresholds(1, 1)) as s:
        for i, c in enumerate("SSSFFSSS"):
            raw = db.UP if c == "S" else db.DOWN
            err = "redis: NOAUTH password=sup3rs3cret <img src=x onerror=alert(1)>" if c == "F" else None
            s.write_states(T0 + pd.Timedelta(minutes=i), [{"project": "p", "service": "cache", "raw": raw,
                                                           "latency_ms": 0.7, "error": err, "started_ts": None}])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_samples_and_incidents(tmp_path, fmt, capsys):
    store = tmp_path / "h.sqlite3"
    _fill(store)
    out = tmp_path / "out"
    rc = cli.main(["export", "--format", fmt, "--store", str(store), "--since", "2026-11-19T23:00Z",
                   "--until", "2026-11-20T01:00Z", "--output-dir", str(out)])
    assert rc == 0
    files = sorted(p.name for p in out.iterdir())
    assert [f.split("-")[0] for f in files] == ["events", "incidents", "runs", "samples"]
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    samples = read(next(out.glob(f"samples-*.{fmt}")))
    inc = read(next(out.glob(f"incidents-*.{fmt}")))
    assert len(samples) == 8 and set(samples["state"]) == {"up", "down"}
    assert len(inc) == 1 and inc.loc[0, "duration_s"] == 120
    text = "".join(p.read_bytes().decode("latin-1") for p in out.iterdir())
    assert "sup3rs3cret" not in text and redact.MASK in text if fmt == "csv" else "sup3rs3cret" not in text


def test_export_refuses_bad_range_and_missing_store(tmp_path, capsys):
    _fill(tmp_path / "h.sqlite3")
    assert cli.main(["export", "--store", str(tmp_path / "h.sqlite3"), "--since", "now", "--until", "7d"]) == 2
    assert "Fix" in capsys.readouterr().err
    assert cli.main(["export", "--store", str(tmp_path / "missing.sqlite3")]) == 2
    assert "runbook collect" in capsys.readouterr().err
