"""Several engines gathered at once: one ``Stack`` per named host, and frames with a ``host`` column.

``gather_hosts(hosts)`` connects to every host concurrently, each with its own timeout,
and gathers each with ``stack.gather`` (same project, compose files and config). A host
that cannot be reached, or does not answer in time, keeps an empty ``Stack`` with the
reason, one ``unknown`` row in the combined inventory, and makes the run degraded; the
other hosts are never held back by it. Compose projects of the same name on two hosts
stay apart: every frame row carries its ``host``.

Same layer as ``stack.py`` (it only calls ``stack.gather`` and ``engine``).
"""
from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.config import RunbookConfig, load_config
from runbook_lib.engine.connection import DEFAULT_TIMEOUT_S
from runbook_lib.engine.hosts import HostAudit, HostSpec, parse_host, try_connect_host
from runbook_lib.engine.inventory import COLUMNS, empty_inventory
from runbook_lib.engine.swarm import SwarmFrames, gather_swarm
from runbook_lib.exceptions import EngineError, ParameterError
from runbook_lib.stack import Stack, gather

HOST_COLUMNS = ["host", "url", "source", "reachable", "containers", "projects", "gather_s", "error"]
# a host gets this many timeouts of wall time (connect + list + inspects) before it counts as not answering
WALL_TIMEOUTS = 4


@dataclass
class MultiStack:
    """One ``Stack`` per host (in the order named), with combined frames."""

    hosts: list[HostSpec]
    stacks: dict[str, Stack]
    gather_s: dict[str, float] = field(default_factory=dict)
    gathered_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))

    @property
    def degraded_reasons(self) -> list[str]:
        """``host NAME: why`` for every host (or part of one) that could not be gathered."""
        out: list[str] = []
        for name, st in self.stacks.items():
            if st.client is None:
                out.append(f"host {name}: {st.engine_error or 'not contacted'}")
            else:
                out.extend(f"host {name}: {r}" for r in st.degraded_reasons)
        return [redact.mask_text(r) for r in out]

    @property
    def status(self) -> str:
        return "degraded" if self.degraded_reasons else "ok"

    @property
    def notes(self) -> list[str]:
        return [f"[{name}] {n}" for name, st in self.stacks.items() for n in st.notes]

    @property
    def inventory(self) -> pd.DataFrame:
        """Every host's containers with a ``host`` column first; an unreachable host is one ``unknown`` row."""
        parts = []
        for name, st in self.stacks.items():
            if st.client is None:
                row = {c: None for c in COLUMNS}
                row.update(state="unknown", health="unknown", status_text=redact.mask_text(str(st.engine_error)))
                inv = pd.DataFrame([row], columns=COLUMNS)
            else:
                inv = st.inventory
            parts.append(inv.assign(host=name)[["host", *COLUMNS]] if len(inv) else None)
        parts = [p for p in parts if p is not None]
        if not parts:
            out = empty_inventory()
            out.insert(0, "host", pd.Series(dtype=object))
        else:
            out = pd.concat(parts, ignore_index=True)
        out.attrs["notes"] = self.notes
        out.attrs["degraded_reasons"] = self.degraded_reasons
        return out

    def hosts_frame(self) -> pd.DataFrame:
        """One row per host: where it is, whether it answered, how much it holds, how long it took."""
        rows = []
        for spec in self.hosts:
            st = self.stacks[spec.name]
            inv = st.inventory
            rows.append({"host": spec.name, "url": spec.display_url, "source": spec.source,
                         "reachable": st.client is not None, "containers": int(len(inv)),
                         "projects": sorted(str(p) for p in inv["project"].dropna().unique()) if len(inv) else [],
                         "gather_s": self.gather_s.get(spec.name),
                         "error": None if st.engine_error is None else redact.mask_text(str(st.engine_error))})
        return pd.DataFrame(rows, columns=HOST_COLUMNS)

    def projects(self) -> list[tuple[str, str]]:
        """(host, project) pairs: the same project name on two hosts is two entries."""
        inv = self.inventory
        if not len(inv):
            return []
        pairs = inv.dropna(subset=["project"])[["host", "project"]].drop_duplicates()
        return [(str(h), str(p)) for h, p in pairs.itertuples(index=False)]

    def stack(self, host: str) -> Stack:
        """The Stack of one host (for actions: they name the host they act on)."""
        try:
            return self.stacks[host]
        except KeyError:
            raise ParameterError(f"no host named '{host}' (hosts: {', '.join(self.stacks)}).") from None

    def audit_for(self, host: str, path: str | Path | None = None) -> HostAudit:
        """An audit log that records ``host`` in every record (pass it to the action functions)."""
        self.stack(host)
        return HostAudit(host, path)

    def swarm(self, stack_name: str | None = None, with_logs: bool = True) -> dict[str, SwarmFrames]:
        """Swarm frames of every reachable host that is a manager (with a ``host`` column)."""
        out = {}
        for name, st in self.stacks.items():
            if st.client is None:
                continue
            frames = gather_swarm(st.client, stack_name, with_logs=with_logs)
            if frames.is_manager:
                for attr in ("nodes", "services", "tasks"):
                    df = getattr(frames, attr)
                    df.insert(0, "host", name)
                out[name] = frames
        return out


