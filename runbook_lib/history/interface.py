"""The history store contract: what the collector writes and the reports read, whatever the backend.

``SqliteStore`` (one local file, WAL) is the backend today; a PostgreSQL one can be added
by implementing this class and teaching ``store.open_store`` its URL scheme.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import pandas as pd

from runbook_lib.history.debounce import Thresholds


class HistoryStore(ABC):
    """An open history store: rounds in, effective-state runs, samples and latency out (frames, UTC)."""

    thresholds: Thresholds

    # ---- lifecycle
    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- writing
    @abstractmethod
    def write_round(self, ts: Any, inventory_frame: pd.DataFrame | None, probe_rows: pd.DataFrame | None = None,
                    *, interval_s: float = 60.0, engine_ok: bool | None = None, project: str | None = None,
                    notes: Iterable[str] = ()) -> int:
        """Record one round (inventory + probe rows) taken at ``ts``, atomically; return samples written."""

    @abstractmethod
    def write_states(self, ts: Any, states: pd.DataFrame, *, interval_s: float = 60.0, engine_ok: bool = True,
                     project: str | None = None, notes: Iterable[str] = (), mark_missing: bool = False) -> int:
        """Record per-service raw states (``combine.combine_round`` shape) for one round, atomically."""

    # ---- reading
    @abstractmethod
    def services(self) -> pd.DataFrame:
        """Every service ever seen: project, service, image, first_seen."""

    @abstractmethod
    def intervals(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                  project: str | None = None) -> pd.DataFrame:
        """Effective-state runs overlapping [since, until): project, service, state, start, end, n_samples,
        first_error."""

    @abstractmethod
    def samples(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                project: str | None = None) -> pd.DataFrame:
        """Raw samples in [since, until): ts, project, service, raw_state, state, latency_ms, error."""

    @abstractmethod
    def latency_stats(self, since: Any = None, until: Any = None, project: str | None = None) -> pd.DataFrame:
        """Per-service latency p50/p95/p99 (ms), sample count and source over the window."""

    @abstractmethod
    def rounds(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """Collection rounds: ts, collector (the engine hosts it covered; '' = the default engine), interval_s,
        services, engine_ok, notes."""

    # ---- Docker events (die, oom, kill, start, restart, health_status, stop)
    @abstractmethod
    def write_events(self, events: pd.DataFrame | Iterable[dict[str, Any]], *, read_to: Any = None,
                     key: str = "") -> int:
        """Store events (ts, host, project, service, container, container_id, action, exit_code, detail;
        masked, duplicates ignored) and where this read of the engine ended (per ``key``), atomically."""

    @abstractmethod
    def events_read_to(self, key: str = "") -> pd.Timestamp | None:
        """Where the last read of the engine's events for ``key`` ended (None: never read)."""

    @abstractmethod
    def events(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
               project: str | None = None) -> pd.DataFrame:
        """Stored events in [since, until), oldest first (kept as long as raw samples)."""
