"""notebooks/uptime_report.ipynb through the report runner: tables, figures, JSON, escaping, degraded."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from runbook_lib.reports import params, runner as report
from runbook_lib.history import debounce as db
from runbook_lib.history import store as st
from runbook_lib.history import uptime as up

XSS = "<script>alert(1)</script>"
CANARY = "c4n4ry-Secr3t-91"


def _fill(path, now):
    start = now.floor("min") - pd.Timedelta(hours=3)
    with st.open_store(path, thresholds=db.Thresholds(2, 1)) as s:
        for i in range(180):
            ts = start + pd.Timedelta(minutes=i)
            rows = [{"project": "demo", "service": "postgres", "raw": db.UP, "latency_ms": 1.2, "error": None,
                     "started_ts": None, "image": "postgres:16"},
                    {"project": "demo", "service": XSS, "raw": db.DOWN if 100 <= i < 130 else db.UP,
                     "latency_ms": 30.0, "error": f"http: 500 token={CANARY} \"><img src=x onerror=alert(1)>",
                     "started_ts": None, "image": "demo/api:1"}]
            if i >= 90:  # a service with only the last 90 minutes of data
                rows.append({"project": "demo", "service": "late", "raw": db.UP, "latency_ms": 5.0, "error": None,
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
    assert set(params.declared_parameters(report.notebook_path("uptime_report"))) >= {
        "window", "store_path", "project", "config_path"}


# ---------------------------------------------------------------- runbook_lib.reports.uptime (no kernel)
def test_build_without_store_is_degraded_with_a_clear_problem(tmp_path):
    from runbook_lib.reports import uptime as uptime_report
    now = pd.Timestamp("2026-11-27 12:00", tz="UTC")
    r = uptime_report.build("24h", store_path=str(tmp_path / "none.sqlite3"), now=now)
    assert not r.has_data and r.store_path is None and r.table is None
    assert (r.start, r.end) == (now - pd.Timedelta(hours=24), now)
    assert len(r.problems) == 1 and "runbook collect" in r.problems[0] and "none.sqlite3" in r.problems[0]
    assert r.banners() == [("Window 2026-11-26 12:00 → 2026-11-27 12:00 UTC (24h)", "info"),
                           (r.problems[0], "error")]
    s = r.summary()
    assert s == {"window": "24h", "start": "2026-11-26T12:00:00+00:00", "end": "2026-11-27T12:00:00+00:00",
                 "status": "degraded", "degraded_reasons": r.problems}
    json.dumps(s)


def test_build_rejects_a_bad_window(tmp_path):
    from runbook_lib.reports import uptime as uptime_report
    from runbook_lib.exceptions import ParameterError
    with pytest.raises(ParameterError):
        uptime_report.build("soon", store_path=str(tmp_path / "none.sqlite3"))


def test_build_from_a_small_store(tmp_path):
    from runbook_lib.reports import uptime as uptime_report
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    _fill(path, now)
    r = uptime_report.build("3h", store_path=str(path), now=now)
    assert r.has_data and r.store_path == path and r.problems == []
    assert r.banners() == [(f"Window {r.start:%Y-%m-%d %H:%M} → {r.end:%Y-%m-%d %H:%M} UTC (3h), store {path}",
                            "info")]
    t = r.table.set_index("service")
    assert t.loc["postgres", "tier"] == "infrastructure" and t.loc["postgres", "available_pct"] == 100.0
    assert t.loc[XSS, "incidents"] == 1 and t.loc["late", "coverage_pct"] == pytest.approx(50, abs=2)
    assert r.kpis["Services"] == 3 and r.kpis["Incidents"] == 1 and r.kpis["Ongoing"] == 0
    assert r.kpis["Available"].endswith(" %") and r.kpis["Down now"] == 0
    assert [label for label, _ in r.tier_tables] == ["Application", "Infrastructure"]
    app = dict(r.tier_tables)["Application"]
    assert list(app.columns) == uptime_report.TABLE_COLUMNS and set(app["service"]) == {XSS, "late"}
    assert all(isinstance(v, str) for v in app["available_pct"])
    assert dict(zip(app["service"], app["mttr"])) == {XSS: up.fmt_duration(t.loc[XSS, "mttr_s"]), "late": ""}
    assert list(r.incidents_table.columns) == uptime_report.INCIDENT_TABLE_COLUMNS
    inc = r.incidents_table.iloc[0]
    assert inc["service"] == XSS and inc["status"] == "up" and inc["duration"].endswith(" s")
    assert set(r.heatmap.index) == {"postgres", XSS, "late"} and not r.timeline.empty
    assert set(r.latency_table["service"]) == {"postgres", XSS, "late"}
    s = r.summary()
    json.dumps(s)
    assert s["status"] == "ok" and s["degraded_reasons"] == [] and s["services"] == 3
    assert s["incidents"] == 1 and s["ongoing_incidents"] == 0
    assert s["incident_list"][0]["duration_s"] == pytest.approx(30 * 60, abs=61)
    assert {u["service"]: u["tier"] for u in s["uptime"]} == {"postgres": "infrastructure", XSS: "application",
                                                             "late": "application"}
    assert {x["service"] for x in s["latency"]} == {"postgres", XSS, "late"}
    assert 0 < s["available_pct"] < 100


def test_build_project_lanes_and_config_problem(tmp_path):
    from runbook_lib.reports import uptime as uptime_report
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    _fill(path, now)
    r = uptime_report.build("3h", store_path=str(path), max_lanes=1, now=now)
    assert list(r.heatmap.index) == [XSS]  # worst first: the only one with down time
    other = uptime_report.build("3h", store_path=str(path), project="other", now=now)
    assert other.table.empty and other.kpis["Available"] == "no data" and other.summary()["available_pct"] is None
    bad = tmp_path / "runbook.yaml"
    bad.write_text("nonsense: 1\n")
    r = uptime_report.build("3h", store_path=str(path), config_path=str(bad), now=now)
    assert r.has_data and len(r.problems) == 1 and r.summary()["status"] == "degraded"
    assert r.banners()[1] == (r.problems[0], "warning")


def test_assemble_counts_rounds_without_the_engine():
    from runbook_lib.reports import uptime as uptime_report
    now = pd.Timestamp("2026-11-27 12:00", tz="UTC")
    start, end = now - pd.Timedelta(hours=1), now
    runs = pd.DataFrame({"project": ["p"], "service": ["db"], "state": ["up"], "start": [start], "end": [end],
                         "n_samples": [60], "first_error": [None]})
    history = uptime_report.History(
        services=pd.DataFrame({"project": ["p"], "service": ["db"], "image": ["postgres:16"]}), runs_30d=runs,
        latency=pd.DataFrame(columns=["project", *uptime_report.LATENCY_COLUMNS]),
        rounds=pd.DataFrame({"ts": [start, end], "engine_ok": [True, False]}))
    r = uptime_report.assemble("1h", start, end, now, history)
    assert r.problems == ["1 of 2 rounds could not reach the engine (recorded as unknown, lost coverage)"]
    assert r.has_data and r.available_pct == 100.0 and r.table.loc[0, "tier"] == "infrastructure"
    assert r.banners()[0] == ("Window 2026-11-27 11:00 → 2026-11-27 12:00 UTC (1h)", "info")
    empty = uptime_report.History(history.services, runs, history.latency, rounds=history.rounds.iloc[:0])
    assert uptime_report.assemble("1h", start, end, now, empty).problems == [
        uptime_report.NO_ROUNDS]


def test_24h_uptime_keeps_the_same_service_on_two_hosts_apart(tmp_path):
    """The containers table with a ``host`` column reads each host's own runs: api down on b only."""
    now = up.utcnow()
    path = tmp_path / "hosts.sqlite3"
    start = now.floor("min") - pd.Timedelta(hours=1)
    with st.open_store(path, thresholds=db.Thresholds(1, 1)) as s:
        for i in range(60):
            rows = [{"host": h, "project": "erp", "service": "api", "raw": db.DOWN if h == "b" else db.UP,
                     "latency_ms": 1.0, "error": None, "started_ts": None, "image": "erp/api:1"} for h in ("a", "b")]
            s.write_states(start + pd.Timedelta(minutes=i), rows, interval_s=60)
    table = pd.DataFrame({"host": ["a", "b", "c"], "service": ["api", "api", "api"]})
    out, note = up.with_uptime_24h(table, str(path))
    assert note is None
    text = dict(zip(out["host"], out["uptime 24h"]))
    assert text["a"].startswith("100.00 %") and text["b"].startswith("0.00 %") and text["c"] == "no data"
    single, _ = up.with_uptime_24h(pd.DataFrame({"service": ["api"]}), str(path))  # one engine: by name, as before
    assert single.loc[0, "uptime 24h"] != "no data"


def test_recovery_uptime_is_the_stacks_project_when_none_is_named(tmp_path):
    """`runbook report recovery_report` without `-p project`: the uptime section reads the project the
    stack's compose files name, not every project another collector left in a shared store."""
    from runbook_lib.reports import recovery
    now = up.utcnow()
    path = tmp_path / "shared.sqlite3"
    with st.open_store(path, thresholds=db.Thresholds(1, 1)) as s:
        for i in range(3):
            rows = [{"project": p, "service": svc, "raw": db.UP, "latency_ms": 1.0, "error": None,
                     "started_ts": None, "image": "x:1"} for p, svc in (("shop", "web"), ("other", "stranger"))]
            s.write_states(now - pd.Timedelta(minutes=3 - i), rows, interval_s=60)
    f = tmp_path / "docker-compose.yml"
    f.write_text("name: shop\nservices:\n  web: {image: 'x:1'}\n")
    r = recovery.build(compose_files=[str(f)], engine_url="unix:///nonexistent/docker.sock", engine_timeout_s=1,
                       store_path=str(path), now=now)
    assert r.uptime is not None and sorted(r.uptime.table["service"]) == ["web"]
