"""Conditions on an HTTP answer (pure): expected status, json_path/regex, NestJS Terminus."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from runbook_lib.probes.rows import short
from runbook_lib.probes.spec import ProbeOutcome


def _json_path_get(obj: Any, path: str) -> Any:
    """Minimal JSON path: ``$.a.b[0].c`` or ``a.b.0.c``; KeyError when missing."""
    p = path.strip()
    if p.startswith("$"):
        p = p[1:]
    tokens = [t for t in re.split(r"\.|\[|\]", p) if t != ""]
    cur = obj
    for t in tokens:
        t = t.strip("'\"")
        if isinstance(cur, list):
            cur = cur[int(t)]
        elif isinstance(cur, Mapping):
            cur = cur[t]
        else:
            raise KeyError(t)
    return cur


def check_body(body: str, options: Mapping[str, Any]) -> str | None:
    """Evaluate the optional json_path / regex conditions; return the failure text or None."""
    regex = options.get("regex")
    if regex and not re.search(str(regex), body or ""):
        return f"body does not match regex {regex!r}"
    jp = options.get("json_path")
    if jp:
        try:
            value = _json_path_get(json.loads(body), str(jp))
        except (ValueError, KeyError, IndexError, TypeError):
            return f"json path {jp} not found in body"
        if "json_equals" in options and value != options["json_equals"] and str(value) != str(options["json_equals"]):
            return f"json path {jp} is {short(value, 60)!r}, expected {options['json_equals']!r}"
        if "json_equals" not in options and not value:
            return f"json path {jp} is empty/false"
    return None


def parse_terminus(body: Any) -> tuple[str, list[dict]] | None:
    """NestJS Terminus ``{status, info, error, details}`` → (overall, component rows), or None.

    overall is "up" when every component is up, "degraded" when some are down and some up,
    "down" when all are down (or the body says error with no components).
    """
    if not isinstance(body, Mapping) or "status" not in body:
        return None
    if not any(k in body for k in ("info", "error", "details")):
        return None
    comps: dict[str, dict] = {}
    for section in ("details", "info", "error"):
        part = body.get(section)
        if isinstance(part, Mapping):
            for name, val in part.items():
                if name not in comps:
                    comps[name] = val if isinstance(val, Mapping) else {"status": str(val)}
    rows = []
    for name, val in comps.items():
        status = str(val.get("status", "unknown")).lower()
        extra = {k: v for k, v in val.items() if k != "status"}
        rows.append({"component": name, "status": status,
                     "message": short(json.dumps(extra, default=str), 200) if extra else None})
    downs = sum(1 for r in rows if r["status"] != "up")
    status = str(body.get("status")).lower()
    if not rows:
        overall = "up" if status == "ok" else "down"
    elif downs == 0:
        overall = "up" if status in ("ok", "up") else "degraded"
    elif downs == len(rows):
        overall = "down"
    else:
        overall = "degraded"
    return overall, rows


def _expected(options: Mapping[str, Any]) -> Callable[[int], bool]:
    exp = options.get("expected_status")
    if exp is None:
        return lambda code: 200 <= code < 400
    if isinstance(exp, (list, tuple, set)):
        allowed = {int(x) for x in exp}
        return lambda code: code in allowed
    return lambda code: code == int(exp)


def judge_http(code: int, body: str, options: Mapping[str, Any]) -> ProbeOutcome:
    """Status code + body → outcome (pure; shared by host and exec http probes)."""
    reply = f"HTTP {code}"
    parsed: Any = None
    try:
        parsed = json.loads(body) if body and body.lstrip()[:1] in "{[" else None
    except ValueError:
        parsed = None
    terminus = parse_terminus(parsed) if options.get("terminus", True) else None
    detail = terminus[1] if terminus else []
    if terminus and code in (200, 503):
        overall, _ = terminus
        err = None if overall == "up" else "components down: " + ", ".join(
            d["component"] for d in detail if d["status"] != "up")
        cond = check_body(body, options)
        if cond and overall == "up":
            return ProbeOutcome("down", reply=reply, detail=detail, error=cond)
        return ProbeOutcome(overall, reply=reply, detail=detail, error=err)
    if not _expected(options)(code):
        return ProbeOutcome("down", reply=reply, detail=detail, error=f"unexpected status {code}")
    cond = check_body(body, options)
    if cond:
        return ProbeOutcome("down", reply=reply, detail=detail, error=cond)
    return ProbeOutcome("up", reply=reply, detail=detail)
