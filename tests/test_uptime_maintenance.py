"""Maintenance time is left out of uptime everywhere: the uptime report (table, KPIs, incidents,
MTTR/MTBF, HTML) and health_check's 24 h figure; it shows as its own "maintenance" figure."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from runbook_lib.history import debounce as db
from runbook_lib.history import store as st
from runbook_lib.history import uptime as up
from runbook_lib.maintenance import MaintenanceDB
from runbook_lib.reports import runner as report

SVC = "mtsvc"


def _fill(path, now) -> pd.Timestamp:
    """3 h of 1-minute samples: ``mtsvc`` down from minute 100 to 130, ``web`` always up.

    Returns the time the outage started (the maintenance window opens then, for 30 minutes)."""
    start = now.floor("min") - pd.Timedelta(hours=3)
    with st.open_store(path, thresholds=db.Thresholds(1, 1)) as s:
        for i in range(180):
            rows = [{"project": "demo", "service": SVC, "raw": db.DOWN if 100 <= i < 130 else db.UP,
                     "latency_ms": 2.0, "error": "http: 503" if 100 <= i < 130 else None, "started_ts": None,
                     "image": "demo/api:1"},
                    {"project": "demo", "service": "web", "raw": db.UP, "latency_ms": 1.0, "error": None,
                     "started_ts": None, "image": "demo/web:1"}]
            s.write_states(start + pd.Timedelta(minutes=i), rows, interval_s=60)
    return start + pd.Timedelta(minutes=100)


@pytest.fixture
def maint_db(tmp_path, monkeypatch):
    path = tmp_path / "maintenance.json"
    monkeypatch.setenv("RUNBOOK_MAINTENANCE_DB", str(path))
    return MaintenanceDB(path)


def test_down_only_in_a_window_reads_100_percent_in_build(tmp_path, maint_db):
    from runbook_lib.reports import uptime as uptime_report
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    t0 = _fill(path, now)
    before = uptime_report.build("3h", store_path=str(path), now=now).table.set_index("service")
    assert before.loc[SVC, "available_pct"] < 100 and before.loc[SVC, "incidents"] == 1  # the regression guard
    maint_db.start([SVC], duration="30m", reason="planned upgrade", project="demo", now=t0)
    r = uptime_report.build("3h", store_path=str(path), now=now)
    t = r.table.set_index("service")
    assert t.loc[SVC, "available_pct"] == 100.0 and t.loc[SVC, "down_s"] == 0
    assert t.loc[SVC, "maintenance_s"] == 30 * 60 and t.loc["web", "maintenance_s"] == 0
    assert t.loc[SVC, "incidents"] == 0 and pd.isna(t.loc[SVC, "mttr_s"])
    assert t.loc[SVC, "24h_pct"] == 100.0  # the standard windows too
    assert f"maintenance {up.fmt_duration(1800)}" in t.loc[SVC, "uptime"]
    assert r.kpis["Available"] == "100.00 %" and r.kpis["Incidents"] == 0 and r.kpis["Maintenance"] == up.fmt_duration(1800)
    shown = dict(r.tier_tables)["Application"].set_index("service")
    assert shown.loc[SVC, "maintenance"] == up.fmt_duration(1800) and shown.loc["web", "maintenance"] == "none"
    assert len(r.maintenance) == 1 and r.heatmap.loc[SVC].dropna().eq(100.0).all()
    s = r.summary()
    assert s["maintenance_s"] == 1800 and {u["service"]: u["maintenance_s"] for u in s["uptime"]}[SVC] == 1800


def test_recurring_window_from_runbook_yaml_is_left_out(tmp_path, maint_db):
    from runbook_lib.reports import uptime as uptime_report
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    t0 = _fill(path, now)
    cfg = tmp_path / "runbook.yaml"
    cfg.write_text(f"maintenance:\n  - {{service: {SVC}, cron: '{t0.minute} {t0.hour} * * *', duration: 30m, "
                   f"reason: nightly}}\n")
    t = uptime_report.build("3h", store_path=str(path), config_path=str(cfg), now=now).table.set_index("service")
    assert t.loc[SVC, "available_pct"] == 100.0 and t.loc[SVC, "maintenance_s"] == 30 * 60


def test_health_check_24h_uptime_leaves_maintenance_out(tmp_path, maint_db):
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    t0 = _fill(path, now)
    table = pd.DataFrame({"service": [SVC, "web"]})
    text, _ = up.with_uptime_24h(table, str(path))
    assert not text.loc[0, "uptime 24h"].startswith("100.00 %")
    maint_db.start([SVC], duration="30m", reason="planned upgrade", now=t0)
    text, note = up.with_uptime_24h(table, str(path))  # the windows are read once, inside
    assert note is None and text.loc[0, "uptime 24h"].startswith("100.00 % of measured")
    assert f"maintenance {up.fmt_duration(1800)}" in text.loc[0, "uptime 24h"]
    with st.open_store(path, readonly=True) as s:
        u = up.uptime_24h(s, [SVC], maintenance=maint_db.windows()).set_index("service")
    assert u.loc[SVC, "uptime_24h_pct"] == 100.0 and u.loc[SVC, "maintenance_24h_s"] == 1800


@pytest.mark.slow
def test_uptime_report_html_reads_100_percent_and_maintenance_column(tmp_path, maint_db):
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    t0 = _fill(path, now)
    maint_db.start([SVC], duration="30m", reason="planned upgrade", now=t0)
    res = report.run_report("uptime_report", {"store_path": str(path), "window": "3h"},
                            output_dir=tmp_path / "out", progress=False)
    assert res.status == "ok", res.error
    html = res.html.read_text()
    head = re.search(r"<thead><tr>((?:<th>[^<]*</th>)+)</tr></thead>", html).group(1)
    cols = re.findall(r"<th>([^<]*)</th>", head)
    assert "maintenance" in cols and "available_pct" in cols
    row = re.search(rf"<tr><td>{SVC}</td>.*?</tr>", html).group(0)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[cols.index("available_pct")] == "100.00"
    assert cells[cols.index("maintenance")] == up.fmt_duration(1800)
    doc = json.loads(res.json.read_text())
    assert {u["service"]: u["available_pct"] for u in doc["uptime"]}[SVC] == 100.0 and doc["incidents"] == 0


def test_export_incidents_leave_maintenance_out(tmp_path, maint_db):
    from runbook_lib.history.export import export_frames
    now = up.utcnow()
    path = tmp_path / "h.sqlite3"
    t0 = _fill(path, now)
    with st.open_store(path, readonly=True) as s:
        assert len(export_frames(s, now - pd.Timedelta(hours=3), now, now)["incidents"]) == 1
        maint_db.start([SVC], duration="30m", reason="planned upgrade", now=t0)
        frames = export_frames(s, now - pd.Timedelta(hours=3), now, now, maintenance=maint_db.windows())
    assert frames["incidents"].empty and (frames["runs"]["state"] == "down").any()  # runs stay as recorded
