"""The one debounce engine: consecutive-result thresholds and the start-period grace (pure).

State codes (raw from a round, effective out of the debounce), the ``Thresholds`` of the
runbook config, the per-service ``Debounce`` state and ``step`` that advances it by one
sample. The store runs ``step`` on ingest; ``effective_states`` runs it over a frame of
samples (what-if thresholds in the uptime report).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

# State codes. Raw codes come from a round; effective codes come out of the debounce.
UNKNOWN, UP, DEGRADED, DOWN, STOPPED, STARTING = 0, 1, 2, 3, 4, 5
STATE_NAMES = {UNKNOWN: "unknown", UP: "up", DEGRADED: "degraded", DOWN: "down", STOPPED: "stopped",
               STARTING: "starting"}
STATE_CODES = {v: k for k, v in STATE_NAMES.items()}
SEVERITY = {UNKNOWN: -1, UP: 0, DEGRADED: 1, STARTING: 1, DOWN: 2, STOPPED: 3}


@dataclass(frozen=True)
class Thresholds:
    """Consecutive-result thresholds (as Kubernetes/Docker) and the start-period grace.

    ``failure_threshold`` failing samples in a row make a service down,
    ``success_threshold`` good samples in a row bring it back; failing samples within
    ``start_period_s`` of a (re)start do not count (effective state "starting"). A stopped
    container is down at once (it is not flapping); unknown samples change nothing.
    """

    failure_threshold: int = 3
    success_threshold: int = 2
    start_period_s: float = 0.0

    @classmethod
    def from_config(cls, thresholds: Mapping[str, Any] | None) -> "Thresholds":
        """From the runbook config's ``thresholds:`` block (failure, success, start_period_s)."""
        t = dict(thresholds or {})
        return cls(int(t.get("failure", t.get("failure_threshold", 3))),
                   int(t.get("success", t.get("success_threshold", 2))),
                   float(t.get("start_period_s", 0.0)))


@dataclass
class Debounce:
    """Per-service debounce state carried from one sample to the next."""

    eff: int | None = None      # effective state, None before the first known sample
    fails: int = 0              # consecutive failing samples
    oks: int = 0                # consecutive good samples
    start_ts: float | None = None  # last (re)start, epoch seconds
    stopped: bool = True        # last known container state was "not running" (or never seen)


def step(d: Debounce, raw: int, ts: float, th: Thresholds, started_ts: float | None = None) -> int:
    """Advance the debounce with one raw sample (mutates ``d``); return the effective state."""
    if raw == UNKNOWN:
        return UNKNOWN
    if raw == STOPPED:
        d.eff, d.fails, d.oks, d.stopped = DOWN, 0, 0, True
        return DOWN
    if started_ts is not None:
        if d.start_ts is None or abs(started_ts - d.start_ts) > 1.0:
            d.start_ts = started_ts
    elif d.stopped:
        d.start_ts = ts
    d.stopped = False
    if raw == STARTING:  # the container's own healthcheck is still in its start period
        return STARTING
    in_grace = th.start_period_s > 0 and d.start_ts is not None and 0 <= ts - d.start_ts < th.start_period_s
    if raw == DOWN:
        if in_grace:
            return STARTING if d.eff in (None, STARTING, DOWN) else d.eff
        d.fails += 1
        d.oks = 0
        if d.eff is None or (d.eff != DOWN and d.fails >= th.failure_threshold):
            d.eff = DOWN  # the first known sample sets the state; later, only a run of failures
        return d.eff
    # UP or DEGRADED
    d.oks += 1
    d.fails = 0
    if d.eff == DOWN:
        if d.oks >= th.success_threshold:
            d.eff = raw
    else:
        d.eff = raw
    return d.eff


def effective_states(samples: pd.DataFrame, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Recompute the effective ``state`` of raw samples with the given thresholds (all samples kept).

    ``samples``: service, ts, raw_state (up/degraded/down/stopped/starting/unknown), optionally
    started_at (container start time, for the start-period grace). Adds ``transition``
    ("down"/"up"/None) where the effective state crosses between down and up/degraded.
    """
    th = thresholds or Thresholds()
    out = samples.sort_values(["service", "ts"], kind="stable").reset_index(drop=True).copy()
    eff: list[str] = []
    trans: list[str | None] = []
    machines: dict[Any, Debounce] = {}
    last: dict[Any, str] = {}
    has_start = "started_at" in out.columns
    for i, (svc, ts, raw) in enumerate(zip(out["service"], out["ts"], out["raw_state"])):
        d = machines.setdefault(svc, Debounce())
        started = None
        if has_start:
            v = out.at[i, "started_at"]
            started = None if v is None or pd.isna(v) else pd.Timestamp(v).timestamp()
        code = step(d, STATE_CODES.get(str(raw), 0), pd.Timestamp(ts).timestamp(), th, started)
        name = STATE_NAMES[code]
        prev = last.get(svc)
        t = None
        if prev is not None and name != prev:
            if name == "down" and prev in ("up", "degraded", "starting"):
                t = "down"
            elif prev == "down" and name in ("up", "degraded"):
                t = "up"
        if name != "unknown":
            last[svc] = name
        eff.append(name)
        trans.append(t)
    out["state"] = eff
    out["transition"] = trans
    return out
