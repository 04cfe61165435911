"""Maintenance windows: manual (audited) and recurring, uptime exclusion, plan --apply refused."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from runbook_lib.config import parse_config
from runbook_lib.engine.audit import AuditLog
from runbook_lib.exceptions import ConfigError, RunbookError
from runbook_lib.history.uptime import uptime
from runbook_lib.maintenance import MaintenanceDB, in_window, recurring_windows, refuse_in_window, windows_frame

T0 = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday


def db(tmp_path) -> MaintenanceDB:
    return MaintenanceDB(tmp_path / "m.json", audit=AuditLog(tmp_path / "audit.log"))


def test_start_stop_list_audited(tmp_path):
    m = db(tmp_path)
    m.start(["api"], duration="30m", reason="upgrade <b>", host="h1", now=T0)
    w = m.windows()
    assert len(w) == 1 and w["end"].iloc[0] == T0 + pd.Timedelta(minutes=30)
    assert in_window(w, "shop", "api", T0 + pd.Timedelta(minutes=10), host="h1")
    assert not in_window(w, "shop", "api", T0 + pd.Timedelta(minutes=10), host="h2")
    assert not in_window(w, "shop", "web", T0 + pd.Timedelta(minutes=10), host="h1")
    ended = m.stop(["api"], now=T0 + pd.Timedelta(minutes=5))
    assert len(ended) == 1 and m.windows()["end"].iloc[0] == T0 + pd.Timedelta(minutes=5)
    actions = [json.loads(line)["action"] for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert actions == ["maintenance.start", "maintenance.stop"]
    with pytest.raises(ConfigError, match="reason"):
        m.start(["api"], reason=" ")


def test_recurring_from_config():
    cfg = parse_config({"maintenance": [{"service": ["db", "cache"], "cron": "0 3 * * SUN", "duration": "1h",
                                         "reason": "vacuum"}]}, source="runbook.yaml")
    w = recurring_windows(cfg.maintenance, T0, T0 + pd.Timedelta(days=14))
    assert sorted(w["service"]) == ["cache", "cache", "db", "db"]
    assert (w["start"].dt.day_of_week == 6).all() and (w["start"].dt.hour == 3).all()
    with pytest.raises(ConfigError, match="cron"):
        recurring_windows([{"service": "db", "cron": "every sunday", "duration": "1h"}], T0, T0)


def test_uptime_excludes_maintenance(tmp_path):
    intervals = pd.DataFrame([{"project": "p", "service": "api", "state": "up", "start": T0,
                               "end": T0 + pd.Timedelta(hours=1)},
                              {"project": "p", "service": "api", "state": "down", "start": T0 + pd.Timedelta(hours=1),
                               "end": T0 + pd.Timedelta(hours=2)}])
    m = db(tmp_path)
    m.start(["api"], duration="1h", reason="planned restart", now=T0 + pd.Timedelta(hours=1))
    plain = uptime(intervals, T0, T0 + pd.Timedelta(hours=2), now=T0 + pd.Timedelta(hours=2)).iloc[0]
    excl = uptime(intervals, T0, T0 + pd.Timedelta(hours=2), now=T0 + pd.Timedelta(hours=2),
                  maintenance=m.windows()).iloc[0]
    assert plain["up_pct"] == 50.0 and plain["maintenance_s"] == 0
    assert excl["up_pct"] == 100.0 and excl["maintenance_s"] == 3600 and excl["down_s"] == 0
    assert excl["coverage_pct"] == 100.0


def test_plan_apply_refused_in_window(tmp_path):
    m = db(tmp_path)
    m.start(["api"], duration="30m", reason="upgrade")
    with pytest.raises(RunbookError, match="maintenance window"):
        refuse_in_window(["web", "api"], "shop", None, db=m)
    refuse_in_window(["web"], "shop", None, db=m)
    assert len(windows_frame(m)) == 1


def test_uptime_plot_draws_shaded_bands(tmp_path):
    from runbook_lib.view import plots
    from runbook_lib.view.resources import maintenance_bands
    m = db(tmp_path)
    m.start(["api"], duration="1h", reason="upgrade", now=T0)
    runs = pd.DataFrame([{"project": "p", "service": "api", "state": "up", "start": T0,
                          "end": T0 + pd.Timedelta(hours=2), "n_samples": 2, "first_error": None}])
    fig = maintenance_bands(plots.state_timeline(runs), m.windows())
    assert [s.type for s in fig.layout.shapes] == ["rect"]
    assert fig.layout.annotations[-1].text == "maintenance: api"
