"""Compose lint: configuration mistakes that caused (or will cause) an outage, with the fix.

Pure over a ``Catalog`` (compose.load_catalog): the merged, interpolated ``raw`` specs
decide what is effective; the files' literal text decides what is *written* in a file
(``lint_context``). The rules live in ``lint_rules`` (``RULES``: name -> function); each
yields findings with file, service, key, category (stable slug), severity, message and
fix. ``lint_catalog`` runs them (``lint_records.lint_findings``: records, no pandas) and gives
one frame row per finding, worst first.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib.analysis.lint_context import LintContext, LintFinding
from runbook_lib.analysis.lint_context import finding as _finding
from runbook_lib.analysis.lint_records import LINT_COLUMNS, lint_findings
from runbook_lib.analysis.lint_rules import RULES
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.knowledge.signatures import SEVERITY_RANK

__all__ = ["LINT_COLUMNS", "RULES", "SEVERITY_RANK", "LintContext", "LintFinding", "_finding", "lint_catalog",
           "lint_files", "lint_findings", "lint_summary"]


def lint_catalog(catalog: Any, rules: Iterable[str] | None = None) -> pd.DataFrame:
    """Lint a Catalog: one row per finding (LINT_COLUMNS), worst first. Pure apart from re-reading its files."""
    findings = lint_findings(catalog, rules)
    return pd.DataFrame([astuple(f) for f in findings], columns=LINT_COLUMNS)


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
