"""Compose lint: configuration mistakes that caused (or will cause) an outage, with the fix.

Pure over a ``Catalog`` (compose.load_catalog): the merged, interpolated ``raw`` specs
decide what is effective; the files' literal text decides what is *written* in a file
(``lint_context``). The rules live in ``lint_rules`` (``RULES``: name -> function); each
yields findings with file, service, key, category (stable slug), severity, message and
fix. ``lint_catalog`` runs them and gives one frame row per finding, worst first.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib.analysis.lint_context import LintContext, LintFinding, literal_services
from runbook_lib.analysis.lint_context import finding as _finding
from runbook_lib.analysis.lint_rules import RULES
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.exceptions import ConfigError
from runbook_lib.knowledge.signatures import SEVERITY_RANK

__all__ = ["LINT_COLUMNS", "RULES", "SEVERITY_RANK", "LintContext", "LintFinding", "_finding", "lint_catalog",
           "lint_files", "lint_summary"]

LINT_COLUMNS = ["file", "service", "key", "category", "severity", "message", "fix"]


def lint_catalog(catalog: Any, rules: Iterable[str] | None = None) -> pd.DataFrame:
    """Lint a Catalog: one row per finding (LINT_COLUMNS), worst first. Pure apart from re-reading its files."""
    raw = dict(getattr(catalog, "raw", {}) or {})
    frame = getattr(catalog, "frame", None)
    tiers: dict[str, str] = {}
    if isinstance(frame, pd.DataFrame) and "tier" in frame.columns:
        tiers = {str(s): str(t) for s, t in zip(frame["service"], frame["tier"])}
    files = tuple(str(f) for f in (getattr(catalog, "files", ()) or ()))
    ctx = LintContext(raw=raw, tiers=tiers, literal=literal_services(files), files=files)
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise ConfigError(f"unknown lint rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}.")
    rows = [astuple(row) for name in chosen for row in RULES[name](ctx)]
    df = pd.DataFrame(rows, columns=LINT_COLUMNS)
    if len(df):
        df = df.drop_duplicates(subset=["file", "service", "key", "category"])
        df = df.assign(_r=df["severity"].map(SEVERITY_RANK).fillna(9))
        df = df.sort_values(["_r", "category", "file", "service", "key"], kind="stable")
        df = df.drop(columns=["_r"]).reset_index(drop=True)
    return df


def lint_files(files: list[str | Path] | str | Path, **load_kw: Any) -> pd.DataFrame:
    """Load compose files (compose.load_catalog) and lint them."""
    return lint_catalog(load_catalog(files, **load_kw))


def lint_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Counts per category and severity (for the report's KPI line)."""
    if findings is None or findings.empty:
        return pd.DataFrame(columns=["category", "severity", "findings", "services"])
    g = findings.groupby(["category", "severity"], sort=False)
    out = g.agg(findings=("service", "size"), services=("service", "nunique")).reset_index()
    out = out.assign(_r=out["severity"].map(SEVERITY_RANK).fillna(9)).sort_values(["_r", "category"])
    return out.drop(columns=["_r"]).reset_index(drop=True)
