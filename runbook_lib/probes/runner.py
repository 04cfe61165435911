"""Run probe specs concurrently, each bounded by its timeout, into rows; never raises.

A round of N probes takes about the slowest timeout: a probe still running at
``timeout_s + HARD_GRACE_S`` is abandoned and reported down "timeout" (a hard wall-clock
bound even if a library ignores its timeout; "unknown" for kinds whose hang is lost
coverage, like the engine's). Every outcome and every exception becomes one row
(``rows.PROBE_COLUMNS``, masked).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pandas as pd

from runbook_lib import redact
from runbook_lib.exceptions import RunbookError
from runbook_lib.probes.inside import bound_client, exec_generic
from runbook_lib.probes.registry import KINDS, lookup
from runbook_lib.probes.rows import classify_exception, empty_rows, make_row, now_utc, outcome_row, rows_frame
from runbook_lib.probes.spec import ProbeSpec, ProbeUnknown

HARD_GRACE_S = 0.5


def _timeout_is_unknown(kind: str) -> bool:
    found = KINDS.get(kind)
    return bool(found is not None and found.timeout_is_unknown)


def probe_once(spec: ProbeSpec, client=None) -> dict:
    """Run one probe in this thread (no hard bound) and return its row; never raises."""
    with bound_client(client):
        return _probe(spec)


def _probe(spec: ProbeSpec) -> dict:
    for key, value in spec.options.items():
        if isinstance(value, str) and redact.is_secret_key(key):
            redact.learn(value)  # so it is masked if a library echoes it back
    checked_at = now_utc()
    t0 = time.perf_counter()
    try:
        func = lookup(spec.kind)
        if spec.via == "exec" and not func.handles_exec:
            result = exec_generic(spec)
        elif spec.via == "none":
            raise ProbeUnknown(spec.options.get("why_not", "port not published"))
        else:
            result = func(spec)
        return outcome_row(spec, result, (time.perf_counter() - t0) * 1000.0, checked_at)
    except RunbookError as exc:
        return make_row(spec, "unknown", latency_ms=None, error=str(exc), checked_at=checked_at)
    except Exception as exc:  # noqa: BLE001 - a probe never raises
        state, error = classify_exception(exc)
        latency = (time.perf_counter() - t0) * 1000.0
        return make_row(spec, state, latency_ms=latency if state == "down" else None, error=error,
                        checked_at=checked_at)


def run_round(specs: Iterable[ProbeSpec], max_workers: int | None = None, client=None,
              grace_s: float = HARD_GRACE_S) -> pd.DataFrame:
    """Run every probe concurrently, each bounded by its ``timeout_s`` (+ grace); never raises.

    A round of N probes takes about the slowest timeout. ``max_workers`` caps the probes in
    flight (default: all). ``client`` is the docker client for docker/exec probes (or None).
    """
    specs = list(specs)
    n = len(specs)
    rows: list[dict | None] = [None] * n
    if n == 0:
        return empty_rows()
    limit = max(1, min(max_workers or n, n))
    done = threading.Condition()
    finished: set[int] = set()
    started_at: dict[int, float] = {}
    checked: dict[int, pd.Timestamp] = {}
    pending = list(range(n - 1, -1, -1))  # stack, pop() gives 0, 1, 2 …
    in_flight: set[int] = set()

    def work(i: int) -> None:
        try:
            row = probe_once(specs[i], client)
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt inside a kind
            row = make_row(specs[i], "unknown", latency_ms=None, error=f"probe error: {type(exc).__name__}")
        with done:
            if rows[i] is None:
                rows[i] = row
            finished.add(i)
            done.notify()

    with done:
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                i = pending.pop()
                in_flight.add(i)
                started_at[i] = time.monotonic()
                checked[i] = now_utc()
                try:
                    threading.Thread(target=work, args=(i,), daemon=True, name=f"probe-{specs[i].service}").start()
                except RuntimeError as exc:  # cannot start a thread: this probe could not run
                    rows[i] = make_row(specs[i], "unknown", latency_ms=None, checked_at=checked[i],
                                       error=f"probe error: {exc}")
                    finished.add(i)
            for i in list(in_flight):
                if i in finished:
                    in_flight.discard(i)
            now = time.monotonic()
            next_deadline = None
            for i in list(in_flight):
                deadline = started_at[i] + max(0.0, float(specs[i].timeout_s)) + grace_s
                if now >= deadline:
                    if _timeout_is_unknown(specs[i].kind):
                        rows[i] = make_row(specs[i], "unknown", latency_ms=None, checked_at=checked[i],
                                           error="engine did not answer in time: container state not read")
                    else:
                        rows[i] = make_row(specs[i], "down", latency_ms=(now - started_at[i]) * 1000.0,
                                           error="timeout", checked_at=checked[i])
                    in_flight.discard(i)  # abandoned: the daemon thread ends on its own
                else:
                    next_deadline = deadline if next_deadline is None else min(next_deadline, deadline)
            if pending and len(in_flight) < limit:
                continue
            if in_flight:
                done.wait(timeout=max(0.0, (next_deadline or now) - time.monotonic()) + 0.001)
    return rows_frame([r for r in rows if r is not None])
