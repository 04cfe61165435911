"""Probe outcome rows: the frame schema, exceptions → (state, error), summaries and text.

Exceptions → rows:
- timeouts (``TimeoutError``, ``socket.timeout``, httpx/psycopg/redis timeouts) → down,
  error "timeout";
- connection refused / reset and other network errors → down;
- ``ProbeDown`` → down with its message; ``ProbeUnknown`` (missing credentials, engine
  unreachable, port not published) → unknown;
- anything else is our own bug → unknown, error "probe error: …" (never down).
Every row text goes through ``redact``.
"""
from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown

PROBE_COLUMNS = ["service", "kind", "target", "via", "state", "ok", "latency_ms", "reply",
                 "detail", "error", "checked_at"]
STATES = ("up", "degraded", "down", "unknown")


def now_utc() -> pd.Timestamp:
    """The current time (UTC) as rows carry it."""
    return pd.Timestamp.now(tz="UTC")


def short(text: Any, limit: int = 300) -> str | None:
    """``text`` as a string cut to ``limit`` characters (None stays None)."""
    if text is None:
        return None
    s = str(text)
    return s if len(s) <= limit else s[:limit] + "…"


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(state, error) for an exception raised by a kind."""
    if isinstance(exc, ProbeUnknown):
        return "unknown", str(exc) or "could not run"
    if isinstance(exc, ProbeDown):
        return "down", str(exc) or "down"
    name = type(exc).__name__.lower()
    mod = type(exc).__module__ or ""
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timeout" in name:
        return "down", "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "down", "connection refused"
    if isinstance(exc, (ConnectionError, OSError)):
        return "down", f"{type(exc).__name__}: {exc}"
    if mod.startswith(("httpx", "httpcore", "redis", "psycopg", "kafka", "grpc", "h11")):
        text = str(exc)
        if "timed out" in text.lower() or "timeout" in text.lower():
            return "down", "timeout"
        if "refused" in text.lower():
            return "down", "connection refused"
        return "down", f"{type(exc).__name__}: {text}"
    return "unknown", f"probe error: {type(exc).__name__}: {exc}"


def make_row(spec: ProbeSpec, state: str, *, latency_ms: float | None, reply: Any = None,
             detail: list[dict] | None = None, error: str | None = None, via: str | None = None,
             target: str | None = None, checked_at: pd.Timestamp | None = None) -> dict:
    """One masked row of ``PROBE_COLUMNS``; a state outside ``STATES`` becomes unknown."""
    if state not in STATES:
        error = f"probe error: kind returned state {state!r}"
        state = "unknown"
    return {
        "service": redact.mask_identifier(str(spec.service)),
        "kind": spec.kind,
        "target": redact.mask_text(target) if target else spec.target,
        "via": via or spec.via,
        "state": state,
        "ok": state in ("up", "degraded"),
        "latency_ms": None if latency_ms is None else round(float(latency_ms), 2),
        "reply": redact.mask_obj(short(reply) if isinstance(reply, str) else reply),
        "detail": redact.mask_obj(detail or []),
        "error": redact.mask_text(short(error, 500)),
        "checked_at": checked_at or now_utc(),
    }


def outcome_row(spec: ProbeSpec, result: Any, latency_ms: float, checked_at: pd.Timestamp) -> dict:
    """The row of what a kind returned (an outcome, a dict of its fields, or None for up)."""
    if result is None:
        result = ProbeOutcome()
    if isinstance(result, Mapping):
        result = ProbeOutcome(**{k: v for k, v in result.items() if k in ProbeOutcome.__dataclass_fields__})
    if not isinstance(result, ProbeOutcome):
        return make_row(spec, "unknown", latency_ms=latency_ms, checked_at=checked_at,
                        error=f"probe error: kind returned {type(result).__name__}")
    return make_row(spec, result.state,
                    latency_ms=result.latency_ms if result.latency_ms is not None else latency_ms,
                    reply=result.reply, detail=result.detail, error=result.error, via=result.via,
                    target=result.target, checked_at=checked_at)


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows → frame: text columns keep None (object dtype), latency float, ok bool, checked_at UTC."""
    df = pd.DataFrame(rows, columns=PROBE_COLUMNS, dtype=object)
    df["latency_ms"] = pd.to_numeric(df["latency_ms"], errors="coerce").astype("float64")
    df["ok"] = df["ok"].astype(bool)
    df["checked_at"] = pd.to_datetime(df["checked_at"], utc=True)
    return df


def empty_rows() -> pd.DataFrame:
    """A probe-rows frame with no rows."""
    return rows_frame([])


def probe_summary(rows: pd.DataFrame) -> dict:
    """Counts by state for the report's JSON summary (unknown = lost coverage, not down)."""
    counts = {s: int((rows["state"] == s).sum()) if not rows.empty else 0 for s in STATES}
    total = int(len(rows))
    known = total - counts["unknown"]
    failing = rows[rows["state"].isin(["down", "degraded"])] if not rows.empty else rows
    return {
        "probes_total": total,
        "probes_by_state": counts,
        "probe_coverage_pct": round(100.0 * known / total, 1) if total else None,
        "probes_failing": [
            {"service": r.service, "kind": r.kind, "state": r.state, "error": r.error}
            for r in failing.itertuples()],
        "probes_unknown": [
            {"service": r.service, "kind": r.kind, "error": r.error}
            for r in rows[rows["state"] == "unknown"].itertuples()] if total else [],
        "probe_status": ("down" if counts["down"] else "degraded" if counts["degraded"]
                         else "up" if total and counts["up"] else "unknown"),
    }


def format_table(rows: pd.DataFrame) -> str:
    """Rows → a plain-text table (already masked)."""
    if rows.empty:
        return "no probes"
    cols = ["service", "kind", "state", "latency_ms", "target", "via", "reply", "error"]
    data = []
    for r in rows.itertuples():
        lat = "" if r.latency_ms is None or pd.isna(r.latency_ms) else f"{r.latency_ms:.0f}"
        data.append([str(r.service), str(r.kind), str(r.state), lat, str(r.target), str(r.via),
                     short(_text(r.reply), 40) or "", short(_text(r.error), 60) or ""])
    widths = [max(len(c), *(len(row[i]) for row in data)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in data]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def rows_to_json(rows: pd.DataFrame) -> list[dict]:
    """Rows → JSON-ready dicts (timestamps as ISO strings, NaN as null)."""
    out = []
    for rec in rows.to_dict(orient="records"):
        rec = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else
                   None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        out.append(rec)
    return out
