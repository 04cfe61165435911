"""Uptime, thresholds, gaps, start period, incidents (pure; reliability.md behaviours 1, 3, 4, 5)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from runbook_lib.history import uptime as up
from runbook_lib.exceptions import ParameterError
from runbook_lib.history.debounce import Thresholds, effective_states

T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def frame(raw: str, service: str = "api", step_s: int = 60, start: pd.Timestamp = T0, **extra) -> pd.DataFrame:
    code = {"S": "up", "F": "down", "U": "unknown", "X": "stopped", "D": "degraded"}
    return pd.DataFrame({"service": service, "ts": [start + pd.Timedelta(seconds=i * step_s) for i in range(len(raw))],
                         "raw_state": [code[c] for c in raw], **extra})


def test_flapping_one_down_one_up_all_samples_kept():
    eff = effective_states(frame("SSFFSFFFSS"), Thresholds(failure_threshold=3, success_threshold=2))
    assert len(eff) == 10  # all raw samples kept
    assert list(eff["raw_state"]) == ["up", "up", "down", "down", "up", "down", "down", "down", "up", "up"]
    assert list(eff["transition"].dropna()) == ["down", "up"]
    assert list(eff["state"]) == ["up"] * 7 + ["down", "down", "up"]
    runs = up.to_intervals(eff)
    inc = up.incidents(runs, now=T0 + pd.Timedelta(hours=1))
    assert len(inc) == 1 and inc.loc[0, "duration_s"] == 120 and not inc.loc[0, "ongoing"]


def test_unknown_excluded_from_uptime_and_counts_as_lost_coverage():
    eff = effective_states(frame("SSUUSSSSSS"), Thresholds(1, 1))
    assert list(eff["state"])[2:4] == ["unknown", "unknown"]
    runs = up.to_intervals(eff)
    u = up.uptime(runs, T0, T0 + pd.Timedelta(minutes=10), now=T0 + pd.Timedelta(hours=1)).iloc[0]
    assert u["up_pct"] == 100.0 and u["down_pct"] == 0.0
    assert u["coverage_pct"] == pytest.approx(80.0)


def test_unknown_does_not_break_a_failure_streak_or_count_as_down():
    eff = effective_states(frame("SSFUFUFS"), Thresholds(3, 1))
    assert list(eff["transition"].dropna()) == ["down", "up"]
    assert "down" not in set(eff.loc[eff["raw_state"] == "unknown", "state"])


def test_start_period_failures_do_not_count():
    th = Thresholds(failure_threshold=1, success_threshold=1, start_period_s=180)
    # container starts at T0: three failing samples inside the grace, then healthy
    eff = effective_states(frame("FFFSSSSS", started_at=[T0] * 8), th)
    assert "down" not in set(eff["state"])
    assert list(eff["state"][:3]) == ["starting"] * 3
    inc = up.incidents(up.to_intervals(eff), now=T0 + pd.Timedelta(hours=1))
    assert inc.empty
    # the same samples without a grace are an incident
    eff2 = effective_states(frame("FFFSSSSS", started_at=[T0] * 8), Thresholds(1, 1, 0))
    assert len(up.incidents(up.to_intervals(eff2), now=T0 + pd.Timedelta(hours=1))) == 1


def test_failure_after_start_period_counts():
    th = Thresholds(failure_threshold=1, success_threshold=1, start_period_s=120)
    eff = effective_states(frame("SSSSFF", started_at=[T0] * 6), th)
    assert list(eff["state"][-2:]) == ["down", "down"]


def test_gap_reads_100_percent_of_measured_coverage_50():
    now = T0 + pd.Timedelta(hours=24)
    samples = frame("S" * 720, start=T0 + pd.Timedelta(hours=12))  # 12 h of 1-minute UP samples
    runs = up.to_intervals(effective_states(samples))
    u = up.uptime(runs, T0, now, now=now).iloc[0]
    assert u["up_pct"] == 100.0
    assert u["coverage_pct"] == pytest.approx(50.0)
    assert u["uptime"] == "100.00 % of measured, coverage 50 %"


def test_no_samples_reads_no_data_never_zero():
    empty = up.to_intervals(frame(""))
    u = up.uptime(empty, T0, T0 + pd.Timedelta(hours=24), services=["api"], now=T0 + pd.Timedelta(days=2)).iloc[0]
    assert u["uptime"] == "no data"
    assert math.isnan(u["up_pct"]) and u["coverage_pct"] == 0.0
    w = up.uptime_windows(empty, now=T0, services=["api"])
    assert math.isnan(w.loc[0, "24h_pct"])


def test_time_weighted_and_windows():
    # 50 min up then 10 min down, 1-minute samples
    runs = up.to_intervals(effective_states(frame("S" * 50 + "F" * 10), Thresholds(1, 1)))
    now = T0 + pd.Timedelta(minutes=60)
    u = up.uptime(runs, T0, now, now=now).iloc[0]
    assert u["up_pct"] == pytest.approx(50 / 60 * 100)
    assert u["down_pct"] == pytest.approx(10 / 60 * 100)
    w = up.uptime_windows(runs, now=now)
    assert w.loc[0, "1h_pct"] == pytest.approx(50 / 60 * 100)
    assert w.loc[0, "24h_coverage_pct"] == pytest.approx(100 / 24)
    inc = up.incidents(runs, now=now)
    assert len(inc) == 1 and bool(inc.loc[0, "ongoing"]) and inc.loc[0, "duration_s"] == 600
    rel = up.reliability(inc, up.uptime(runs, T0, now, now=now))
    # one ongoing incident: no closed incident (MTTR) and no second failure (MTBF): empty, never 0
    assert rel.loc[0, "incidents"] == 1 and math.isnan(rel.loc[0, "mttr_s"]) and math.isnan(rel.loc[0, "mtbf_s"])


def test_mttr_mtbf_two_incidents():
    runs = up.to_intervals(effective_states(frame("SSSSFFSSSSFSSSSS"), Thresholds(1, 1)))
    now = T0 + pd.Timedelta(hours=1)
    inc = up.incidents(runs, now=now)
    assert list(inc["duration_s"]) == [120, 60]
    rel = up.reliability(inc, up.uptime(runs, T0, T0 + pd.Timedelta(minutes=16), now=now))
    assert rel.loc[0, "mttr_s"] == 90 and rel.loc[0, "mtbf_s"] == 13 * 60 / 2


def test_stopped_is_down_at_once_and_hourly_heatmap():
    runs = up.to_intervals(effective_states(frame("SSXXSS"), Thresholds(3, 2)))
    # a stopped container is down at once (no failure threshold); back after 2 good samples
    assert list(runs["state"]) == ["up", "down", "up"]
    assert list(runs["n_samples"]) == [2, 3, 1]
    h = up.hourly(runs, T0, T0 + pd.Timedelta(hours=1), now=T0 + pd.Timedelta(hours=1))
    assert h.shape == (1, 1) and h.iloc[0, 0] == pytest.approx(3 / 6 * 100)


def test_parse_window_and_time():
    now = pd.Timestamp("2026-11-27T00:00:00Z")
    assert up.parse_window("7d", now) == (now - pd.Timedelta(days=7), now)
    s, e = up.parse_window("2026-11-20..2026-11-21T12:00", now)
    assert s == pd.Timestamp("2026-11-20T00:00Z") and e == pd.Timestamp("2026-11-21T12:00Z")
    assert up.parse_time("90m", now) == now - pd.Timedelta(minutes=90)
    with pytest.raises(ParameterError, match="Fix"):
        up.parse_window("last week", now)


def test_incidents_window_keeps_overlapping_and_ongoing():
    """Two resolved incidents and one ongoing: a window keeps those that overlap it."""
    runs = up.to_intervals(effective_states(frame("SSFFSSSSSSFFSSSSSSFF"), Thresholds(1, 1)))
    now = T0 + pd.Timedelta(minutes=20)
    all_inc = up.incidents(runs, now=now)
    assert list(all_inc["ongoing"]) == [False, False, True]
    late = up.incidents(runs, now=now, start=T0 + pd.Timedelta(minutes=15), end=now)
    assert list(late["ongoing"]) == [True]
    middle = up.incidents(runs, now=now, start=T0 + pd.Timedelta(minutes=11), end=T0 + pd.Timedelta(minutes=12))
    assert len(middle) == 1 and not middle.loc[0, "ongoing"]


def test_mtbf_needs_two_failures_and_mttr_a_closed_incident():
    """Issue 11: nothing to average reads as empty (blank in tables, null in JSON), never 0 s."""
    import json
    runs = up.to_intervals(effective_states(frame("SSSSFFSSSS"), Thresholds(1, 1)))
    now = T0 + pd.Timedelta(minutes=10)
    rel = up.reliability(up.incidents(runs, now=now), up.uptime(runs, T0, now, now=now))
    assert rel.loc[0, "incidents"] == 1 and rel.loc[0, "mttr_s"] == 120  # one closed incident: MTTR
    assert math.isnan(rel.loc[0, "mtbf_s"])                               # one failure: no MTBF
    assert up.fmt_duration(rel.loc[0, "mtbf_s"]) == ""
    assert json.loads(rel.to_json(orient="records"))[0]["mtbf_s"] is None
    none = up.reliability(up.incidents(runs.iloc[0:0], now=now), up.uptime(runs, T0, now, now=now))
    assert none.empty or (math.isnan(none.loc[0, "mttr_s"]) and math.isnan(none.loc[0, "mtbf_s"]))
