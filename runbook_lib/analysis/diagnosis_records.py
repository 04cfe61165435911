"""``run_diagnosis_records(stack)``: what `runbook diagnose` runs over a gathered Stack, as records.

It reads the failing containers' logs through the stack's client, joins them with the
catalog (expected vs actual, crash loops, exact blocked-by) and the compose lint, and
returns a ``DiagnosisRecords`` (lists of dicts). ``analysis.diagnosis.run_diagnosis`` builds
today's frames from it. The pure pieces (``diagnose_records``, ``format_findings_records``,
``findings_json`` …) live in ``analysis.diagnosis_core``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.blocked_records import with_blocked_records
from runbook_lib.analysis.diagnosis_core import (  # noqa: F401 - the records API, in one place
    FINDING_COLUMNS, OWN_FAULT, SEVERITY_RANK, DiagnosisRecords, blocking_records, diagnose_records, findings_json,
    format_findings_records, has_severe, root_cause_summary,
)
from runbook_lib.analysis.expected_records import expected_vs_actual_records
from runbook_lib.analysis.fold_records import crash_loops_records, fold_records, root_services
from runbook_lib.analysis.lint_records import lint_rows
from runbook_lib.engine import logs as engine_logs

__all__ = ["DiagnosisRecords", "diagnose_records", "findings_json", "format_findings_records", "inventory_rows",
           "run_diagnosis_records"]


def inventory_rows(stack: Any) -> list[dict[str, Any]]:
    """The stack's (masked) inventory rows."""
    return list(stack.rows)


def evidence_rows(stack: Any, inventory: list[dict[str, Any]], *, all_containers: bool, tail_lines: int,
                  since: datetime | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(evidence rows, the attrs ``engine.evidence_frame`` gives the frame: notes, then the window as ISO text)."""
    since, until, now = engine_logs.evidence_window(since, None)
    rows, notes = engine_logs.gather_evidence_rows(stack.client, inventory, all=all_containers, tail_lines=tail_lines,
                                                   since=since, until=until)
    return list(rows), engine_logs.evidence_attrs(list(stack.inventory_notes) + list(notes), since, until, now)


def _engine_down_evidence(stack: Any) -> list[dict[str, Any]]:
    """The one evidence row of an engine that did not answer."""
    return [{"service": None, "name": None,
             "engine_error": redact.mask_text(str(stack.engine_error or "the Docker engine was not contacted")),
             "log_lines": [], "state": None}]


def run_diagnosis_records(stack: Any, *, all_containers: bool = False, tail_lines: int = 200,
                          since: datetime | None = None) -> DiagnosisRecords:
    """Diagnose a gathered stack, degrading instead of failing (no engine: one finding, lint still runs).

    Reads the logs of the failing containers (every container with ``all_containers``)
    through the stack's client; never connects on its own.
    """
    notes = list(stack.notes)
    degraded = list(stack.degraded_reasons)
    catalog = stack.catalog
    inv = inventory_rows(stack) if stack.engine_ok else None
    status = None
    if catalog is not None and inv is not None:
        status = crash_loops_records(expected_vs_actual_records(list(catalog.rows), inv, project=stack.project),
                                     inv, now=stack.gathered_at)
    lint = None
    if catalog is not None:
        try:
            lint = lint_rows(catalog)
        except Exception as exc:  # noqa: BLE001 - lint is a side section: degrade, never fail the diagnosis
            notes.append(redact.mask_text(f"lint failed: {exc}"))
            degraded.append("lint")
    attrs: dict[str, Any] = {}
    if not stack.engine_ok:
        if "engine" not in degraded:
            degraded.insert(0, "engine")
        evidence = _engine_down_evidence(stack)
        findings = diagnose_records(evidence, catalog=None, status=None)
    else:
        evidence, attrs = evidence_rows(stack, inv, all_containers=all_containers, tail_lines=tail_lines, since=since)
        notes += [n for n in attrs.get("notes", []) if n not in notes]
        findings = diagnose_records(evidence, catalog=catalog, status=status)
        if status is not None:
            cat_rows = list(catalog.rows)
            findings = fold_records(findings, status, cat_rows, columns=FINDING_COLUMNS)
            status = with_blocked_records(status, cat_rows, root_services(findings))
        else:
            findings = fold_records(findings, columns=FINDING_COLUMNS)
    return DiagnosisRecords(findings=findings, evidence=evidence, lint=lint, status=status, inventory=inv,
                            catalog=catalog, project=stack.project, compose_files=list(stack.compose_files),
                            notes=notes, degraded_reasons=degraded, evidence_attrs=attrs)
