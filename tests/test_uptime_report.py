"""notebooks/uptime_report.ipynb through the report runner: tables, figures, JSON, escaping, degraded."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from runbook_lib import report
from runbook_lib import store as st
from runbook_lib import uptime as up

XSS = "<script>alert(1)</script>"
CANARY = "c4n4ry-Secr3t-91"


def _fill(path, now):
    start = now.floor("min") - pd.Timedelta(hours=3)
    with st.open_store(path, thresholds=st.Thresholds(2, 1)) as s:
        for i in range(180):
            ts = start + pd.Timedelta(minutes=i)
            rows = [{"project": "demo", "service": "postgres", "raw": st.UP, "latency_ms": 1.2, "error": None,
                     "started_ts": None, "image": "postgres:16"},
                    {"project": "demo", "service": XSS, "raw": st.DOWN if 100 <= i < 130 else st.UP,
                     "latency_ms": 30.0, "error": f"http: 500 token={CANARY} \"><img src=x onerror=alert(1)>",
                     "started_ts": None, "image": "demo/api:1"}]
            if i >= 90:  # a service with only the last 90 minutes of data
                rows.append({"project": "demo", "service": "late", "raw": st.UP, "latency_ms": 5.0, "error": None,
                             "started_ts": None, "image": "demo/late:1"})
            s.write_states(ts, rows, interval_s=60)


@pytest.mark.slow
def test_uptime_report_renders_escaped_and_publishes(tmp_path):
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    _fill(path, now)
    res = report.run_report("uptime_report", {"store_path": str(path), "window": "3h"},
                            output_dir=tmp_path / "out", progress=False)
    assert res.status == "ok", res.error
    doc = json.loads(res.json.read_text())
    rows = {r["service"]: r for r in doc["uptime"]}
    assert rows["postgres"]["available_pct"] == 100.0 and rows["postgres"]["tier"] == "infrastructure"
    assert rows[XSS]["incidents"] == 1 and rows[XSS]["tier"] == "application"
    assert rows["late"]["coverage_pct"] == pytest.approx(50, abs=2)
    assert doc["incidents"] == 1 and doc["incident_list"][0]["duration_s"] == pytest.approx(30 * 60, abs=61)
    html = res.html.read_text()
    assert XSS not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for f in (res.html, res.json, res.ipynb, path):
        assert CANARY not in f.read_text(errors="replace")
    assert "plotly" in html.lower()


@pytest.mark.slow
def test_uptime_report_without_store_is_degraded(tmp_path):
    res = report.run_report("uptime_report", {"store_path": str(tmp_path / "none.sqlite3")},
                            output_dir=tmp_path / "out", progress=False)
    assert res.status == "degraded"
    assert "runbook collect" in " ".join(json.loads(res.json.read_text())["degraded_reasons"])


def test_uptime_24h_beside_state(tmp_path):
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    _fill(path, now)
    with st.open_store(path, readonly=True) as s:
        u = up.uptime_24h(s, ["postgres", "late", "never-seen"], now=now).set_index("service")
    assert u.loc["postgres", "uptime_24h_pct"] == 100.0
    assert u.loc["postgres", "coverage_24h_pct"] == pytest.approx(12.5, abs=0.5)
    assert u.loc["never-seen", "uptime_24h"] == "no data"


def test_notebook_is_committed_clean():
    import nbformat
    nb = nbformat.read(str(report.notebook_path("uptime_report")), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert set(report.declared_parameters(report.notebook_path("uptime_report"))) >= {
        "window", "store_path", "project", "config_path"}
