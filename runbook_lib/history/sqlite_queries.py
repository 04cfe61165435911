"""Reading the SQLite store into frames: services, effective-state runs, raw samples, latency, rounds."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from runbook_lib.history.debounce import STATE_NAMES
from runbook_lib.history.sqlite_guard import guarded


def ts_seconds(ts: Any) -> int:
    if isinstance(ts, (int, float)):
        return int(ts)
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return int(t.timestamp())


def end_seconds(until: Any) -> int:
    """An exclusive upper bound in whole seconds, rounded up: a stored second ``s`` is before
    ``until`` exactly when ``s < end_seconds(until)`` (flooring would drop the last partial second)."""
    if isinstance(until, (int, float)):
        return math.ceil(until)
    t = pd.Timestamp(until)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return -(-t.value // 10**9)


def ts_ns(ts: Any) -> int:
    """A time as integer nanoseconds since the epoch (UTC when naive), exact."""
    if isinstance(ts, (int, float)):
        return int(ts * 10**9)
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return int(t.value)


def to_utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.astype("int64"), unit="s", utc=True)


class SqliteQueries:
    """The reading half of the SQLite store (``self.con`` is its connection)."""

    con: Any

    def _host_col(self) -> str:
        """``host``, or ``'' AS host`` in a store written before schema 2 (opened read-only, not migrated)."""
        return "host" if self.version >= 2 else "'' AS host"

    @guarded
    def services(self) -> pd.DataFrame:
        """Every service ever seen: service_id, host, project, service, image, first_seen."""
        df = pd.read_sql_query(f"SELECT id AS service_id, {self._host_col()}, project, service, image, first_ts "
                               "FROM services ORDER BY host, project, service", self.con)
        df["first_seen"] = to_utc(df.pop("first_ts").fillna(0))
        return df

    @guarded
    def intervals(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                  project: str | None = None) -> pd.DataFrame:
        """Effective-state runs overlapping [since, until): service, project, state, start, end, n_samples,
        first_error (unclipped; ``uptime`` clips)."""
        lo = ts_seconds(since) if since is not None else 0
        hi = end_seconds(until) if until is not None else 2**62
        cur = self.con.execute(
            "SELECT i.service_id, i.state, i.start_ts, i.end_ts, i.n, i.first_error_id FROM intervals i "
            "WHERE i.end_ts > ? AND i.start_ts < ? ORDER BY i.service_id, i.start_ts", (lo, hi))
        data = cur.fetchall()
        df = pd.DataFrame(data, columns=["service_id", "state", "start_ts", "end_ts", "n_samples", "error_id"])
        return self._decorate(df, services, {"start_ts": "start", "end_ts": "end"}, project)

    @guarded
    def samples(self, since: Any = None, until: Any = None, services: Iterable[str] | None = None,
                project: str | None = None) -> pd.DataFrame:
        """Raw samples in [since, until) (within the raw retention): ts, project, service, raw_state, state
        (effective), latency_ms, error."""
        lo = ts_seconds(since) if since is not None else 0
        hi = end_seconds(until) if until is not None else 2**62
        data = self.con.execute("SELECT ts, service_id, raw, eff, latency_us, error_id FROM samples "
                                "WHERE ts >= ? AND ts < ? ORDER BY ts, service_id", (lo, hi)).fetchall()
        df = pd.DataFrame(data, columns=["ts", "service_id", "raw_state", "state", "latency_us", "error_id"])
        df["latency_ms"] = df.pop("latency_us").astype("float64") / 1000.0
        return self._decorate(df, services, {"ts": "ts"}, project)

    @guarded
    def latency_stats(self, since: Any = None, until: Any = None, project: str | None = None) -> pd.DataFrame:
        """Per-service latency p50/p95/p99 (ms) and sample count over the window.

        Exact from raw samples when the window lies within the raw retention (``source`` "raw");
        otherwise from hourly roll-ups, each percentile the sample-weighted median of the
        hourly ones (``source`` "hourly", an approximation).
        """
        lo = ts_seconds(since) if since is not None else 0
        hi = end_seconds(until) if until is not None else 2**62
        oldest = self.con.execute("SELECT MIN(ts) FROM samples").fetchone()[0]
        cols = ["service_id", "p50_ms", "p95_ms", "p99_ms", "samples", "source"]
        if oldest is not None and (since is None or lo >= oldest - 60):
            data = self.con.execute("SELECT service_id, latency_us FROM samples WHERE ts >= ? AND ts < ? AND "
                                    "latency_us IS NOT NULL", (lo, hi)).fetchall()
            df = pd.DataFrame(data, columns=["service_id", "latency_us"])
            df["latency_ms"] = df.pop("latency_us").astype("float64") / 1000.0
            g = df.groupby("service_id")["latency_ms"]
            out = pd.DataFrame({"p50_ms": g.quantile(0.5), "p95_ms": g.quantile(0.95), "p99_ms": g.quantile(0.99),
                                "samples": g.size()}).reset_index()
            out["source"] = "raw"
        else:
            data = self.con.execute("SELECT service_id, n, p50_us, p95_us, p99_us FROM latency_hourly WHERE "
                                    "hour_ts >= ? AND hour_ts < ?", (lo // 3600 * 3600, hi)).fetchall()
            df = pd.DataFrame(data, columns=["service_id", "n", "p50", "p95", "p99"])
            rows = []
            for sid, g in df.groupby("service_id"):
                w = g["n"].to_numpy(dtype="float64")
                rows.append({"service_id": sid, **{f"{p}_ms": _weighted_median(g[p].to_numpy(), w) / 1000.0
                                                   for p in ("p50", "p95", "p99")},
                             "samples": int(w.sum()), "source": "hourly"})
            out = pd.DataFrame(rows, columns=cols)
        return self._decorate(out[cols], None, {}, project)

    @guarded
    def rounds(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """Collection rounds: ts, collector (the engine hosts it covered; '' = the default engine), interval_s,
        services, engine_ok, notes."""
        lo = ts_seconds(since) if since is not None else 0
        hi = end_seconds(until) if until is not None else 2**62
        collector = "collector" if self.version >= 4 else "'' AS collector"  # an old store opened read-only
        df = pd.read_sql_query(f"SELECT ts, {collector}, interval_s, services, engine_ok, notes FROM rounds "
                               "WHERE ts >= ? AND ts < ? ORDER BY ts", self.con, params=(lo, hi))
        df["ts"] = to_utc(df["ts"])
        df["engine_ok"] = df["engine_ok"].astype(bool)
        return df

    def _decorate(self, df: pd.DataFrame, services: Iterable[str] | None, times: dict[str, str],
                  project: str | None = None) -> pd.DataFrame:
        svc = {r[0]: (r[1], r[2], r[3]) for r in self.con.execute(
            f"SELECT id, project, service, {self._host_col()} FROM services")}
        ids = df["service_id"].astype("int64") if len(df) else df["service_id"]
        df.insert(0, "project", [svc.get(int(i), ("", "?", ""))[0] for i in ids])
        df.insert(1, "service", [svc.get(int(i), ("", "?", ""))[1] for i in ids])
        df["host"] = [svc.get(int(i), ("", "?", ""))[2] for i in ids]
        for col in ("state", "raw_state"):
            if col in df.columns:
                df[col] = df[col].map(STATE_NAMES).fillna("unknown").astype(object)
        if "error_id" in df.columns:
            errs = {}
            wanted = sorted({int(e) for e in df["error_id"].dropna()})
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start:chunk_start + 500]
                errs.update(dict(self.con.execute(
                    f"SELECT id, text FROM errors WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()))
            name = "first_error" if "n_samples" in df.columns else "error"
            df[name] = [errs.get(int(e)) if e == e and e is not None else None for e in df.pop("error_id")]
        for src, dst in times.items():
            df[dst] = to_utc(df.pop(src)) if len(df) else pd.Series(dtype="datetime64[ns, UTC]")
        if services is not None:
            wanted_s = set(services)
            df = df[df["service"].isin(wanted_s)]
        if project is not None:
            df = df[df["project"] == project]
        return df.drop(columns=["service_id"]).reset_index(drop=True)


def _weighted_median(values: Any, weights: Any) -> float:
    order = np.argsort(values)
    v, w = np.asarray(values, dtype="float64")[order], np.asarray(weights, dtype="float64")[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, cum[-1] / 2.0)]) if len(v) else float("nan")
