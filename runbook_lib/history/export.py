"""``runbook export``: raw samples and incidents as parquet or csv, for analysis elsewhere.

Writes ``samples-<since>-<until>.<fmt>`` (raw samples within the raw retention: ts, project,
service, raw_state, state, latency_ms, error) and ``incidents-<since>-<until>.<fmt>``
(service, start, end, ongoing, duration_s, first_error), plus ``runs-…`` (the effective
state runs, which outlive raw samples) and ``events-…`` (the Docker events the collector
recorded, kept as long as raw samples: ts, host, project, service, container, container_id,
action, exit_code, detail). Texts are already masked in the store and are masked again on
the way out. Files are written under a temporary name and renamed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from runbook_lib import redact
from runbook_lib.history import uptime as up
from runbook_lib.history.interface import HistoryStore
from runbook_lib.history.sqlite_events import EVENT_COLUMNS
from runbook_lib.maintenance.windows import carve

FORMATS = ("parquet", "csv")
EVENT_TEXT_COLUMNS = ("service", "container", "detail")  # engine texts: labels, names, attributes


def export_frames(store: HistoryStore, since: pd.Timestamp, until: pd.Timestamp,
                  now: pd.Timestamp | None = None, maintenance: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """samples, runs, incidents and Docker events in [since, until), secrets masked (pure over the store's reads).

    Runs and samples are exported as recorded; incidents leave out the time in a ``maintenance`` window."""
    now = now or up.utcnow()
    samples = store.samples(since, until)
    runs = store.intervals(since, until)
    inc = up.incidents(carve(store.intervals(None, until), maintenance), now=min(now, until), start=since, end=until)
    # a store older than schema 3 (opened read-only, not migrated) has no events table
    events = store.events(since, until) if getattr(store, "version", 3) >= 3 else \
        pd.DataFrame(columns=EVENT_COLUMNS)
    for df, cols in ((samples, ("error",)), (runs, ("first_error",)), (inc, ("first_error",)),
                     (events, EVENT_TEXT_COLUMNS)):
        for col in (c for c in cols if c in df.columns):
            df[col] = [redact.mask_text(v) if isinstance(v, str) else v for v in df[col]]
    return {"samples": samples, "runs": runs, "incidents": inc, "events": events}


def write_frame(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write one frame atomically (temporary name, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "parquet":
        df.to_parquet(tmp, index=False)
    else:
        out = df.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                out[c] = out[c].map(lambda v: v.isoformat() if not pd.isna(v) else "")
        out.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
