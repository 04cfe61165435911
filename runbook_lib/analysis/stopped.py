"""A container stopped on purpose: ``docker stop`` / ``compose stop`` / ``docker kill``, not a failure.

Read from the container's Docker events in the evidence window: after its last start, a
``stop`` or ``kill`` event (the engine records one for every stop or kill a client asks for;
an out-of-memory kill is an ``oom`` event, a crash only ``die``). Whatever the exit code
(0, 143 after SIGTERM, 137 when it outlived the grace period), the container is down because
someone stopped it, and the remedy is to start it again. Pure: one evidence row in.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from runbook_lib.analysis.evidence import events, flag
from runbook_lib.analysis.frames import as_datetime, as_float, cell

STOPPED = "stopped"  # the finding's category (a state signature in knowledge/signatures.yaml)
_STOP_ACTIONS = ("stop", "kill")
_START_ACTIONS = ("start", "restart")
_DOWN_STATES = ("exited", "dead", "created")


@dataclass(frozen=True)
class OperatorStop:
    """How a container was stopped on purpose: the last stop/kill event after its last start."""

    action: str  # "stop" | "kill"
    time: str | None
    detail: str  # e.g. "signal 15"
    exit_code: int | None

    @property
    def command(self) -> str:
        return "docker stop" if self.action == "stop" else "docker kill"


_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


def _when(e: Mapping[str, Any]) -> datetime:
    t = as_datetime(e.get("time"))
    return _EARLIEST if t is None else t


def operator_stop(ev: Mapping[str, Any]) -> OperatorStop | None:
    """The stop that put a down container down, or None (running, OOM-killed, crashed on its own)."""
    if str(cell(ev, "state") or "") not in _DOWN_STATES or flag(ev, "oom_killed"):
        return None
    seen = sorted(events(ev), key=_when)
    starts = [i for i, e in enumerate(seen) if e.get("action") in _START_ACTIONS]
    after = seen[starts[-1] + 1:] if starts else seen
    if any(e.get("action") == "oom" for e in after):
        return None
    stops = [e for e in after if e.get("action") in _STOP_ACTIONS]
    if not stops:
        return None
    last = next((e for e in reversed(stops) if e.get("action") == "stop"), stops[-1])
    kills = [str(e.get("detail") or "") for e in stops if e.get("action") == "kill" and e.get("detail")]
    code = as_float(cell(ev, "exit_code"))
    return OperatorStop(action=str(last.get("action")), time=last.get("time"), detail=", ".join(kills),
                        exit_code=int(code) if code is not None else None)


def _short_time(text: str | None) -> str:
    if not text:
        return "an unknown time"
    return _when({"time": text}).strftime("%Y-%m-%d %H:%M:%S UTC")


def stopped_finding_text(ev: Mapping[str, Any], stop: OperatorStop) -> tuple[str, str, list[str]]:
    """(cause, fix, evidence) of the stopped-on-purpose finding."""
    service = cell(ev, "service")
    name = cell(ev, "name") or cell(ev, "container") or service or "<container>"
    code = f" with exit code {stop.exit_code}" if stop.exit_code is not None else ""
    late = (", after its stop grace period (it did not exit on SIGTERM)"
            if stop.action == "stop" and stop.exit_code == 137 else "")
    cause = (f"stopped by an operator ({stop.command} at {_short_time(stop.time)}){late}: it exited{code} "
             f"because it was asked to, not because it failed")
    start = f"`docker compose up -d {service}`" if service else f"`docker start {name}`"
    fix = (f"start it if it should run: {start} (or `docker start {name}`), or `runbook plan --apply` to start "
           f"what is down in dependency order; if it is down for maintenance, record a window with "
           f"`runbook maintenance start`")
    evidence = [f"{stop.action} event at {stop.time or '?'}" + (f" ({stop.detail})" if stop.detail else ""),
                f"state={cell(ev, 'state')}, exit code {stop.exit_code}, OOMKilled=False"]
    return cause, fix, evidence
