"""What an applied plan did, exactly: steps that ran, steps skipped, where it stopped.

Pure (no pandas) over the execution log of ``actions.apply_plan`` (one row per step, ``outcome``
``not-run`` for a step never attempted). A service is "not touched" only when none of its
steps ran; a service whose start ran but whose wait was skipped is "started, not checked".
"""
from __future__ import annotations

from typing import Any

NOT_RUN = "not-run"


def _step(r: Any) -> str:
    return f"{r['action']} {r['service']}"


def run_summary(log: Any, stopped_at: str | None) -> dict[str, Any]:
    """{ran: [...], skipped: [...], not_run: [services untouched], unchecked: [...], stopped_at, stop_step}.
    ``log``: the execution log's rows (a list of dicts), or the log frame."""
    if not len(log):
        return {"ran": [], "skipped": [], "not_run": [], "unchecked": [], "stopped_at": stopped_at, "stop_step": None}
    rows = log if isinstance(log, list) else log.to_dict("records")
    ran = [f"{_step(r)}: {r['outcome']}" for r in rows if r["outcome"] != NOT_RUN]
    skipped = [_step(r) for r in rows if r["outcome"] == NOT_RUN]
    touched = {str(r["service"]) for r in rows if r["outcome"] != NOT_RUN}
    untouched = sorted({str(r["service"]) for r in rows} - touched)
    unchecked = sorted({str(r["service"]) for r in rows if r["outcome"] == NOT_RUN and r["action"] == "wait"}
                       & touched)
    stop = next((r for r in rows if r["outcome"] not in ("ok", "dry-run", "confirmed", NOT_RUN)), None)
    return {"ran": ran, "skipped": skipped, "not_run": untouched, "unchecked": unchecked, "stopped_at": stopped_at,
            "stop_step": f"{_step(stop)}: {stop['outcome']}" if stop is not None and stopped_at else None}


def format_summary(status: str, s: dict[str, Any]) -> str:
    """One line for the screen and the audit log, e.g.
    ``plan stopped at db (wait db: timeout); ran: start cache: ok, wait db: timeout; skipped: start api;
    not touched: api``."""
    if status == "dry-run":
        return f"plan dry-run: {len(s['ran'])} step(s) checked, none executed"
    if status != "stopped":
        return f"plan {status}: {len(s['ran'])} step(s) ran" + (f" ({', '.join(s['ran'])})" if s["ran"] else "")
    parts = [f"plan stopped at {s['stopped_at']}" + (f" ({s['stop_step']})" if s["stop_step"] else ""),
             f"ran: {', '.join(s['ran']) or 'nothing'}", f"skipped: {', '.join(s['skipped']) or 'nothing'}"]
    if s["unchecked"]:
        parts.append(f"started but not checked: {', '.join(s['unchecked'])}")
    parts.append(f"not touched: {', '.join(s['not_run']) or 'none'}")
    return "; ".join(parts)
