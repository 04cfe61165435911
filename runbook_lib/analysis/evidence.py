"""Reading one container's evidence row: health outputs, events, failing or not, last lines.

An evidence row is what ``engine.logs.gather_evidence`` gives per container (state,
health, exit code, log lines, health-check log …) or a dict a test writes by hand.
Missing cells (NaN from a frame) read as None. Lines shown as evidence are cut and masked.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.frames import as_datetime, as_float, cell

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
MAX_LINE_CHARS = 400   # evidence lines longer than this are cut and marked


def cut_line(line: str, max_chars: int = MAX_LINE_CHARS, around: int | None = None) -> str:
    """Cut a long line to ``max_chars`` (around position ``around``), marking what was cut."""
    if len(line) <= max_chars:
        return line
    start = 0 if around is None else max(0, min(around - max_chars // 3, len(line) - max_chars))
    end = start + max_chars
    head = f"[…{start} chars cut] " if start else ""
    tail = f" […{len(line) - end} chars cut]" if end < len(line) else ""
    return head + line[start:end] + tail


def flag(ev: Mapping[str, Any], key: str) -> bool:
    """A boolean field of an evidence row (missing reads as False)."""
    v = cell(ev, key)
    return bool(v) if v is not None else False


def health_outputs(ev: Mapping[str, Any]) -> list[str]:
    """Health-check outputs: ``health_outputs``, else ``health_log`` entries, else ``health_output``."""
    outs = cell(ev, "health_outputs")
    if outs:
        return [str(o) for o in outs if o]
    log = cell(ev, "health_log") or []
    outs = [str(h.get("output") or "") for h in log if isinstance(h, Mapping)]
    outs = [o for o in outs if o.strip()]
    if outs:
        return outs
    one = cell(ev, "health_output")
    return [str(one)] if one else []


def events(ev: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in (cell(ev, "events") or []) if isinstance(e, Mapping)]


def time_to_healthy_s(ev: Mapping[str, Any]) -> float | None:
    """Seconds from start to the first passing health probe (field, else from health_log).

    The engine keeps only the last 5 probes: a log whose probes since the start all pass no longer
    reaches back to the start-up (a container healthy for minutes, or stopped after that), so the
    time is unknown (None) unless a failing probe precedes the first passing one."""
    direct = as_float(cell(ev, "time_to_healthy_s"))
    if direct is not None:
        return direct
    t0 = as_datetime(cell(ev, "started_at"))
    if t0 is None:
        return None
    try:
        failed_before = False
        for h in cell(ev, "health_log") or []:
            if isinstance(h, Mapping) and h.get("start"):
                t = as_datetime(h["start"])
                if t is None:
                    return None  # an unreadable time: unknown, as before
                if t < t0:
                    continue
                if h.get("exit_code") != 0:
                    failed_before = True
                elif failed_before:
                    return (t - t0).total_seconds()
                else:
                    return None
    except (ValueError, TypeError):
        return None
    return None


def is_failing(ev: Mapping[str, Any]) -> bool:
    if cell(ev, "failing") is not None:
        return bool(cell(ev, "failing"))
    state = str(cell(ev, "state") or "")
    exit_code = as_float(cell(ev, "exit_code"))
    return (state in ("exited", "dead", "restarting", "created") and exit_code not in (None, 0.0)) \
        or state in ("dead", "restarting") or cell(ev, "health") == "unhealthy" \
        or flag(ev, "oom_killed") or (as_float(cell(ev, "restart_growth")) or 0) > 0


def last_lines(lines: Sequence[str], n: int = 10) -> list[str]:
    out = []
    for ln in reversed(lines):
        ln = ANSI_RE.sub("", str(ln)).rstrip()
        if ln.strip():
            out.append(redact.mask_text(cut_line(ln)))
        if len(out) >= n:
            break
    return out[::-1]
