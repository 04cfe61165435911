"""``runbook collect``: sample the stack every interval into the history store.

One round = inventory (container state and health) + probes (a ``probe_func``: by default
``default_probe_func`` gathers the stack and runs ``probes.stack_round.probe_stack``),
written atomically by ``write_round``. Faults never stop the loop: an
unreachable engine is recorded as UNKNOWN for the services seen before (lost coverage,
never down), a failing probe layer degrades the round to inventory-only with a note.
Rounds never overlap: the loop is sequential, each round is scheduled from the previous
round's start, and a slow round skips the ticks it missed. SIGINT/SIGTERM stop the loop
after the current round.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.alerts.notify import current_states
from runbook_lib.engine.connection import connect
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.exceptions import EngineError, RunbookError
from runbook_lib.history.events import record_events
from runbook_lib.history.interface import HistoryStore
from runbook_lib.probes.discovery import DiscoveryCache
from runbook_lib.probes.stack_round import probe_stack
from runbook_lib.stack import gather

ProbeFunc = Callable[[], tuple[pd.DataFrame, list[str]]]


@dataclass
class RoundResult:
    """What one round did: when, how many services, whether the engine answered, notes."""

    ts: pd.Timestamp
    services: int
    engine_ok: bool
    probes: int
    duration_s: float
    notes: list[str] = field(default_factory=list)


def default_probe_func(compose_files: list[str], project: str | None, config_path: str | None,
                       engine_url: str | None, engine_timeout_s: float) -> ProbeFunc:
    """A probe round over the stack bound to the command's options (health paths kept across rounds).

    Each round gathers the stack afresh (an engine that comes back is picked up) and probes it."""
    discovery = DiscoveryCache()

    def run() -> tuple[pd.DataFrame, list[str]]:
        stack = gather(engine_url, project=project, compose_files=compose_files or (), config=config_path,
                       engine_timeout_s=engine_timeout_s)
        res = probe_stack(stack, discovery=discovery)
        return res.rows, res.notes
    return run


def collect_round(store: HistoryStore, *, client: Any = None, engine_url: str | None = None,
                  engine_timeout_s: float = 5.0, project: str | None = None, label: str | None = None,
                  probe_func: ProbeFunc | None = None, probes: bool = True, interval_s: float = 60.0,
                  ts: pd.Timestamp | None = None, notifier: Any = None) -> RoundResult:
    """Take one round (inventory + probes) and write it; never raises for engine or probe faults.

    ``notifier``: an ``alerts.Notifier`` told the effective states after the write (never raises).
    ``client``: a docker client to reuse (else one is connected per round, so an engine that
    comes back is picked up). ``ts`` overrides the round's timestamp (tests, back-fills).
    """
    t_start = time.monotonic()
    ts = ts if ts is not None else pd.Timestamp(datetime.now(timezone.utc))
    notes: list[str] = []
    inventory = None
    owned = None
    try:
        if client is None:
            client = owned = connect(engine_url, timeout_s=engine_timeout_s)
        inventory = gather_inventory(client, project=project, label=label)
        notes.extend(inventory.attrs.get("notes", []))
        notes.extend(record_events(store, client, interval_s=interval_s, project=project, label=label))
    except EngineError as exc:
        notes.append(f"engine unreachable ({exc.cause}): services recorded as unknown")
    except Exception as exc:  # noqa: BLE001 - a fault is recorded, the loop continues
        notes.append(f"inventory failed ({type(exc).__name__}: {redact.mask_text(str(exc))[:200]}): "
                     f"services recorded as unknown")
    finally:
        if owned is not None:
            owned.close()
    rows = None
    if probes:
        func = probe_func
        if func is None:
            notes.append("no probe function given: inventory only")
        else:
            try:
                rows, probe_notes = func()
                notes.extend(probe_notes)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"probes failed ({type(exc).__name__}: {redact.mask_text(str(exc))[:200]}): "
                             f"inventory only")
                rows = None
    n = store.write_round(ts, inventory, rows, interval_s=interval_s, engine_ok=inventory is not None,
                          project=project, notes=notes)
    if notifier is not None:
        notifier.on_round(ts, current_states(store.intervals(since=ts - pd.Timedelta(seconds=1), project=project)))
    return RoundResult(ts=ts, services=n, engine_ok=inventory is not None,
                       probes=0 if rows is None else int(len(rows)), duration_s=time.monotonic() - t_start,
                       notes=[redact.mask_text(x) for x in notes])


def next_start(prev_start: float, interval_s: float, now: float) -> float:
    """When the next round starts: one interval after the previous start, skipping missed ticks."""
    nxt = prev_start + interval_s
    if now >= nxt:
        nxt = prev_start + interval_s * (math.floor((now - prev_start) / interval_s) + 1)
    return nxt


def run_loop(round_func: Callable[[], RoundResult], interval_s: float, count: int | None = None,
             stop: threading.Event | None = None, log: Callable[[str], None] | None = None) -> int:
    """Run ``round_func`` every ``interval_s`` until ``count`` rounds or ``stop`` is set; return rounds run."""
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            res = round_func()
            if log:
                status = "engine ok" if res.engine_ok else "engine UNREACHABLE"
                extra = f"; {'; '.join(res.notes[:3])}" if res.notes else ""
                log(f"{res.ts.isoformat(timespec='seconds')} round {done + 1}: {res.services} services, "
                    f"{res.probes} probes, {status}, {res.duration_s:.2f} s{extra}")
        except RunbookError:
            raise  # the store itself is unusable: say so and stop
        except Exception as exc:  # noqa: BLE001 - never let one round kill the collector
            if log:
                log(f"round {done + 1} failed: {type(exc).__name__}: {redact.mask_text(str(exc))[:300]}")
        done += 1
        if count is not None and done >= count:
            break
        now = time.monotonic()
        nxt = next_start(started, interval_s, now)
        skipped = int((nxt - started) / interval_s) - 1
        if skipped > 0 and log:
            log(f"round took {now - started:.1f} s, longer than the interval: skipped {skipped} tick(s)")
        stop.wait(max(0.0, nxt - time.monotonic()))
    return done
