"""``runbook collect --host ...``: one collector round over several named engines at once.

Every host is gathered concurrently (``multistack.gather_hosts``, each with its own timeout)
and probed concurrently; the round is written once, every row carrying its ``host``, so the
same compose project on two engines keeps two histories. A host that cannot be reached
records its services seen before as UNKNOWN with the reason (lost coverage, never down) and
never holds back the other hosts. Services seen before on a reachable host whose container
is gone are recorded as stopped, on that host only: collectors of other hosts writing the
same store are never touched. Each reachable host's Docker events are recorded with its host,
and a notifier diagnoses each host's incidents on that host's engine and sends every host's
early warnings (``alerts.early.HostWarnings``).

The one-engine collector (``collector.collect_round``) is unchanged and keeps host ``''``.
"""
from __future__ import annotations

import concurrent.futures as cf
import time
from functools import partial
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.alerts.early import HostWarnings
from runbook_lib.alerts.notify import current_states, diagnose_func
from runbook_lib.engine.hosts import HostSpec, connect_host
from runbook_lib.exceptions import RunbookError
from runbook_lib.history.collector import RoundResult
from runbook_lib.history.combine import combine_round
from runbook_lib.history.debounce import STOPPED, UNKNOWN
from runbook_lib.history.events import record_events
from runbook_lib.history.interface import HistoryStore
from runbook_lib.multistack import MultiStack, gather_hosts
from runbook_lib.probes.discovery import DiscoveryCache
from runbook_lib.probes.stack_round import probe_stack
from runbook_lib.stack import Stack

_STATE_COLUMNS = ["host", "project", "service", "raw", "latency_ms", "error", "started_ts", "image"]


def _seen_before(store: HistoryStore, host: str, project: str | None) -> pd.DataFrame:
    svc = store.services()
    if not len(svc):
        return svc
    svc = svc[svc["host"].fillna("").astype(str) == host]
    if project is not None:
        svc = svc[svc["project"].fillna("").astype(str) == project]
    return svc


def _missing_rows(store: HistoryStore, host: str, project: str | None, present: pd.DataFrame,
                  raw: int, error: str, only_compose: bool) -> pd.DataFrame:
    """Rows for this host's services seen before and absent from ``present`` (same host only)."""
    seen = _seen_before(store, host, project)
    have = set(zip(present["project"].astype(str), present["service"].astype(str))) if len(present) else set()
    rows = [{"host": host, "project": str(p or ""), "service": str(s), "raw": raw, "latency_ms": None,
             "error": error, "started_ts": None, "image": None}
            for p, s in zip(seen["project"], seen["service"]) if (str(p or ""), str(s)) not in have
            and (str(p or "") or not only_compose)]
    return pd.DataFrame(rows, columns=_STATE_COLUMNS)


def _probe_host(st: Stack, discovery: DiscoveryCache, timeout_s: float | None) -> tuple[pd.DataFrame | None, list[str]]:
    """Probe rows of one reachable host, or (None, why): a host without a catalog is inventory only."""
    try:
        res = probe_stack(st, timeout_s=timeout_s, discovery=discovery)
        return res.rows, list(res.notes)
    except RunbookError as exc:
        return None, [f"no probes ({redact.mask_text(str(exc))[:200]}): inventory only"]
    except Exception as exc:  # noqa: BLE001 - one host's probe layer never fails the round
        return None, [f"probes failed ({type(exc).__name__}: {redact.mask_text(str(exc))[:200]}): inventory only"]


