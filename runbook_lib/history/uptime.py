"""Uptime, incidents, MTTR and MTBF: pure functions over sample and interval frames.

Uptime is time-weighted: every run of an effective state covers seconds of the window.
``up %``, ``degraded %`` and ``down %`` are shares of the *measured* time (up + degraded +
down); time with no data (or UNKNOWN samples: the collector could not look) is lost
coverage, shown separately as ``coverage %``. A window without any measured time reads
"no data", never 0 %. "starting" time (start-period grace) counts as coverage but not as
up or down.

The debounce (consecutive-result thresholds, start-period grace) is ``store.step``, the
same code the store runs on ingest, so recomputed and stored states agree.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from runbook_lib.exceptions import ParameterError, RunbookError, StoreCorrupt
from runbook_lib.history.store import open_store
from runbook_lib.maintenance.windows import carve, windows_for

WINDOWS = ("1h", "24h", "7d", "30d")
_UNITS_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
MEASURED = ("up", "degraded", "down")
UPTIME_COLUMNS = ["service", "window_s", "measured_s", "up_s", "degraded_s", "down_s", "starting_s", "up_pct",
                  "degraded_pct", "down_pct", "coverage_pct", "uptime", "maintenance_s"]
INCIDENT_COLUMNS = ["service", "start", "end", "ongoing", "duration_s", "first_error"]


def utcnow() -> pd.Timestamp:
    """Now, UTC, tz-aware."""
    return pd.Timestamp(datetime.now(timezone.utc))


def parse_duration_s(text: str) -> float | None:
    """'90s', '15m', '24h', '7d', '2w' → seconds; None if not a duration."""
    m = _DUR_RE.match(str(text))
    if not m:
        return None
    return float(m.group(1)) * _UNITS_S[m.group(2).lower()]


def parse_time(text: Any, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """An ISO time (naive = UTC), 'now', or a relative age ('7d' = seven days ago) → UTC Timestamp."""
    now = now or utcnow()
    if isinstance(text, pd.Timestamp):
        return text.tz_localize("UTC") if text.tzinfo is None else text.tz_convert("UTC")
    s = str(text).strip()
    if s.lower() == "now":
        return now
    dur = parse_duration_s(s)
    if dur is not None:
        return now - pd.Timedelta(seconds=dur)
    try:
        ts = pd.Timestamp(s)
    except (ValueError, TypeError):
        raise ParameterError(f"cannot read the time {s!r}. Fix: use an ISO time (2026-11-20T08:00Z), 'now', "
                             f"or an age such as 30m, 24h, 7d.") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_window(text: Any, now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """'1h' | '24h' | '7d' | '30d' | any duration | 'START..END' (ISO or ages) → (start, end), UTC."""
    now = now or utcnow()
    s = str(text).strip()
    if ".." in s:
        a, b = s.split("..", 1)
        start, end = parse_time(a, now), parse_time(b or "now", now)
    else:
        dur = parse_duration_s(s)
        if dur is None:
            raise ParameterError(f"cannot read the window {s!r}. Fix: use 1h, 24h, 7d, 30d, any duration "
                                 f"(90m, 2w), or START..END such as 2026-11-20..2026-11-27.")
        start, end = now - pd.Timedelta(seconds=dur), now
    if end <= start:
        raise ParameterError(f"the window {s!r} ends before it starts. Fix: put the earlier time first.")
    return start, end


_EPOCH = pd.Timestamp(0, tz="UTC")


def _seconds(col: pd.Series) -> np.ndarray:
    """Timestamps → float epoch seconds (whatever the datetime resolution)."""
    return (pd.to_datetime(col, utc=True) - _EPOCH).dt.total_seconds().to_numpy()


# ---------------------------------------------------------------- samples → effective states → runs
def to_intervals(samples: pd.DataFrame, interval_s: float | None = None, state_col: str = "state") -> pd.DataFrame:
    """Samples → runs of one state per service: service, state, start, end, n_samples, first_error.

    A sample covers [ts, ts + interval_s), cut short by the next sample; a longer silence is
    a gap (no run covers it). ``interval_s`` defaults to each service's median spacing.
    """
    cols = ["service", "state", "start", "end", "n_samples", "first_error"]
    if samples.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    rows = []
    for svc, g in samples.sort_values("ts", kind="stable").groupby("service", sort=True):
        ts = np.floor(_seconds(g["ts"])).astype("int64")
        states = g[state_col].astype(str).to_numpy()
        errors = g["error"].to_numpy() if "error" in g.columns else np.array([None] * len(g))
        step_s = interval_s
        if step_s is None:
            step_s = float(np.median(np.diff(ts))) if len(ts) > 1 else 60.0
        ends = np.minimum(np.append(ts[1:], ts[-1] + step_s), ts + step_s)
        cur = None
        for t0, t1, st, err in zip(ts, ends, states, errors):
            if cur is not None and cur["state"] == st and t0 <= cur["end"] + 0.5 * step_s:
                cur["end"], cur["n_samples"] = t1, cur["n_samples"] + 1
                continue
            if cur is not None:
                rows.append(cur)
            cur = {"service": svc, "state": st, "start": t0, "end": t1, "n_samples": 1,
                   "first_error": err if isinstance(err, str) and err else None}
        rows.append(cur)
    df = pd.DataFrame(rows, columns=cols)
    df["start"] = pd.to_datetime(df["start"].astype("int64"), unit="s", utc=True)
    df["end"] = pd.to_datetime(df["end"].astype("int64"), unit="s", utc=True)
    return df


# ---------------------------------------------------------------- uptime
def uptime(intervals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
           services: Iterable[str] | None = None, now: pd.Timestamp | None = None,
           maintenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Time-weighted uptime per service over [start, end) from runs (see module doc).

    ``maintenance`` (a window frame): time inside a window is left out of the measured time
    and reported on its own as ``maintenance_s``.

    ``services`` adds rows for services with no runs in the window ("no data"). Runs are
    clipped to the window and to ``now`` (an open run reaches one interval into the future).
    """
    now = now or utcnow()
    intervals = carve(intervals, maintenance)
    w0, w1 = pd.Timestamp(start).timestamp(), pd.Timestamp(end).timestamp()
    w1_eff = min(w1, pd.Timestamp(now).timestamp())
    window_s = w1 - w0
    wanted = set(services) if services is not None else set()
    names = sorted(wanted | set(intervals["service"])) if len(intervals) else sorted(wanted)
    sums: dict[str, dict[str, float]] = {s: {} for s in names}
    if len(intervals):
        a = np.maximum(_seconds(intervals["start"]), w0)
        b = np.minimum(_seconds(intervals["end"]), w1_eff)
        dur = np.clip(b - a, 0, None)
        tmp = pd.DataFrame({"service": intervals["service"].to_numpy(), "state": intervals["state"].to_numpy(),
                            "s": dur})
        tmp = tmp[tmp["s"] > 0]
        for (svc, st), v in tmp.groupby(["service", "state"], sort=False)["s"].sum().items():
            sums.setdefault(svc, {})[st] = float(v)
    rows = []
    for svc in sorted(sums):
        d = sums[svc]
        up, deg, down, starting = (d.get(k, 0.0) for k in ("up", "degraded", "down", "starting"))
        measured = up + deg + down
        cov = (measured + starting + d.get("maintenance", 0.0)) / window_s * 100.0 if window_s > 0 else float("nan")
        maint = d.get("maintenance", 0.0)
        if measured > 0:
            pcts = (up / measured * 100.0, deg / measured * 100.0, down / measured * 100.0)
            label = f"{pcts[0] + pcts[1]:.2f} % of measured, coverage {cov:.0f} %" if cov >= 1 else \
                f"{pcts[0] + pcts[1]:.2f} % of measured, coverage {cov:.2g} %"
            label += f", maintenance {fmt_duration(maint)}" if maint > 0 else ""
        else:
            pcts = (float("nan"),) * 3
            label = f"maintenance only ({fmt_duration(maint)})" if maint > 0 else "no data"
        rows.append({"service": svc, "window_s": window_s, "measured_s": measured, "up_s": up, "degraded_s": deg,
                     "down_s": down, "starting_s": starting, "up_pct": pcts[0], "degraded_pct": pcts[1],
                     "down_pct": pcts[2], "coverage_pct": cov, "uptime": label,
                     "maintenance_s": maint})
    return pd.DataFrame(rows, columns=UPTIME_COLUMNS)


