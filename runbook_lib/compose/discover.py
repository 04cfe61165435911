"""Compose files of a running project, found from its containers' compose labels."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from runbook_lib.exceptions import ComposeError


def find_compose_files(inventory_frame: pd.DataFrame, project: str | None = None,
                       host: str | None = None) -> tuple[list[str], str]:
    """Compose files of a running project, from its containers' compose labels.

    Uses ``config_files`` (comma-separated, relative ones joined to ``working_dir``).
    Raises ComposeError saying to pass --compose when nothing usable is found. ``host``: the
    named engine the labels come from (its paths are on that machine; the error says so).
    """
    hint = "pass the files with --compose FILE (repeat for overrides) and --project NAME."
    if inventory_frame is None or inventory_frame.empty or "config_files" not in inventory_frame.columns:
        raise ComposeError("no containers with compose labels found on this engine.", fix=hint)
    df = inventory_frame[inventory_frame["config_files"].fillna("").astype(str).str.strip() != ""]
    if project is not None:
        df = df[df["project"] == project]
    if df.empty:
        what = f"project '{project}'" if project else "any compose project"
        raise ComposeError(f"no container of {what} carries the label com.docker.compose.project.config_files.",
                           fix=hint)
    projects = sorted(p for p in df["project"].dropna().unique())
    if project is None and len(projects) > 1:
        raise ComposeError(f"several compose projects run here ({', '.join(projects)}).",
                           fix="choose one with --project NAME (or pass --compose FILE).")
    chosen = project or (projects[0] if projects else "")
    combos = df.groupby(["config_files", "working_dir"], dropna=False).size().sort_values(ascending=False)
    config_files, working_dir = combos.index[0]
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


def compose_projects(inventory_frame: pd.DataFrame) -> list[str]:
    """Compose projects whose containers carry the config_files label (sorted)."""
    if inventory_frame is None or inventory_frame.empty or "config_files" not in inventory_frame.columns:
        return []
    has = inventory_frame["config_files"].fillna("").astype(str).str.strip() != ""
    return sorted(str(p) for p in inventory_frame.loc[has, "project"].dropna().unique())