def host_states(store: HistoryStore, multi: MultiStack, project: str | None,
                discoveries: dict[str, DiscoveryCache], probes: bool = True,
                probe_timeout_s: float | None = None) -> tuple[pd.DataFrame, list[str], dict[str, bool], int]:
    """(states with a ``host`` column, notes, host -> reachable, probe rows) for one round of every host."""
    notes: list[str] = []
    reachable = {name: st.client is not None for name, st in multi.stacks.items()}
    live = [name for name, ok in reachable.items() if ok]
    probed: dict[str, tuple[pd.DataFrame | None, list[str]]] = {}
    if probes and live:
        with cf.ThreadPoolExecutor(max_workers=min(8, len(live)), thread_name_prefix="runbook-probe") as pool:
            futs = {n: pool.submit(_probe_host, multi.stacks[n], discoveries.setdefault(n, DiscoveryCache()),
                                   probe_timeout_s) for n in live}
            probed = {n: f.result() for n, f in futs.items()}
    parts = []
    for name, st in multi.stacks.items():
        if st.client is None:
            reason = redact.mask_text(str(st.engine_error or "not contacted"))
            notes.append(f"[{name}] host unreachable: its services are recorded as unknown ({reason[:300]})")
            parts.append(_missing_rows(store, name, project, pd.DataFrame(), UNKNOWN,
                                       f"host {name} unreachable: {reason}"[:500], only_compose=False))
            continue
        rows, host_notes = probed.get(name, (None, []))
        notes.extend(f"[{name}] {n}" for n in [*st.notes, *host_notes])
        inv = st.inventory if project is None else st.project_inventory(project)
        states = combine_round(inv, rows)
        states.insert(0, "host", name)
        parts.append(states)
        parts.append(_missing_rows(store, name, project, states, STOPPED, "no container for this service",
                                   only_compose=True))
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_STATE_COLUMNS)
    n_probes = sum(len(r) for r, _n in probed.values() if r is not None)
    return out, list(dict.fromkeys(notes)), reachable, n_probes


def collect_hosts_round(store: HistoryStore, hosts: Sequence[HostSpec], *, project: str | None = None,
                        compose_files: Sequence[str | Path] = (), config: Any = None,
                        engine_timeout_s: float = 5.0, probes: bool = True, interval_s: float = 60.0,
                        ts: pd.Timestamp | None = None, notifier: Any = None,
                        discoveries: dict[str, DiscoveryCache] | None = None) -> RoundResult:
    """Gather and probe every host concurrently, write one round whose rows name their host.

    Never raises for an engine or probe fault (an unreachable host is UNKNOWN rows with the
    reason); ``engine_ok`` is true only when every host answered. ``discoveries`` (kept by the
    caller across rounds) pins each host's working health paths.
    """
    t_start = time.monotonic()
    ts = ts if ts is not None else pd.Timestamp(datetime.now(timezone.utc))
    discoveries = {} if discoveries is None else discoveries
    multi = gather_hosts(list(hosts), project=project, compose_files=list(compose_files), config=config,
                         engine_timeout_s=engine_timeout_s, load_compose=probes)
    states, notes, reachable, probe_rows = host_states(store, multi, project, discoveries, probes=probes)
    for name, st in multi.stacks.items():  # the events each host emitted, kept with its host name
        if st.client is not None:
            notes.extend(f"[{name}] {x}" for x in record_events(store, st.client, interval_s=interval_s,
                                                                project=project, host=name))
    all_ok = all(reachable.values())
    n = store.write_states(ts, states, interval_s=interval_s, engine_ok=all_ok, project=project, notes=notes,
                           mark_missing=False)
    if notifier is not None:
        per_host = getattr(notifier, "host_diagnose", None)
        for h in hosts if isinstance(per_host, dict) else ():  # root causes found on the incident's own host
            per_host.setdefault(h.name, diagnose_func(
                h.url, project=project, compose_files=[str(f) for f in compose_files], config=config,
                engine_timeout_s=engine_timeout_s, connect=partial(connect_host, h, h.timeout_s or engine_timeout_s)))
        if getattr(notifier, "warn_func", None) is not None and not isinstance(notifier.warn_func, HostWarnings):
            # early warnings from every host (not only the default engine), each naming its host
            notifier.warn_func = HostWarnings.for_hosts(hosts, project=project, engine_timeout_s=engine_timeout_s)
        notifier.on_round(ts, current_states(store.intervals(since=ts - pd.Timedelta(seconds=1), project=project)))
    down = [h for h, ok in reachable.items() if not ok]
    if down:
        notes.insert(0, f"host(s) unreachable: {', '.join(down)} (recorded as unknown)")
    return RoundResult(ts=ts, services=n, engine_ok=all_ok, probes=probe_rows,
                       duration_s=time.monotonic() - t_start, notes=[redact.mask_text(x) for x in notes])
