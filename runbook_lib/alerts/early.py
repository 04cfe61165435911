"""Early warnings for the collector: engine stats and inventories kept over a few rounds, then the rules.

``WarningSource`` is called once per round by the Notifier; it reads the inventory and the
one-shot stats concurrently (engine.stats), keeps the last ``keep`` rounds in memory and
returns ``analysis.warnings.early_warnings`` over them. An engine fault is an empty frame.
``HostWarnings`` does the same for every named engine host (``collect --host``), concurrently,
each row naming its ``host`` (the Notifier puts it in the message and the repeat key).
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from runbook_lib.analysis.warnings import WARNING_COLUMNS, early_warnings
from runbook_lib.engine.connection import connect
from runbook_lib.engine.hosts import HostSpec, connect_host
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.engine.stats import read_stats


@dataclass
class WarningSource:
    """Callable: the early warnings of this round (stats history over the last ``keep`` rounds)."""

    engine_url: str | None = None
    project: str | None = None
    engine_timeout_s: float = 5.0
    keep: int = 5
    stats_history: list[pd.DataFrame] = field(default_factory=list)
    inventories: list[pd.DataFrame] = field(default_factory=list)
    connect: Callable[[], Any] | None = None  # makes the client of a named host (TLS, ssh) instead of engine_url

    def __call__(self) -> pd.DataFrame:
        try:
            client = (self.connect() if self.connect is not None
                      else connect(self.engine_url, timeout_s=self.engine_timeout_s))
        except Exception:  # noqa: BLE001 - no engine this round: no warnings, the states say the rest
            return pd.DataFrame(columns=WARNING_COLUMNS)
        try:
            inv = gather_inventory(client, project=self.project)
            st = read_stats(client, inv, previous=self.stats_history[-1] if self.stats_history else None)
        finally:
            client.close()
        now = pd.Timestamp.now(tz="UTC")
        self.inventories = (self.inventories + [inv[["service", "project", "restart_count"]].assign(ts=now)])[-self.keep:]
        self.stats_history = (self.stats_history + [st])[-self.keep:]
        return early_warnings(stats_history=pd.concat(self.stats_history, ignore_index=True),
                              inventories=pd.concat(self.inventories, ignore_index=True), inventory=inv)


@dataclass
class HostWarnings:
    """Callable: the early warnings of every named host this round (a ``host`` column first)."""

    sources: dict[str, WarningSource]

    @classmethod
    def for_hosts(cls, hosts: Sequence[HostSpec], project: str | None = None,
                  engine_timeout_s: float = 5.0) -> HostWarnings:
        return cls({h.name: WarningSource(h.url, project, engine_timeout_s,
                                          connect=partial(connect_host, h, h.timeout_s or engine_timeout_s))
                    for h in hosts})

    def __call__(self) -> pd.DataFrame:
        if not self.sources:
            return pd.DataFrame(columns=["host", *WARNING_COLUMNS])
        with cf.ThreadPoolExecutor(max_workers=min(8, len(self.sources)), thread_name_prefix="runbook-warn") as pool:
            found = {h: pool.submit(src) for h, src in self.sources.items()}
            parts = [f.result().assign(host=h) for h, f in found.items()]
        out = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
        return out[["host", *[c for c in out.columns if c != "host"]]]
