"""The collector's Docker events: each round reads the engine's events since the last read into the store.

Events outlive the engine's memory (it keeps only its last events) and the containers
themselves, so the postmortem can still show a kill or an OOM after the container is gone.
Never raises: a fault is a note on the round.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.events import read_events
from runbook_lib.history.interface import HistoryStore

MAX_LOOKBACK_S = 86400.0  # a collector restarted after a long pause reads at most one day back


def record_events(store: HistoryStore, client: Any, *, interval_s: float = 60.0, project: str | None = None,
                  label: str | None = None, host: str = "", now: pd.Timestamp | None = None,
                  deadline_s: float = 10.0) -> list[str]:
    """Read the engine's events since the last read (first time: one interval back) and store them;
    return notes (empty when all went well)."""
    until = now or pd.Timestamp.now(tz="UTC")
    key = f"{host}/{project or ''}/{label or ''}"
    try:
        since = store.events_read_to(key)
        floor = until - pd.Timedelta(seconds=MAX_LOOKBACK_S)
        since = until - pd.Timedelta(seconds=interval_s) if since is None else max(since, floor)
        if since >= until:
            return []
        rows = read_events(client, since, until, project=project, label=label, host=host, deadline_s=deadline_s)
        store.write_events(rows, read_to=until, key=key)
    except Exception as exc:  # noqa: BLE001 - events are evidence, never a reason to lose the round
        return [redact.mask_text(f"docker events not recorded ({type(exc).__name__}: {exc})")[:300]]
    return []