def _host_specs(hosts: Iterable[HostSpec | str]) -> list[HostSpec]:
    specs = [h if isinstance(h, HostSpec) else parse_host(h) for h in hosts]
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ParameterError(f"host name(s) used twice: {', '.join(dup)}. Give each engine its own name.")
    if not specs:
        raise ParameterError("no hosts given. Name them with --host NAME=URL, RUNBOOK_HOSTS or hosts: in runbook.yaml.")
    return specs


def _unreachable(spec: HostSpec, error: EngineError, cfg: RunbookConfig, project: str | None) -> Stack:
    st = Stack(client=None, engine_error=error, inventory=empty_inventory(), config=cfg, project=project)
    st.note(f"engine unavailable: {error}", degraded="engine")
    return st


def gather_hosts(hosts: Sequence[HostSpec | str], *, project: str | None = None,
                 compose_files: Iterable[str | Path] = (), config: RunbookConfig | str | Path | None = None,
                 profiles: Iterable[str] | None = None, engine_timeout_s: float = DEFAULT_TIMEOUT_S,
                 include_stopped: bool = True, all_projects: bool = False, load_compose: bool = True,
                 max_workers: int = 8) -> MultiStack:
    """Gather every host concurrently into a MultiStack; one unreachable host only degrades the run.

    Each host connects with its own timeout (its ``timeout_s`` or ``engine_timeout_s``) and
    gets ``WALL_TIMEOUTS`` times that for the whole gathering before it counts as not answering.
    """
    specs = _host_specs(hosts)
    cfg = config if isinstance(config, RunbookConfig) else load_config(config)
    files = [str(f) for f in compose_files]
    took: dict[str, float] = {}

    def one(spec: HostSpec) -> Stack:
        t0 = time.monotonic()
        client, err = try_connect_host(spec, spec.timeout_s or engine_timeout_s)
        if client is None:
            st = _unreachable(spec, err, cfg, project)
        else:
            st = gather(project=project, compose_files=files, config=cfg, profiles=profiles, client=client,
                        include_stopped=include_stopped, all_projects=all_projects, load_compose=load_compose,
                        engine_timeout_s=spec.timeout_s or engine_timeout_s)
        took[spec.name] = round(time.monotonic() - t0, 3)
        return st

    # Threads, not processes: a host's gathering is ~30 ms of Python beside ~40 ms of its dockerd's
    # CPU (3 x 200 containers, benchmarks/bench_hosts.py), so the GIL is not what limits several
    # hosts; forked workers measured slower (fork + pickling the frames), and ssh/TLS clients stay here.
    pool = cf.ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(specs))), thread_name_prefix="runbook-host")
    futures = {spec.name: pool.submit(one, spec) for spec in specs}
    stacks: dict[str, Stack] = {}
    start = time.monotonic()
    try:
        for spec in specs:
            wall = WALL_TIMEOUTS * float(spec.timeout_s or engine_timeout_s)
            try:
                stacks[spec.name] = futures[spec.name].result(timeout=max(0.0, wall - (time.monotonic() - start)))
            except cf.TimeoutError:
                err = EngineError(f"host {spec.name} ({spec.display_url}) did not finish gathering within {wall:g} s; "
                                  f"it may be hung or overloaded (raise --engine-timeout).")
                stacks[spec.name] = _unreachable(spec, err, cfg, project)
            except Exception as exc:  # noqa: BLE001 - one host's failure never fails the others
                err = EngineError(redact.mask_text(f"host {spec.name}: {type(exc).__name__}: {exc}"))
                stacks[spec.name] = _unreachable(spec, err, cfg, project)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return MultiStack(hosts=specs, stacks=stacks, gather_s=dict(took))
