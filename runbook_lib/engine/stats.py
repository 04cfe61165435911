"""Resource use per running container as a frame, built from ``engine.stats_rows`` (the reads).

Frame columns (``COLUMNS``): container, name, project, service, cpu_pct, mem_bytes,
mem_limit_bytes, mem_pct, pids, cpu_total_ns, system_cpu_ns, online_cpus, read_at (UTC), error.
"""
from __future__ import annotations

import concurrent.futures
from typing import Any

import pandas as pd

from runbook_lib.engine.stats_rows import (COLUMNS, DEFAULT_WORKERS, MIN_ONE_SHOT_API, parse_stats,  # noqa: F401
                                           read_stats_rows, start_reading_engine_rows)


def empty_frame() -> pd.DataFrame:
    """A stats frame with the right columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame of ``read_stats_rows``' rows (an empty frame for none)."""
    if not rows:
        return empty_frame()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["read_at"] = pd.to_datetime(df["read_at"], utc=True)
    for col in ("cpu_pct", "mem_pct"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def read_stats(client: Any, containers: Any = None, *, previous: pd.DataFrame | None = None,
               workers: int = DEFAULT_WORKERS, timeout_s: float = 10.0, project: str | None = None) -> pd.DataFrame:
    """Resource use of running containers, read concurrently with one-shot stats.

    ``containers``: an inventory frame, a list of ids, or None (all running, of ``project``).
    A container that fails to answer is a row with ``error`` set, never an exception.
    """
    if isinstance(containers, pd.DataFrame):
        containers = containers.to_dict("records")
    prev = {} if previous is None or previous.empty else \
        previous.drop_duplicates("container", keep="last").set_index("container").to_dict("index")
    return frame(read_stats_rows(client, containers, previous=prev, workers=workers, timeout_s=timeout_s,
                                 project=project))


def start_reading(client: Any, containers: Any = None, **kwargs: Any) -> concurrent.futures.Future:
    """``read_stats`` in a background thread, started now: a notebook can start it right after
    the inventory (the engine takes ~1 s per one-shot answer for a container it has not sampled
    lately) and take ``.result()`` in the resources section, after the diagnosis and the plots."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook-stats")
    try:
        return pool.submit(read_stats, client, containers, **kwargs)
    finally:
        pool.shutdown(wait=False)


def as_frames(rows_future: concurrent.futures.Future) -> concurrent.futures.Future:
    """A future of stats rows as a future of their frame."""
    out: concurrent.futures.Future = concurrent.futures.Future()

    def done(f: concurrent.futures.Future) -> None:
        try:
            out.set_result(frame(f.result()))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result
            out.set_exception(exc)

    rows_future.add_done_callback(done)
    return out


def start_reading_engine(engine_url: str | None = None, *, project: str | None = None,
                         engine_timeout_s: float = 5.0, **kwargs: Any) -> concurrent.futures.Future:
    """``stats_rows.start_reading_engine_rows`` as a future of the frame (empty when the engine
    cannot be reached: the caller's own connect reports why)."""
    return as_frames(start_reading_engine_rows(engine_url, project=project, engine_timeout_s=engine_timeout_s,
                                               **kwargs))


def records(stats: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame as JSON-safe records (ISO times, None for missing)."""
    if stats is None or stats.empty:
        return []
    out = stats.drop(columns=["cpu_total_ns", "system_cpu_ns"]).astype(object)
    out["read_at"] = stats["read_at"].map(lambda t: t.isoformat() if not pd.isna(t) else None)
    return out.where(out.notna(), None).to_dict("records")
