"""What a report's kernel starts before the notebook's first cell (``runbook report`` only).

The health check's resource stats take the engine 1-1.5 s to answer (its stats collector
samples a container it has not sampled lately on its next pass, ~1 s apart); started by the
notebook's first cell, the report's resources section waited for them. ``runbook report``
hands the kernel its ``-p`` values (``PARAMS_ENV``, read and removed by the kernel's preload,
``kernel.preload_code``); ``start`` reads the notebook's parameter defaults, applies them and
starts the read the notebook's gathering would start (same engine, project and timeout) while
the kernel still imports (``engine.stats_rows``: before pandas is imported). ``gather_engines``
takes it (``take_stats``) when its own arguments match, else starts its own: the notebook and
its outputs are the same either way, and plain papermill (no ``PARAMS_ENV``) runs as before.
"""
from __future__ import annotations

import ast
import json
import os
from collections.abc import MutableMapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from runbook_lib.config import load_config
from runbook_lib.engine import stats_rows
from runbook_lib.engine.hosts import resolve_hosts
from runbook_lib.exceptions import RunbookError
from runbook_lib.reports.kernel import PARAMS_ENV
from runbook_lib.reports.values import as_list, parse_value

STATS_REPORTS = {"health_check"}  # notebooks that gather with ``with_stats=True``
_STATS: dict[tuple[str | None, str | None, float], Future] = {}


def stats_key(engine_url: str | None, project: str | None,
              engine_timeout_s: float) -> tuple[str | None, str | None, float]:
    """The arguments a stats read is matched on (as ``gather_engines`` passes them)."""
    return engine_url or None, project or None, float(engine_timeout_s)


def parameter_defaults(nb_file: str | Path) -> dict[str, Any]:
    """The literal defaults of a notebook's ``parameters`` cell (``name: type = value`` or ``name = value``)."""
    cells = json.loads(Path(nb_file).read_text(encoding="utf-8")).get("cells", [])
    out: dict[str, Any] = {}
    for cell in cells:
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        for node in ast.parse("".join(source) if isinstance(source, list) else source).body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            if isinstance(target, ast.Name) and node.value is not None:
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return out


def start(nb_file: str | Path, environ: MutableMapping[str, str] | None = None) -> bool:
    """In the kernel's preload: start what the notebook will ask for first, given the ``-p``
    values in ``PARAMS_ENV`` (removed from the environment: the notebook's processes never see
    it). True when a read was started; nothing happens without ``PARAMS_ENV`` or on any doubt."""
    env = os.environ if environ is None else environ
    raw = env.pop(PARAMS_ENV, None)
    if raw is None or Path(nb_file).stem not in STATS_REPORTS:
        return False
    try:
        p = {**parameter_defaults(nb_file), **{k: parse_value(v) for k, v in json.loads(raw).items()}}
        if resolve_hosts(as_list(p.get("hosts")), load_config(p.get("config_path")), env):
            return False  # named hosts: each host's read starts after its gathering (Engines.start_stats)
        key = stats_key(p.get("engine_url"), p.get("project"), p.get("engine_timeout_s", 5.0))
    except (RunbookError, OSError, ValueError, TypeError, SyntaxError):
        return False  # the notebook reports what is wrong; it starts its own read
    _STATS[key] = stats_rows.start_reading_engine_rows(key[0], project=key[1], engine_timeout_s=key[2])
    return True


def take_stats(engine_url: str | None, project: str | None, engine_timeout_s: float) -> Future | None:
    """The read ``start`` began for these arguments (once; a future of stats rows), else None."""
    return _STATS.pop(stats_key(engine_url, project, engine_timeout_s), None)
