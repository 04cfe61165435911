"""The one debounce engine (history.debounce): thresholds, unknown samples, start-period grace."""
from __future__ import annotations

import pandas as pd

from runbook_lib.history.debounce import (DOWN, STOPPED, UNKNOWN, UP, Debounce, Thresholds, effective_states,
                                          step)

T0 = pd.Timestamp("2026-11-27T00:00:00Z")


def _samples(states: str, service: str = "db") -> pd.DataFrame:
    m = {"S": "up", "F": "down", "U": "unknown"}
    return pd.DataFrame([{"service": service, "ts": T0 + pd.Timedelta(seconds=10 * i), "raw_state": m[c]}
                         for i, c in enumerate(states)])


def test_flapping_thresholds_one_down_one_up():
    out = effective_states(_samples("SSFFSFFFSS"), Thresholds(failure_threshold=3, success_threshold=2))
    assert len(out) == 10  # raw samples kept
    assert list(out["transition"].dropna()) == ["down", "up"]
    assert list(out["state"]) == ["up"] * 7 + ["down", "down", "up"]


def test_unknown_samples_do_not_count():
    out = effective_states(_samples("SFUFUF"), Thresholds(failure_threshold=3))
    assert list(out["transition"].dropna()) == ["down"]
    assert out.iloc[-1]["state"] == "down"


def test_start_period_forgives_failures():
    s = _samples("FFFFSS").assign(started_at=T0)
    out = effective_states(s, Thresholds(failure_threshold=1, success_threshold=1, start_period_s=35))
    assert list(out["transition"].dropna()) == []
    assert out.iloc[-1]["state"] == "up"
    assert set(out["state"].iloc[:4]) == {"starting"}


def test_thresholds_from_config_names():
    th = Thresholds.from_config({"failure": 4, "success": 2, "start_period_s": 5.0})
    assert (th.failure_threshold, th.success_threshold, th.start_period_s) == (4, 2, 5.0)
    long = Thresholds.from_config({"failure_threshold": 5, "success_threshold": 3})
    assert (long.failure_threshold, long.success_threshold, long.start_period_s) == (5, 3, 0.0)
    assert Thresholds.from_config(None) == Thresholds()


def test_step_is_the_engine_the_store_runs():
    d, th = Debounce(), Thresholds(failure_threshold=2, success_threshold=1)
    assert step(d, UP, 0.0, th) == UP
    assert step(d, DOWN, 10.0, th) == UP  # one failure is not enough
    assert step(d, UNKNOWN, 20.0, th) == UNKNOWN and d.fails == 1  # unknown changes nothing
    assert step(d, DOWN, 30.0, th) == DOWN
    assert step(d, UP, 40.0, th) == UP
    assert step(d, STOPPED, 50.0, th) == DOWN and d.stopped  # a stopped container is down at once
