"""Diagnosis as frames: evidence -> findings (cause, fix, evidence), root causes first.

The logic is over records (``analysis.diagnosis_core``: ``diagnose_records`` and the text
and JSON forms; ``analysis.diagnosis_records``: ``run_diagnosis_records(stack)``), with no
pandas, so `runbook diagnose` starts without it. This module gives the same results as
frames for notebooks, reports, alerts and the history: ``diagnose(evidence, catalog,
status)`` and ``run_diagnosis(stack) -> Diagnosis`` build their frames from the records
(one logic, two shapes).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from runbook_lib.analysis.diagnosis_core import (  # noqa: F401 - where callers found them
    DOWN_ACTUAL, FINDING_COLUMNS, OWN_FAULT, SEVERITY_RANK, blocking_records, diagnose_records, findings_json,
    format_findings_records, json_safe, root_cause_summary,
)
from runbook_lib.analysis.diagnosis_records import run_diagnosis_records
from runbook_lib.analysis.expected import status_frame
from runbook_lib.analysis.frames import rows_of
from runbook_lib.analysis.lint import LINT_COLUMNS
from runbook_lib.compose.catalog import Catalog
from runbook_lib.engine.evidence_frame import evidence_frame
from runbook_lib.stack import Stack

_json_safe = json_safe


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})


def findings_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The findings frame of finding records (their columns, in their order; empty: FINDING_COLUMNS)."""
    return pd.DataFrame(rows, columns=list(rows[0])) if rows else empty_findings()


def blocking(findings: pd.DataFrame, catalog: Any = None, status: pd.DataFrame | None = None
             ) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
    """(root-cause services, service -> blocked by, service -> blocks) (``blocking_records``)."""
    return blocking_records(rows_of(findings), catalog, rows_of(status) if status is not None else None)


def diagnose(evidence: pd.DataFrame | list[Mapping[str, Any]], catalog: Any = None,
             status: pd.DataFrame | None = None, signatures: Any = None) -> pd.DataFrame:
    """Findings (FINDING_COLUMNS), root causes first, then what they block; evidence masked."""
    rows = diagnose_records(rows_of(evidence), catalog, rows_of(status) if status is not None else None, signatures)
    return findings_frame(rows)


def findings_records(findings: pd.DataFrame | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Findings as JSON-safe dicts (masked)."""
    return findings_json(findings)


def format_findings(findings: pd.DataFrame | list[dict[str, Any]] | None, lint: Any = None,
                    notes: list[str] | None = None, max_evidence: int = 4, width: int = 160) -> str:
    """Findings for a terminal: root causes, then blocked services, then compose lint (frames or records)."""
    return format_findings_records(rows_of(findings), rows_of(lint), notes, max_evidence, width)


@dataclass
class Diagnosis:
    """What `runbook diagnose` and the recovery report show: findings first, then what they rest on."""

    findings: pd.DataFrame
    evidence: pd.DataFrame
    lint: pd.DataFrame | None = None
    status: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None
    catalog: Catalog | None = None
    project: str | None = None
    compose_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)

    @property
    def root_causes(self) -> pd.DataFrame:
        """The findings that are root causes (the rest are blocked by them)."""
        if self.findings is None or not len(self.findings):
            return empty_findings()
        return self.findings[self.findings["root_cause"].astype(bool)].reset_index(drop=True)

    @property
    def has_severe(self) -> bool:
        """True when a finding is critical or high (`runbook diagnose` exits 1)."""
        return bool(len(self.findings)) and bool(self.findings["severity"].isin(["critical", "high"]).any())


def run_diagnosis(stack: Stack, *, all_containers: bool = False, tail_lines: int = 200,
                  since: datetime | pd.Timestamp | None = None) -> Diagnosis:
    """Diagnose a gathered stack (``run_diagnosis_records``), as frames.

    Reads the logs of the failing containers (every container with ``all_containers``)
    through the stack's client; never connects on its own.
    """
    rec = run_diagnosis_records(stack, all_containers=all_containers, tail_lines=tail_lines, since=since)
    inv = stack.inventory if stack.engine_ok else None
    if not stack.engine_ok:
        evidence = pd.DataFrame(rec.evidence)
    else:
        evidence = evidence_frame(rec.evidence, rec.evidence_attrs)
    lint = pd.DataFrame(rec.lint, columns=LINT_COLUMNS) if rec.lint is not None else None
    status = status_frame(rec.status, inv.attrs.get("notes", [])) if rec.status is not None else None
    return Diagnosis(findings=findings_frame(rec.findings), evidence=evidence, lint=lint, status=status,
                     inventory=inv, catalog=rec.catalog, project=rec.project, compose_files=rec.compose_files,
                     notes=rec.notes, degraded_reasons=rec.degraded_reasons)