def uptime_windows(intervals: pd.DataFrame, now: pd.Timestamp | None = None,
                   windows: Iterable[str] = WINDOWS, services: Iterable[str] | None = None,
                   maintenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Available (up + degraded) % and coverage % per service for each window: one row per service,
    columns ``<w>_pct`` / ``<w>_coverage_pct`` (NaN = no data); maintenance time left out."""
    now = now or utcnow()
    intervals = carve(intervals, maintenance)
    out: pd.DataFrame | None = None
    for w in windows:
        s, e = parse_window(w, now)
        u = uptime(intervals, s, e, services=services, now=now)
        part = pd.DataFrame({"service": u["service"], f"{w}_pct": u["up_pct"] + u["degraded_pct"],
                             f"{w}_coverage_pct": u["coverage_pct"]})
        out = part if out is None else out.merge(part, on="service", how="outer")
    return out if out is not None else pd.DataFrame({"service": []})


# ---------------------------------------------------------------- incidents, MTTR, MTBF
def incidents(intervals: pd.DataFrame, now: pd.Timestamp | None = None, start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None, join_gap_s: float = 1.0) -> pd.DataFrame:
    """Contiguous down periods per service: start, end (NaT while ongoing), ongoing, duration_s, first_error.

    Down runs that touch (within ``join_gap_s``) merge. The last run of a service, if down, is
    ongoing; its ``duration_s`` is what was measured (to the last sample, at most ``now``). With ``start``/``end`` only incidents overlapping the window are kept (unclipped).
    """
    now = now or utcnow()
    if intervals.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in INCIDENT_COLUMNS})
    rows = []
    df = intervals.sort_values(["service", "start"], kind="stable")
    for svc, g in df.groupby("service", sort=True):
        s_arr, e_arr = _seconds(g["start"]), _seconds(g["end"])
        states = g["state"].astype(str).to_numpy()
        errs = g["first_error"].to_numpy() if "first_error" in g.columns else [None] * len(g)
        cur = None
        for i, (a, b, st, err) in enumerate(zip(s_arr, e_arr, states, errs)):
            if st == "down":
                if cur is not None and a <= cur["end"] + join_gap_s:
                    cur["end"] = max(cur["end"], b)
                    cur["last"] = i
                else:
                    if cur is not None:
                        rows.append(cur)
                    cur = {"service": svc, "start": a, "end": b, "first_error": err if isinstance(err, str) else None,
                           "last": i}
            elif cur is not None:
                rows.append(cur)
                cur = None
        if cur is not None:
            rows.append(cur)
        for r in rows:
            if r["service"] == svc:
                r["ongoing"] = r["last"] == len(g) - 1
    now_s = pd.Timestamp(now).timestamp()
    out = []
    for r in rows:
        ongoing = bool(r["ongoing"])
        stop = min(r["end"], now_s)  # measured length: an ongoing incident lasts at least this long
        out.append({"service": r["service"], "start": pd.Timestamp(r["start"], unit="s", tz="UTC"),
                    "end": pd.NaT if ongoing else pd.Timestamp(r["end"], unit="s", tz="UTC"),
                    "ongoing": ongoing, "duration_s": float(max(0.0, stop - r["start"])),
                    "first_error": r["first_error"]})
    res = pd.DataFrame(out, columns=INCIDENT_COLUMNS)
    if start is not None or end is not None:
        lo = pd.Timestamp(start) if start is not None else pd.Timestamp.min.tz_localize("UTC")
        hi = pd.Timestamp(end) if end is not None else pd.Timestamp.max.tz_localize("UTC")
        ends = pd.to_datetime(res["end"], utc=True)
        res = res[(res["start"] < hi) & (ends.isna() | (ends > lo))]  # an ongoing incident reaches now
    return res.reset_index(drop=True)


MTBF_MIN_FAILURES = 2  # one failure has no "between"


def reliability(incident_frame: pd.DataFrame, uptime_frame: pd.DataFrame) -> pd.DataFrame:
    """Per service: incidents, MTTR (mean duration of resolved incidents) and MTBF (available
    time / incidents), in seconds. NaN (blank in tables, null in JSON) where there is nothing
    to average: MTTR needs a closed incident, MTBF at least two failures."""
    rows = []
    for _, u in uptime_frame.iterrows():
        svc = u["service"]
        inc = incident_frame[incident_frame["service"] == svc] if len(incident_frame) else incident_frame
        n = int(len(inc))
        resolved = inc[~inc["ongoing"].astype(bool)] if n else inc
        mttr = float(resolved["duration_s"].mean()) if len(resolved) else float("nan")
        avail = float(u["up_s"] + u["degraded_s"])
        mtbf = avail / n if n >= MTBF_MIN_FAILURES and u["measured_s"] > 0 else float("nan")
        rows.append({"service": svc, "incidents": n, "ongoing": int(inc["ongoing"].astype(bool).sum()) if n else 0,
                     "mttr_s": mttr, "mtbf_s": mtbf})
    return pd.DataFrame(rows, columns=["service", "incidents", "ongoing", "mttr_s", "mtbf_s"])


# ---------------------------------------------------------------- shapes for figures
def hourly(intervals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp | None = None,
           bucket_s: int = 3600) -> pd.DataFrame:
    """Service × hour available % (NaN = no data) for a heatmap: index service, columns hour (UTC)."""
    now = now or utcnow()
    w0 = int(pd.Timestamp(start).timestamp()) // bucket_s * bucket_s
    w1 = min(pd.Timestamp(end).timestamp(), pd.Timestamp(now).timestamp())
    edges = np.arange(w0, w1 + bucket_s, bucket_s, dtype="float64")
    if len(edges) < 2 or intervals.empty:
        return pd.DataFrame()
    nb = len(edges) - 1
    svcs = sorted(intervals["service"].unique())
    good = np.zeros((len(svcs), nb))
    meas = np.zeros((len(svcs), nb))
    idx = {s: i for i, s in enumerate(svcs)}
    a_all, b_all = _seconds(intervals["start"]), np.minimum(_seconds(intervals["end"]), w1)
    for svc, st, a, b in zip(intervals["service"], intervals["state"], a_all, b_all):
        if st not in MEASURED or b <= edges[0] or a >= edges[-1]:
            continue
        first = max(0, int((a - edges[0]) // bucket_s))
        last = min(nb - 1, int((b - edges[0] - 1e-9) // bucket_s))
        for k in range(first, last + 1):
            ov = min(b, edges[k + 1]) - max(a, edges[k])
            if ov > 0:
                meas[idx[svc], k] += ov
                if st != "down":
                    good[idx[svc], k] += ov
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(meas > 0, good / meas * 100.0, np.nan)
    cols = pd.to_datetime(edges[:-1].astype("int64"), unit="s", utc=True)
    return pd.DataFrame(pct, index=pd.Index(svcs, name="service"), columns=cols)


def clip(intervals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
         now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Runs clipped to [start, min(end, now)) (for the state timeline)."""
    now = now or utcnow()
    if intervals.empty:
        return intervals.copy()
    hi = min(pd.Timestamp(end), pd.Timestamp(now))
    df = intervals.copy()
    df["start"] = df["start"].clip(lower=pd.Timestamp(start))
    df["end"] = df["end"].clip(upper=hi)
    return df[df["end"] > df["start"]].reset_index(drop=True)


def uptime_24h(store, services: Iterable[str] | None = None, now: pd.Timestamp | None = None,
               project: str | None = None, maintenance: pd.DataFrame | None = None,
               host: str | None = None) -> pd.DataFrame:
    """Each service's 24 h uptime for the health check report: service, uptime_24h_pct,
    coverage_24h_pct, maintenance_24h_s, uptime_24h (text: "99.90 % of measured, coverage 100 %"
    or "no data"); time in a ``maintenance`` window is left out of the measured time.
    ``host`` keeps one host's runs only (the same service name on two hosts stays apart)."""
    now = now or utcnow()
    start, end = now - pd.Timedelta(hours=24), now
    iv = store.intervals(start, end, project=project)
    if host is not None and "host" in iv.columns:
        iv = iv[iv["host"] == host]
    u = uptime(iv, start, end, services=list(services) if services is not None else None, now=now,
               maintenance=maintenance)
    if services is not None:
        u = u[u["service"].isin(set(services))]
    return pd.DataFrame({"service": u["service"], "uptime_24h_pct": u["up_pct"] + u["degraded_pct"],
                         "coverage_24h_pct": u["coverage_pct"], "maintenance_24h_s": u["maintenance_s"],
                         "uptime_24h": u["uptime"]}).reset_index(drop=True)


def last_state(intervals: pd.DataFrame, now: pd.Timestamp | None = None, stale_s: float = 600.0) -> pd.Series:
    """Each service's latest effective state ("no data" when its last run ended over ``stale_s`` ago)."""
    now = now or utcnow()
    if intervals.empty:
        return pd.Series(dtype=object)
    last = intervals.sort_values("start").groupby("service").tail(1).set_index("service")
    fresh = (pd.Timestamp(now) - last["end"]).dt.total_seconds() <= stale_s
    return last["state"].where(fresh, "no data").astype(object)


def uptime_table(runs: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *, runs_30d: pd.DataFrame | None = None,
                 services: Iterable[str] | None = None, tier_of: dict[str, str] | None = None,
                 now: pd.Timestamp | None = None, maintenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """The uptime report's main table: per service, tier, current state, the window's uptime,
    the standard windows (1h/24h/7d/30d), incidents, MTTR and MTBF; sorted by tier, worst first.

    Time inside a ``maintenance`` window (a window frame) counts nowhere but ``maintenance_s``:
    not as down, not in availability, incidents, MTTR or MTBF."""
    now = now or utcnow()
    runs = carve(runs, maintenance)
    runs_30d = carve(runs_30d, maintenance) if runs_30d is not None else None
    u = uptime(runs, start, end, services=services, now=now)
    inc = incidents(runs, now=now, start=start, end=end)
    rel = reliability(inc, u)
    out = u.merge(rel, on="service", how="left")
    if runs_30d is not None:
        out = out.merge(uptime_windows(runs_30d, now=now, services=out["service"]), on="service", how="left")
    cur = last_state(runs_30d if runs_30d is not None else runs, now)
    out.insert(1, "state", [cur.get(s, "no data") for s in out["service"]])
    out.insert(0, "tier", [(tier_of or {}).get(s, "application") for s in out["service"]])
    out["available_pct"] = out["up_pct"] + out["degraded_pct"]
    out = out.sort_values(["tier", "available_pct", "service"], na_position="first", kind="stable")
    return out.reset_index(drop=True)


def fmt_duration(seconds: Any) -> str:
    """1234.0 → '20 min 34 s'; NaN → ''."""
    if seconds is None or (isinstance(seconds, float) and np.isnan(seconds)):
        return ""
    s = int(round(float(seconds)))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    parts = [f"{d} d"] * bool(d) + [f"{h} h"] * bool(h) + [f"{m} min"] * bool(m) + [f"{sec} s"] * (not d and not h)
    return " ".join(parts) or "0 s"


def with_uptime_24h(table: pd.DataFrame, store_path: str | None = None, project: str | None = None,
                    service_col: str = "service", config_path: str | None = None,
                    maintenance: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str | None]:
    """Add each service's measured 24 h uptime beside its state ("no data" without history).

    Maintenance time (``maintenance``, else the manual and runbook.yaml windows read once here)
    is left out of it and named in the text. Reads the store (read-only); returns (table with
    an ``uptime 24h`` column, note or None).
    A damaged store sets ``attrs["degraded_reason"]`` (the report is degraded, not failed).
    """
    out = table.copy()
    try:
        store = open_store(store_path, readonly=True)
    except StoreCorrupt as exc:
        out["uptime 24h"] = "unavailable"
        out.attrs["degraded_reason"] = f"history store: {exc}"
        return out, f"24 h uptime: unavailable ({exc})"
    except RunbookError as exc:
        out["uptime 24h"] = "no data"
        return out, f"24 h uptime: no data ({exc})"
    now = utcnow()
    if maintenance is None:
        maintenance = windows_for(config_path, now - pd.Timedelta(hours=24), now)
    by_host = "host" in out.columns  # several engines: (host, service) keys, never the name alone
    hosts = list(out["host"].dropna().astype(str).unique()) if by_host else [None]
    text: dict[tuple[str | None, str], str] = {}
    try:
        for host in hosts:
            rows = out if host is None else out[out["host"].astype(str) == host]
            u = uptime_24h(store, services=list(rows[service_col].dropna().astype(str).unique()), project=project,
                           now=now, maintenance=maintenance, host=host)
            text.update({(host, str(s)): t for s, t in zip(u["service"], u["uptime_24h"])})
    except StoreCorrupt as exc:  # damage deeper than the check at open
        out["uptime 24h"] = "unavailable"
        out.attrs["degraded_reason"] = f"history store: {exc}"
        return out, f"24 h uptime: unavailable ({exc})"
    finally:
        store.close()
    keys = zip(out["host"].astype(str) if by_host else [None] * len(out), out[service_col].astype(str))
    out["uptime 24h"] = [text.get(k, "no data") for k in keys]
    return out, None
