"""Early warnings: signs that arrive before the outage (pure functions over frames).

- OOM risk: memory above ``mem_pct`` of the limit for ``samples`` stats samples in a row;
- crash loop starting: the restart count grew over the recent inventories;
- slow healthcheck: a health probe's run time near its timeout;
- unguarded dependency: a service others wait on with ``service_healthy`` has no healthcheck.

Every function returns a frame with WARNING_COLUMNS; ``early_warnings`` concatenates them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

WARNING_COLUMNS = ["service", "project", "kind", "severity", "message", "fix", "value", "limit"]
DEFAULT_MEM_PCT = 90.0
DEFAULT_MEM_SAMPLES = 3
DEFAULT_LATENCY_RATIO = 0.8
DEFAULT_HEALTH_TIMEOUT_S = 30.0


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def _mib(n: Any) -> str:
    return f"{float(n) / 2**20:.0f} MiB"


def oom_risk(stats_history: pd.DataFrame, mem_pct: float = DEFAULT_MEM_PCT,
             samples: int = DEFAULT_MEM_SAMPLES) -> pd.DataFrame:
    """Services whose last ``samples`` stats rows are all above ``mem_pct`` % of the memory limit."""
    rows: list[dict[str, Any]] = []
    if stats_history is None or stats_history.empty:
        return _frame(rows)
    df = stats_history.dropna(subset=["mem_pct"]).sort_values("read_at")
    key = "service" if "service" in df.columns else "container"
    for name, grp in df.groupby(key, sort=True):
        last = grp.tail(samples)
        if len(last) < samples or not (last["mem_pct"] > mem_pct).all():
            continue
        top = last.iloc[-1]
        rows.append({"service": name, "project": top.get("project") or "", "kind": "oom_risk",
                     "severity": "warning",
                     "message": f"memory at {top['mem_pct']:.0f} % of its limit ({_mib(top['mem_bytes'])} of "
                                f"{_mib(top['mem_limit_bytes'])}) for {samples} samples: an OOM kill is near",
                     "fix": "raise the memory limit (deploy.resources.limits.memory / mem_limit) or find the leak",
                     "value": float(top["mem_pct"]), "limit": mem_pct})
    return _frame(rows)


def restart_growth(inventories: pd.DataFrame, min_increase: int = 1) -> pd.DataFrame:
    """Services whose restart count grew across inventories stacked with a ``ts`` column (oldest first)."""
    rows: list[dict[str, Any]] = []
    if inventories is None or inventories.empty or "restart_count" not in inventories.columns:
        return _frame(rows)
    df = inventories.sort_values("ts") if "ts" in inventories.columns else inventories
    for name, grp in df.groupby("service", sort=True):
        counts = pd.to_numeric(grp["restart_count"], errors="coerce").dropna()
        if len(counts) < 2:
            continue
        grew = int(counts.iloc[-1] - counts.iloc[0])
        if grew >= min_increase:
            rows.append({"service": name, "project": grp["project"].iloc[-1] if "project" in grp else "",
                         "kind": "restart_growth", "severity": "warning",
                         "message": f"restarted {grew} time(s) in the recent samples (now {int(counts.iloc[-1])}): "
                                    "a crash loop that is still starting up",
                         "fix": "read its logs from before the restart (runbook report investigate)",
                         "value": float(grew), "limit": float(min_increase)})
    return _frame(rows)


def _probe_durations_s(log: Any) -> list[float]:
    out = []
    for entry in log or []:
        start, end = pd.to_datetime(entry.get("start") or None, utc=True), pd.to_datetime(entry.get("end") or None, utc=True)
        if start is not None and end is not None and not pd.isna(start) and not pd.isna(end):
            out.append(max(0.0, (end - start).total_seconds()))
    return out


def slow_healthchecks(inventory: pd.DataFrame, timeouts_s: Mapping[str, float] | None = None,
                      ratio: float = DEFAULT_LATENCY_RATIO) -> pd.DataFrame:
    """Services whose slowest recent health probe took more than ``ratio`` of its timeout."""
    rows: list[dict[str, Any]] = []
    if inventory is None or inventory.empty or "health_log" not in inventory.columns:
        return _frame(rows)
    timeouts_s = timeouts_s or {}
    for rec in inventory.to_dict("records"):
        durations = _probe_durations_s(rec.get("health_log"))
        if not durations:
            continue
        timeout = float(timeouts_s.get(rec["service"]) or DEFAULT_HEALTH_TIMEOUT_S)
        worst = max(durations)
        if worst >= ratio * timeout:
            rows.append({"service": rec["service"], "project": rec.get("project") or "", "kind": "slow_healthcheck",
                         "severity": "warning",
                         "message": f"health probe took {worst:.1f} s of its {timeout:g} s timeout",
                         "fix": "find why the check is slow, or raise healthcheck.timeout",
                         "value": worst, "limit": timeout})
    return _frame(rows)


def unguarded_dependencies(catalog_frame: pd.DataFrame) -> pd.DataFrame:
    """Dependencies others wait on with ``condition: service_healthy`` that have no healthcheck."""
    rows: list[dict[str, Any]] = []
    if catalog_frame is None or catalog_frame.empty:
        return _frame(rows)
    has_hc = dict(zip(catalog_frame["service"], catalog_frame["has_healthcheck"]))
    waiting: dict[str, list[str]] = {}
    for rec in catalog_frame.to_dict("records"):
        for dep in rec.get("depends_on") or []:
            if dep.get("condition") == "service_healthy" and dep["service"] in has_hc and not has_hc[dep["service"]]:
                waiting.setdefault(dep["service"], []).append(rec["service"])
    for dep, waiters in sorted(waiting.items()):
        rows.append({"service": dep, "project": "", "kind": "unguarded_dependency", "severity": "warning",
                     "message": f"{', '.join(sorted(waiters))} wait for it to be healthy, but it has no healthcheck",
                     "fix": f"add a healthcheck to {dep} (see runbook compose lint)",
                     "value": float(len(waiters)), "limit": None})
    return _frame(rows)


def early_warnings(*, stats_history: pd.DataFrame | None = None, inventories: pd.DataFrame | None = None,
                   inventory: pd.DataFrame | None = None, catalog_frame: pd.DataFrame | None = None,
                   timeouts_s: Mapping[str, float] | None = None,
                   mem_samples: int = DEFAULT_MEM_SAMPLES) -> pd.DataFrame:
    """All early warnings over the frames that are given, one row each."""
    parts: Iterable[pd.DataFrame] = [oom_risk(stats_history, samples=mem_samples), restart_growth(inventories),
                                     slow_healthchecks(inventory, timeouts_s), unguarded_dependencies(catalog_frame)]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else _frame([])


def health_timeouts(catalog_frame: pd.DataFrame | None) -> dict[str, float]:
    """service -> healthcheck timeout in seconds, from a catalog frame."""
    if catalog_frame is None or catalog_frame.empty:
        return {}
    return {r["service"]: float(r["healthcheck"]["timeout_s"]) for r in catalog_frame.to_dict("records")
            if isinstance(r.get("healthcheck"), dict) and r["healthcheck"].get("timeout_s")}
