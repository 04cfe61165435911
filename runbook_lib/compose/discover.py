"""Compose files of a running project, found from its containers' compose labels.

Takes inventory rows (``engine.inventory_rows``) or the inventory frame; imports no pandas.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from runbook_lib.exceptions import ComposeError


def _rows(inventory: Any) -> list[dict]:
    """Inventory rows of rows or of a frame ([] for None or a frame without the compose labels)."""
    if inventory is None:
        return []
    if hasattr(inventory, "to_dict"):
        return inventory.to_dict("records") if "config_files" in inventory.columns else []
    return list(inventory)


def _text(value: Any) -> str:
    """A label value as text; missing (None, NaN, NA) is ""."""
    return value if isinstance(value, str) else ""


def _labelled(inventory: Any) -> list[dict]:
    return [r for r in _rows(inventory) if _text(r.get("config_files")).strip()]


def find_compose_files(inventory_frame: Any, project: str | None = None,
                       host: str | None = None) -> tuple[list[str], str]:
    """Compose files of a running project, from its containers' compose labels.

    Uses ``config_files`` (comma-separated, relative ones joined to ``working_dir``).
    Raises ComposeError saying to pass --compose when nothing usable is found. ``host``: the
    named engine the labels come from (its paths are on that machine; the error says so).
    """
    hint = "pass the files with --compose FILE (repeat for overrides) and --project NAME."
    rows = _rows(inventory_frame)
    if not rows:
        raise ComposeError("no containers with compose labels found on this engine.", fix=hint)
    df = [r for r in rows if _text(r.get("config_files")).strip()]
    if project is not None:
        df = [r for r in df if r.get("project") == project]
    if not df:
        what = f"project '{project}'" if project else "any compose project"
        raise ComposeError(f"no container of {what} carries the label com.docker.compose.project.config_files.",
                           fix=hint)
    projects = sorted({str(r["project"]) for r in df if _text(r.get("project"))})
    if project is None and len(projects) > 1:
        raise ComposeError(f"several compose projects run here ({', '.join(projects)}).",
                           fix="choose one with --project NAME (or pass --compose FILE).")
    chosen = project or (projects[0] if projects else "")
    # the most common (config_files, working_dir) pair; a tie goes to the first in sorted order
    combos = Counter((r.get("config_files"), r.get("working_dir") if _text(r.get("working_dir")) else None)
                     for r in df)
    config_files, working_dir = sorted(combos, key=lambda k: (-combos[k], _text(k[0]), k[1] is None, _text(k[1])))[0]
    files: list[str] = []
    for f in str(config_files).split(","):
        f = f.strip()
        if not f:
            continue
        p = Path(f)
        if not p.is_absolute() and isinstance(working_dir, str) and working_dir:
            p = Path(working_dir) / p
        files.append(str(p))
    missing = [f for f in files if not (Path(f).is_file() and os.access(f, os.R_OK))]
    if missing and host is not None:
        raise ComposeError(f"the compose files of project '{chosen}' named by host {host}'s container labels are "
                           f"not readable on this machine: {', '.join(missing)}.",
                           fix="copy them here at the same path, or pass them with --compose FILE and --project NAME.")
    if missing:
        raise ComposeError(f"the compose files of project '{chosen}' are not on this machine: "
                           f"{', '.join(missing)}.", fix=hint)
    return files, chosen


def compose_projects(inventory_frame: Any) -> list[str]:
    """Compose projects whose containers carry the config_files label (sorted); rows or a frame."""
    return sorted({str(r["project"]) for r in _labelled(inventory_frame) if _text(r.get("project"))})
