"""Incident timings from what the store and the outbox recorded: pure functions over frames.

Time to detect runs from the first *raw* failure sample (what a probe or the engine saw,
before the failure threshold) to the first alert actually delivered; the debounced state
starts later, after ``thresholds.failure`` samples, and would hide that delay.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

PROBLEM_RAW = frozenset({"down", "stopped", "degraded"})


def first_raw_failure(samples: pd.DataFrame, service: str, state_start: Any,
                      project: str | None = None) -> pd.Timestamp | None:
    """The first sample of the unbroken run of raw failures that led to the state starting at ``state_start``.

    ``samples``: ``HistoryStore.samples`` (ts, project, service, raw_state, …). Walks back from
    the last sample at or before ``state_start`` while the raw state is a failure. None when no
    raw failure is recorded there (samples expired, or the service has none).
    """
    if samples is None or samples.empty or state_start is None or pd.isna(state_start):
        return None
    df = samples[samples["service"] == service]
    if project and "project" in df.columns:
        df = df[df["project"] == project]
    df = df[df["ts"] <= pd.Timestamp(state_start)].sort_values("ts", kind="stable")
    first = None
    for ts, raw in zip(reversed(df["ts"].tolist()), reversed(df["raw_state"].tolist())):
        if raw not in PROBLEM_RAW:
            break
        first = ts
    return None if first is None else pd.Timestamp(first)


def first_delivered(messages: pd.DataFrame) -> pd.Timestamp | None:
    """When the first alert of these outbox rows (one incident's) reached a receiver (None: none did)."""
    if messages is None or messages.empty or "sent_at" not in messages.columns:
        return None
    keep = pd.Series(True, index=messages.index)
    if "status" in messages.columns:
        keep &= messages["status"] == "sent"
    if "kind" in messages.columns:
        keep &= messages["kind"] != "recovered"
    sent = pd.to_datetime(messages.loc[keep, "sent_at"], utc=True).dropna()
    return pd.Timestamp(sent.min()) if len(sent) else None


def detect_and_recover_s(first_failure: pd.Timestamp, alert_at: pd.Timestamp | None,
                         closed_at: pd.Timestamp | None) -> tuple[float | None, float | None]:
    """(time to detect, time to recover) in seconds from the first raw failure; None where not reached."""
    ttd = None if alert_at is None else max(0.0, (alert_at - first_failure).total_seconds())
    ttr = None if closed_at is None else max(0.0, (closed_at - first_failure).total_seconds())
    return ttd, ttr
