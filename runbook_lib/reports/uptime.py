"""The uptime report (notebooks/uptime_report.ipynb): one window of the history store as frames.

``build`` is the I/O edge: it opens the store read-only, loads the config (tier overrides),
reads the window with ``read_history`` and closes the store. ``assemble`` is pure: frames in,
an ``UptimeReport`` out (tables, display frames, KPIs, figure frames, ``summary()``). The
notebook only displays what the report holds and publishes ``summary()``.

A store that cannot be opened is not an exception: the report is degraded, ``has_data`` is
False and ``problems`` says why (and what to do).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import config as rconfig, knowledge
from runbook_lib.analysis import tiers
from runbook_lib.history import uptime
from runbook_lib.exceptions import RunbookError, StoreCorrupt
from runbook_lib.history.store import open_store
from runbook_lib.maintenance.windows import MaintenanceDB, carve, windows_frame

TABLE_COLUMNS = ["service", "state", "uptime", "available_pct", "degraded_pct", "down_pct", "coverage_pct",
                 "maintenance", "1h_pct", "24h_pct", "7d_pct", "30d_pct", "incidents", "mttr", "mtbf"]
LATENCY_COLUMNS = ["service", "p50_ms", "p95_ms", "p99_ms", "samples", "source"]
INCIDENT_TABLE_COLUMNS = ["service", "status", "start", "end", "duration", "first_error"]
NO_ROUNDS = "no collection rounds in this window: run `runbook collect` (see docs/history.md)"
HISTORY_DAYS = 30  # the 30d column and incidents need this much history, whatever the window
HOST_SEP = " · "  # several hosts in the store: services read "host · service"
LOCAL_HOST = "local"  # the host of rows collected without a host name


@dataclass(frozen=True)
class History:
    """What the report reads from the store for one window (already filtered to the project)."""

    services: pd.DataFrame  # store.services(): project, service, image, …
    runs_30d: pd.DataFrame  # intervals from min(start, now - 30 d) to end
    latency: pd.DataFrame   # store.latency_stats over the window
    rounds: pd.DataFrame    # store.rounds over the window
    maintenance: pd.DataFrame | None = None  # maintenance windows over runs_30d's span (manual + runbook.yaml)
    keyed: bool = False     # several hosts in the store: services read ``host · service`` (kept apart)


@dataclass(frozen=True)
class UptimeReport:
    """Everything the uptime notebook shows and publishes. Frames are None without a store."""

    window: str
    start: pd.Timestamp
    end: pd.Timestamp
    now: pd.Timestamp
    store_path: Path | None                      # the store read (None: it could not be opened)
    problems: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)  # a damaged store (not a missing one)
    table: pd.DataFrame | None = None            # uptime.uptime_table for the window
    incidents: pd.DataFrame | None = None        # uptime.incidents overlapping the window
    latency: pd.DataFrame | None = None          # p50/p95/p99 per service
    available_pct: float = float("nan")          # time-weighted over services with data
    kpis: dict[str, Any] = field(default_factory=dict)
    tier_tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # (tier label, display frame)
    heatmap: pd.DataFrame | None = None          # uptime.hourly of the worst max_lanes services
    timeline: pd.DataFrame | None = None         # their runs clipped to the window
    latency_table: pd.DataFrame | None = None
    incidents_table: pd.DataFrame | None = None  # newest first, text times, status pill
    maintenance: pd.DataFrame | None = None      # the maintenance windows (shaded bands, left out of uptime)

    @property
    def has_data(self) -> bool:
        """True when the store was read (the sections have something to show)."""
        return self.table is not None

    def banners(self) -> list[tuple[str, str]]:
        """(text, level) pairs for the top of the report: the window, then each problem."""
        head = f"Window {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC ({self.window})"
        if self.store_path is not None:
            head += f", store {self.store_path}"
        level = "warning" if self.has_data else "error"
        return [(head, "info")] + [(p, level) for p in self.problems]

    def summary(self) -> dict[str, Any]:
        """The JSON-ready dict the notebook publishes (merged into the report's .json)."""
        out: dict[str, Any] = {"window": self.window, "start": self.start.isoformat(), "end": self.end.isoformat()}
        if not self.has_data:
            out.update(status="degraded", degraded_reasons=list(self.problems))
            return out
        table, inc, lat = self.table, self.incidents, self.latency
        out.update(
            status="degraded" if self.problems else "ok", degraded_reasons=list(self.problems),
            available_pct=_num(self.available_pct), services=len(table), incidents=len(inc),
            ongoing_incidents=int(inc["ongoing"].sum()) if len(inc) else 0,
            maintenance_s=_num(float(table["maintenance_s"].sum())),
            uptime=[{"service": r.service, "tier": r.tier, "state": r.state, "uptime": r.uptime,
                     "available_pct": _num(r.available_pct), "down_pct": _num(r.down_pct),
                     "coverage_pct": _num(r.coverage_pct), "maintenance_s": _num(r.maintenance_s),
                     "incidents": int(r.incidents),
                     "mttr_s": _num(r.mttr_s), "mtbf_s": _num(r.mtbf_s)} for r in table.itertuples()],
            incident_list=[{"service": r.service, "start": r.start.isoformat(),
                            "end": None if pd.isna(r.end) else r.end.isoformat(), "duration_s": r.duration_s,
                            "first_error": r.first_error} for r in inc.itertuples()],
            latency=lat.round(3).to_dict("records"))
        return out


def _num(v: Any) -> float | None:
    return None if v != v else round(float(v), 4)


def _pct_text(v: Any) -> str:
    return "no data" if v != v else f"{v:.2f}"


def _time_text(v: Any) -> str:
    return "ongoing" if pd.isna(v) else f"{v:%Y-%m-%d %H:%M:%S}"


# ---------------------------------------------------------------- I/O
def read_history(store, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp,
                 project: str | None = None, maintenance: pd.DataFrame | None = None) -> History:
    """Read one window (and the 30 days the standard columns need) from an open store;
    ``maintenance``: the windows over that span (``maintenance_windows``)."""
    services = store.services()
    if project:
        services = services[services["project"] == project]
    names = list(services["service"])
    since = min(start, now - pd.Timedelta(days=HISTORY_DAYS))
    runs_30d = store.intervals(since, end, services=names, project=project)
    lat = store.latency_stats(start, end, project=project)
    return by_host(History(services=services, runs_30d=runs_30d, latency=lat[lat["service"].isin(names)],
                           rounds=store.rounds(start, end), maintenance=maintenance))


def maintenance_windows(config: Any, start: pd.Timestamp, end: pd.Timestamp,
                        problems: list[str]) -> pd.DataFrame | None:
    """The manual (RUNBOOK_MAINTENANCE_DB) and runbook.yaml windows over [start, end), read once;
    a fault is a problem line (None: no windows)."""
    try:
        return windows_frame(MaintenanceDB(), config, start, end)
    except RunbookError as exc:
        problems.append(f"maintenance windows not read: {exc}")
        return None


def _keyed_names(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or "host" not in frame.columns or "service" not in frame.columns:
        return frame
    hosts = frame["host"].fillna("").astype(str).replace("", LOCAL_HOST)
    return frame.assign(service=[f"{h}{HOST_SEP}{s}" for h, s in zip(hosts, frame["service"])])


def by_host(history: History) -> History:
    """With several hosts in the store, key every service as ``host · service`` (same name on two
    hosts: two lanes, two rows); with one host (or a store without hosts) unchanged."""
    hosts = set(history.services["host"].fillna("").astype(str)) if "host" in history.services.columns else set()
    if len(hosts) < 2:
        return history
    maint = history.maintenance
    if maint is not None and len(maint) and "service" in maint.columns:  # a service's window, keyed on its hosts
        rows = [w if w["service"] == "*" else {**w, "service": f"{h or LOCAL_HOST}{HOST_SEP}{w['service']}"}
                for w in maint.to_dict("records") for h in (sorted(hosts) if w["service"] != "*" else [None])
                if w["service"] == "*" or not w.get("host") or w["host"] == h]
        maint = pd.DataFrame(rows, columns=maint.columns)
    return History(services=_keyed_names(history.services), runs_30d=_keyed_names(history.runs_30d),
                   latency=_keyed_names(history.latency), rounds=history.rounds, maintenance=maint, keyed=True)


def host_column(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Split ``host · service`` back into a ``host`` column first (display tables)."""
    if frame is None or "service" not in frame.columns:
        return frame
    parts = [str(s).split(HOST_SEP, 1) if HOST_SEP in str(s) else ["", str(s)] for s in frame["service"]]
    out = frame.assign(service=[p[1] for p in parts])
    out.insert(0, "host", [p[0] for p in parts])
    return out


def build(window: Any = "24h", store_path: str | Path | None = None, project: str | None = None,
          config_path: str | None = None, max_lanes: int = 60, now: pd.Timestamp | None = None) -> UptimeReport:
    """Open the store read-only and the config, read the window, close the store, assemble the report.

    Raises ParameterError for a window that cannot be parsed; a missing or unreadable store or
    config becomes a problem in the (degraded) report instead.
    """
    now = now or uptime.utcnow()
    start, end = uptime.parse_window(str(window), now)
    problems: list[str] = []
    degraded: list[str] = []
    store = None
    try:
        store = open_store(store_path, readonly=True)
    except StoreCorrupt as exc:
        problems.append(str(exc))
        degraded.append(f"history store: {exc}")
    except RunbookError as exc:
        problems.append(str(exc))
    try:
        config = rconfig.load_config(config_path)
    except RunbookError as exc:
        config = None
        problems.append(str(exc))
    overrides = config.tiers if config is not None else {}
    if store is None:
        return UptimeReport(str(window), start, end, now, None, problems, degraded)
    maintenance = maintenance_windows(config, min(start, now - pd.Timedelta(days=HISTORY_DAYS)), end, problems)
    try:
        history = read_history(store, start, end, now, project, maintenance=maintenance)
    except StoreCorrupt as exc:  # damage deeper than the check at open: degraded, not failed
        return UptimeReport(str(window), start, end, now, None, problems + [str(exc)],
                            degraded + [f"history store: {exc}"])
    finally:
        store.close()
    return assemble(str(window), start, end, now, history, store_path=store.path, overrides=overrides,
                    problems=problems, max_lanes=max_lanes)


# ---------------------------------------------------------------- pure
def assemble(window: str, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp, history: History, *,
             store_path: Path | None = None, overrides: dict[str, str] | None = None,
             problems: list[str] | None = None, max_lanes: int = 60) -> UptimeReport:
    """The report's frames from what was read (no I/O)."""
    problems = list(problems or [])
    services, runs_30d = history.services, history.runs_30d
    names = list(services["service"])
    runs = runs_30d[(runs_30d["end"] > start) & (runs_30d["start"] < end)].reset_index(drop=True)
    tier_of = {s: knowledge.tier_of(s, i, False, overrides or {}) for s, i in zip(services["service"], services["image"])}
    maint = history.maintenance
    table = uptime.uptime_table(runs, start, end, runs_30d=runs_30d, services=names, tier_of=tier_of, now=now,
                                maintenance=maint)
    carved = carve(runs_30d, maint)  # maintenance is neither an incident nor down time
    inc = uptime.incidents(carved, now=now, start=start, end=end)
    rounds = history.rounds
    if rounds.empty:
        problems.append(NO_ROUNDS)
    elif not rounds["engine_ok"].all():
        problems.append(f"{int((~rounds['engine_ok']).sum())} of {len(rounds)} rounds could not reach the "
                        "engine (recorded as unknown, lost coverage)")
    with_data = table[table["measured_s"] > 0]
    overall = ((with_data["up_s"].sum() + with_data["degraded_s"].sum()) / with_data["measured_s"].sum() * 100
               if len(with_data) else float("nan"))
    kpis = {"Services": len(table), "Available": "no data" if overall != overall else f"{overall:.2f} %",
            "Coverage": f"{table['coverage_pct'].mean():.0f} %" if len(table) else "no data",
            "Incidents": len(inc), "Ongoing": int(inc["ongoing"].sum()) if len(inc) else 0,
            "Down now": int((table["state"] == "down").sum()),
            "Maintenance": uptime.fmt_duration(table["maintenance_s"].sum()) if len(table) else "0 s"}
    worst = list(table.sort_values("available_pct", na_position="first")["service"][:int(max_lanes)])
    lanes = runs[runs["service"].isin(worst)]
    shown = host_column if history.keyed else (lambda f: f)
    return UptimeReport(
        window=window, start=start, end=end, now=now, store_path=store_path, problems=problems, table=table,
        incidents=inc, latency=history.latency, available_pct=overall, kpis=kpis,
        tier_tables=[(t, shown(f)) for t, f in tier_tables(table)],
        heatmap=uptime.hourly(carved[carved["service"].isin(worst)], start, end, now=now),
        timeline=uptime.clip(lanes, start, end, now=now),
        maintenance=None if maint is None else maint[(maint["end"] > start) & (maint["start"] < end)],
        latency_table=shown(history.latency.round(2)[[c for c in LATENCY_COLUMNS if c in history.latency.columns]]),
        incidents_table=shown(incidents_table(inc)))


def tier_tables(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The uptime table for display, one (tier label, frame) per tier: percentages as text
    ("no data" for NaN), MTTR/MTBF as durations."""
    show = table.copy()
    for c in [c for c in show.columns if c.endswith("_pct")]:
        show[c] = show[c].map(_pct_text)
    show["mttr"] = show["mttr_s"].map(uptime.fmt_duration)
    show["mtbf"] = show["mtbf_s"].map(uptime.fmt_duration)
    if "maintenance_s" in show.columns:
        show["maintenance"] = show["maintenance_s"].map(lambda v: uptime.fmt_duration(v) if v > 0 else "none")
    cols = [c for c in TABLE_COLUMNS if c in show.columns]
    return [(tiers.tier_label(tier), g[cols]) for tier, g in show.groupby("tier", sort=True)]


def incidents_table(inc: pd.DataFrame) -> pd.DataFrame:
    """Incidents for display, newest first: status (down while ongoing), text times, duration."""
    shown = inc.sort_values("start", ascending=False).copy()
    shown["status"] = shown["ongoing"].map({True: "down", False: "up"})
    shown["duration"] = shown["duration_s"].map(uptime.fmt_duration)
    shown["end"] = shown["end"].map(_time_text)
    shown["start"] = shown["start"].map(lambda v: f"{v:%Y-%m-%d %H:%M:%S}")
    return shown[INCIDENT_TABLE_COLUMNS]
