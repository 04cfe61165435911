"""Compose lint as records: run the rules over a catalog, one ``LintFinding`` per finding, worst first.

No pandas here, so `runbook lint` starts without it; ``analysis.lint.lint_catalog`` gives the
same findings as a frame for reports and notebooks.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple
from typing import Any

from runbook_lib.analysis.lint_context import LintContext, LintFinding, literal_services
from runbook_lib.analysis.lint_rules import RULES
from runbook_lib.exceptions import ConfigError
from runbook_lib.knowledge.signatures import SEVERITY_RANK

__all__ = ["LINT_COLUMNS", "catalog_tiers", "lint_findings", "lint_rows", "severity_rank"]

LINT_COLUMNS = ["file", "service", "key", "category", "severity", "message", "fix"]

_UNKNOWN_RANK = 9  # a severity the table does not know sorts after every known one


def severity_rank(severity: str) -> int:
    """0 for critical … 3 for low; 9 for a severity the table does not know."""
    return SEVERITY_RANK.get(severity, _UNKNOWN_RANK)


def catalog_tiers(catalog: Any) -> dict[str, str]:
    """service -> tier, from the catalog's records (or, for a catalog-like object, its frame)."""
    rows = getattr(catalog, "rows", None)
    if rows is not None:
        return {str(r["service"]): str(r["tier"]) for r in rows}
    frame = getattr(catalog, "frame", None)
    if frame is not None and "tier" in getattr(frame, "columns", ()):
        return {str(s): str(t) for s, t in zip(frame["service"], frame["tier"])}
    return {}


def lint_findings(catalog: Any, rules: Iterable[str] | None = None,
                  tiers: dict[str, str] | None = None) -> list[LintFinding]:
    """Lint a catalog: one finding per (file, service, key, category), worst first, then by category, file,
    service and key. Pure apart from re-reading the catalog's files (their literal text)."""
    raw = dict(getattr(catalog, "raw", {}) or {})
    files = tuple(str(f) for f in (getattr(catalog, "files", ()) or ()))
    ctx = LintContext(raw=raw, tiers=catalog_tiers(catalog) if tiers is None else tiers,
                      literal=literal_services(files), files=files)
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise ConfigError(f"unknown lint rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}.")
    seen: set[tuple[str, str, str, str]] = set()
    found: list[LintFinding] = []
    for name in chosen:
        for f in RULES[name](ctx):
            where = (f.file, f.service, f.key, f.category)
            if where not in seen:  # the first finding for a place and category wins
                seen.add(where)
                found.append(f)
    return sorted(found, key=lambda f: (severity_rank(f.severity), f.category, f.file, f.service, f.key))


def lint_rows(catalog: Any, rules: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """``lint_findings`` as records (LINT_COLUMNS keys), worst first."""
    return [dict(zip(LINT_COLUMNS, astuple(f))) for f in lint_findings(catalog, rules)]
