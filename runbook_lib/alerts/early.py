"""Early warnings for the collector: engine stats and inventories kept over a few rounds, then the rules.

``WarningSource`` is called once per round by the Notifier; it reads the inventory and the
one-shot stats concurrently (engine.stats), keeps the last ``keep`` rounds in memory and
returns ``analysis.warnings.early_warnings`` over them. An engine fault is an empty frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from runbook_lib.analysis.warnings import WARNING_COLUMNS, early_warnings
from runbook_lib.engine.connection import connect
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

    def __call__(self) -> pd.DataFrame:
        try:
            client = connect(self.engine_url, timeout_s=self.engine_timeout_s)
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
