"""One probe round over a gathered ``Stack``: derive the specs, run them, collapse discovery.

The stack was gathered once by the caller (``runbook_lib.stack.gather``): its client, its
inventory and its catalog(s). Nothing here connects on its own; an engine that could not
be reached still leaves the catalog's published endpoints to probe (container checks unknown).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from runbook_lib import redact
from runbook_lib.compose.catalog import Catalog
from runbook_lib.probes.derive import derive_probes
from runbook_lib.probes.discovery import DiscoveryCache, collapse_discovery, endpoint_audit, standardisation
from runbook_lib.probes.rows import probe_summary
from runbook_lib.probes.runner import run_round
from runbook_lib.probes.spec import ProbeSpec
from runbook_lib.stack import Stack

ENGINE_NOTE = "engine unavailable"


@dataclass
class StackProbe:
    """One round over a whole stack: rows (one per check), the discovery audit, what was run."""

    rows: pd.DataFrame
    all_rows: pd.DataFrame
    specs: list[ProbeSpec]
    audit: pd.DataFrame
    notes: list[str]
    engine_ok: bool
    project: str | None = None


def _notes(stack: Stack) -> list[str]:
    notes: list[str] = []
    if not stack.engine_ok:
        notes.append(f"{ENGINE_NOTE} ({stack.engine_error}); probing from the compose files only, "
                     f"container checks unknown")
    notes.extend(n for n in stack.notes if not n.startswith(ENGINE_NOTE))
    return notes


def probe_stack(stack: Stack, *, timeout_s: float | None = None, discovery: DiscoveryCache | None = None,
                catalog: Catalog | None = None) -> StackProbe:
    """Derive the probes of the stack's catalog (or ``catalog``) with no configuration, run one round.

    Raises the stack's saved ``ComposeError`` when it has no catalog. ``discovery`` (kept by
    the caller across rounds) pins each app's working health path.
    """
    catalog = catalog if catalog is not None else stack.require_catalog()
    inventory = stack.project_inventory(catalog.project) if stack.engine_ok else None
    specs = derive_probes(catalog, inventory, stack.config, timeout_s=timeout_s, engine_up=stack.engine_ok)
    if discovery is not None:
        specs = discovery.apply(specs)
    all_rows = run_round(specs, client=stack.client)
    if discovery is not None:
        discovery.update(specs, all_rows)
    return StackProbe(rows=collapse_discovery(all_rows, specs), all_rows=all_rows, specs=specs,
                      audit=endpoint_audit(all_rows, specs),
                      notes=[redact.mask_text(n) for n in _notes(stack)], engine_ok=stack.engine_ok,
                      project=catalog.project)


def stack_summary(res: StackProbe) -> dict:
    """The JSON summary for reports: counts by state, coverage, failing checks, the endpoint
    standardisation picture; status "degraded" with reasons when the engine was unreachable."""
    out = probe_summary(res.rows)
    out["endpoint_audit"] = standardisation(res.audit)
    if not res.engine_ok:
        out["status"] = "degraded"
        out["degraded_reasons"] = [n for n in res.notes if n.startswith(ENGINE_NOTE)] or [ENGINE_NOTE]
    return out


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty


def probe_projects(stack: Stack, *, timeout_s: float | None = None) -> tuple[StackProbe | None, list[str]]:
    """Probe every compose project the stack gathered (``gather(all_projects=True)``) in one result.

    Projects whose compose files could not be read are already notes of the stack.
    Returns (combined result or None, notes).
    """
    catalogs = list(stack.catalogs.values()) or ([stack.catalog] if stack.catalog is not None else [])
    if not catalogs:
        if stack.compose_error is not None:
            return None, [redact.mask_text(f"probes skipped: {stack.compose_error}")]
        return None, ["no compose project among the containers: nothing to probe natively "
                      "(pass compose_files to probe a stack)"]
    results = [probe_stack(stack, timeout_s=timeout_s, catalog=c) for c in catalogs]
    if len(results) == 1:
        return results[0], results[0].notes
    first = results[0]
    merged = StackProbe(rows=_concat([r.rows for r in results], first.rows.iloc[0:0]),
                        all_rows=_concat([r.all_rows for r in results], first.all_rows.iloc[0:0]),
                        specs=[s for r in results for s in r.specs],
                        audit=_concat([r.audit for r in results], first.audit),
                        notes=first.notes, engine_ok=stack.engine_ok, project=None)
    return merged, merged.notes
