"""One or several engines behind a report: a ``Stack`` per host, and frames with a ``host`` column.

``gather_engines(...)`` gathers the named hosts (the ``hosts`` parameter, else RUNBOOK_HOSTS,
else ``hosts:`` in runbook.yaml) concurrently, or the one default engine when none is named.
``Engines.per_host(fn)`` runs a per-stack section on every host and stacks the frames with
``host`` first; an unreachable host becomes one ``unknown`` row carrying its reason, never
an exception. With one engine the ``host`` column is left out, so the report reads as before.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.config import load_config
from runbook_lib.engine import stats as engine_stats
from runbook_lib.engine.hosts import resolve_hosts
from runbook_lib.exceptions import RunbookError
from runbook_lib.multistack import MultiStack, gather_hosts
from runbook_lib.reports import prefetch
from runbook_lib.reports.values import as_list
from runbook_lib.stack import Stack, gather

UNREACHABLE = "(engine)"  # the service shown on an unreachable host's row


@dataclass
class Engines:
    """The stacks a report covers, in the order the hosts were named ("" for the one default engine)."""

    stacks: dict[str, Stack]
    multi: MultiStack | None = None
    stats_pending: dict[str, Future] = field(default_factory=dict)
    probes_pending: Future | None = None  # the probe round a report started in the background

    @property
    def named(self) -> bool:
        """True when several hosts are shown: frames then carry a ``host`` column."""
        return len(self.stacks) > 1

    @property
    def hosts(self) -> list[str]:
        return list(self.stacks)

    @property
    def single(self) -> Stack:
        """The first (or only) stack."""
        return next(iter(self.stacks.values()))

    @property
    def inventory(self) -> pd.DataFrame:
        """Every container; with a ``host`` column first (and an ``unknown`` row per unreachable host) when named."""
        if self.multi is not None and self.named:
            return self.multi.inventory
        return self.single.inventory

    def start_stats(self) -> None:
        """Start every reachable host's one-shot stats read in the background (the engine takes
        up to ~1 s per container it has not sampled lately); ``stats(host)`` takes the result."""
        for host, st in self.stacks.items():
            if st.client is not None and host not in self.stats_pending:
                self.stats_pending[host] = engine_stats.start_reading(st.client, st.inventory)

    def start(self, fn: Callable[..., Any], *args: Any) -> Future:
        """``fn(*args)`` in a background thread, started now; ``.result()`` gives its value or raises."""
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook-report")
        try:
            return pool.submit(fn, *args)
        finally:
            pool.shutdown(wait=False)

    def stats(self, host: str) -> pd.DataFrame:
        """One host's resource use: the read ``start_stats`` began, else one read now."""
        st = self.stacks[host]
        if st.client is None:
            return engine_stats.empty_frame()
        pending = self.stats_pending.pop(host, None)
        early = pending.result() if pending is not None else None
        if early is not None and (len(early) or not (st.inventory["state"] == "running").any()):
            return early
        return engine_stats.read_stats(st.client, st.inventory)  # none started, or it could not connect

    def reason(self, host: str) -> str | None:
        """Why a host could not be gathered (masked), or None when it answered."""
        st = self.stacks[host]
        return None if st.client is not None else redact.mask_text(str(st.engine_error or "not contacted"))

    @property
    def degraded_reasons(self) -> list[str]:
        if self.multi is not None:
            return self.multi.degraded_reasons
        st = self.single
        return [str(st.engine_error)] if st.engine_error is not None else []

    def per_host(self, fn: Callable[[str, Stack], pd.DataFrame | None], columns: list[str],
                 unknown: Callable[[str, str], dict[str, Any]] | None = None) -> pd.DataFrame:
        """``fn(host, stack)`` on every host, stacked with ``host`` first (dropped with one engine).

        An unreachable host (or one whose ``fn`` raises a RunbookError) gives the row
        ``unknown(host, reason)`` (default: ``service`` "(engine)", ``state`` unknown).
        """
        parts = []
        for host, st in self.stacks.items():
            why = self.reason(host) if self.named else None
            frame = None
            if why is None:
                try:
                    frame = fn(host, st)
                except RunbookError as exc:
                    if not self.named:
                        raise
                    why = redact.mask_text(str(exc))
            if why is not None:
                row = (unknown or unknown_row)(host, why)
                frame = pd.DataFrame([{c: row.get(c) for c in columns}], columns=columns)
            if frame is not None:
                parts.append(frame.assign(host=host) if self.named else frame)
        parts = [p for p in parts if len(p)] or parts[:1]
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        if self.named:
            out = out[["host", *[c for c in out.columns if c != "host"]]]
        return out


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-safe records: NaN (an unreachable host's missing numbers) becomes None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def unknown_row(host: str, reason: str) -> dict[str, Any]:
    """The row that stands for an unreachable host in a section's table."""
    return {"service": UNREACHABLE, "state": "unknown", "health": "unknown", "error": reason,
            "kind": "engine", "severity": "high", "message": f"host {host} unreachable: {reason}"}


def gather_engines(engine_url: str | None = None, hosts: str | Iterable[str] | None = None, *, project: str | None = None,
                   compose_files: str | Iterable[str | Path] = (), config_path: str | Path | None = None,
                   engine_timeout_s: float = 5.0, include_stopped: bool = True, load_compose: bool = True,
                   all_projects: bool | None = None, with_stats: bool = False) -> Engines:
    """Gather the named hosts concurrently, else the one engine at ``engine_url`` (as today).

    ``with_stats``: the one engine's resource stats are read from now on, in the background,
    while the inventory is gathered (``Engines.stats`` takes them; named hosts start theirs in
    ``start_stats``); one the report's kernel started before the first cell is taken when it was
    started for the same engine, project and timeout (``prefetch``)."""
    files = as_list(compose_files)
    every = not (project or files) if all_projects is None else all_projects
    cfg = load_config(config_path)
    specs = resolve_hosts(as_list(hosts), cfg)
    if not specs:
        early = prefetch.take_stats(engine_url, project, engine_timeout_s) if with_stats else None
        if early is not None:
            early = engine_stats.as_frames(early)
        elif with_stats:
            early = engine_stats.start_reading_engine(engine_url, project=project, engine_timeout_s=engine_timeout_s)
        pending = {"": early} if early is not None else {}
        st = gather(engine_url, project=project, compose_files=files, config=cfg, engine_timeout_s=engine_timeout_s,
                    include_stopped=include_stopped, all_projects=every, load_compose=load_compose)
        return Engines(stacks={"": st}, stats_pending=pending)
    multi = gather_hosts(specs, project=project, compose_files=files, config=cfg, engine_timeout_s=engine_timeout_s,
                         include_stopped=include_stopped, all_projects=every, load_compose=load_compose)
    return Engines(stacks=dict(multi.stacks), multi=multi)
