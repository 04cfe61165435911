"""The recovery plan as a frame: ``analysis.plan_records`` (the rules, pure, no pandas) in frame shape.

``recovery_plan(catalog_frame, status_frame)`` and ``plan_from_diagnosis(findings, status,
catalog_frame, ...)`` return the rows of ``plan_records.recovery_plan_records`` /
``plan_records_from_diagnosis`` as a DataFrame (``plan_frame``: same columns, same values,
``attrs`` order / root_causes / remedies / project / compose_files); one logic, two shapes.
The rules themselves are in ``plan_records``'s docstring. ``plan_stack(stack)`` runs the
diagnosis and plans from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from runbook_lib.analysis.diagnosis import Diagnosis, run_diagnosis
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.plan_records import (ACTIONS, CONDITIONS, DEFAULT_COMPLETED_TIMEOUT_S,
                                               DEFAULT_HC_INTERVAL_S, DEFAULT_HC_RETRIES, DEFAULT_STARTED_TIMEOUT_S,
                                               DIAGNOSIS_COLUMNS, MAX_TIMEOUT_S, MIN_TIMEOUT_S, STEP_COLUMNS,
                                               PlanRecords, compose_command, plan_records_from_diagnosis,
                                               plan_summary_records, recovery_plan_records, topological_order,
                                               wait_timeout_s)
from runbook_lib.exceptions import RunbookError
from runbook_lib.stack import Stack

__all__ = ["ACTIONS", "CONDITIONS", "DEFAULT_COMPLETED_TIMEOUT_S", "DEFAULT_HC_INTERVAL_S", "DEFAULT_HC_RETRIES",
           "DEFAULT_STARTED_TIMEOUT_S", "DIAGNOSIS_COLUMNS", "MAX_TIMEOUT_S", "MIN_TIMEOUT_S", "STEP_COLUMNS",
           "StackPlan", "compose_command", "plan_frame", "plan_from_diagnosis", "plan_stack", "plan_summary",
           "recovery_plan", "topological_order", "try_plan_stack", "wait_timeout_s"]


def _rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None or not len(frame) else frame.to_dict("records")


def plan_frame(plan: PlanRecords) -> pd.DataFrame:
    """The plan's rows as a frame (its columns; wave and step ints, manual bools; ``attrs`` as the records')."""
    df = pd.DataFrame(plan.rows, columns=plan.columns, dtype=object)
    df = df.astype({"wave": int, "step": int, "manual": bool})
    df.attrs.update(plan.attrs)
    return df


def recovery_plan(catalog_frame: pd.DataFrame, status_frame: pd.DataFrame, budget_s: float | None = None,
                  project: str | None = None) -> pd.DataFrame:
    """Ordered steps (wave by wave, dependencies first) that bring the stack back; pure."""
    return plan_frame(recovery_plan_records(_rows(catalog_frame), _rows(status_frame), budget_s=budget_s,
                                            project=project))


def plan_summary(plan: pd.DataFrame) -> dict[str, Any]:
    """Counts for a KPI header and the report JSON."""
    return plan_summary_records(_rows(plan), plan.attrs.get("root_causes", []))


def plan_from_diagnosis(findings: pd.DataFrame, status: pd.DataFrame, catalog_frame: pd.DataFrame, *,
                        project: str | None = None, compose_files: list[str] | None = None,
                        budget_s: float | None = None) -> pd.DataFrame:
    """The recovery plan that follows the diagnosis: fix, then rebuild/recreate, then wait; pure.

    ``findings`` is the (folded) diagnosis: one root-cause finding per failing service.
    Columns: STEP_COLUMNS + ``remedy`` and ``finding`` (``service:category`` of the finding
    the step comes from). ``attrs``: root_causes (== the diagnosis's), remedies, order.
    """
    return plan_frame(plan_records_from_diagnosis(_rows(findings), _rows(status), _rows(catalog_frame),
                                                  project=project, compose_files=compose_files, budget_s=budget_s))


@dataclass
class StackPlan:
    """A gathered stack's recovery plan with what it was made from."""

    project: str | None
    files: list[str]
    catalog: Any
    status: pd.DataFrame
    plan: pd.DataFrame
    diagnosis: Diagnosis | None = None

    @property
    def root_causes(self) -> list[str]:
        """The diagnosis's root-cause services (the plan's, by construction)."""
        return list(self.plan.attrs.get("root_causes", []))


def plan_stack(stack: Stack, budget_s: float | None = None, diagnosis: Diagnosis | None = None) -> StackPlan:
    """Diagnose a gathered stack (unless ``diagnosis`` is given) and plan from it.

    Raises when the stack has no catalog.
    """
    catalog = stack.require_catalog()
    diag = diagnosis if diagnosis is not None else run_diagnosis(stack)
    status = diag.status
    if status is None:  # no engine: nothing is known to run
        status = expected_vs_actual(catalog.frame, stack.project_inventory(), project=stack.project)
    plan = plan_from_diagnosis(diag.findings, status, catalog.frame, project=stack.project,
                               compose_files=list(stack.compose_files), budget_s=budget_s)
    return StackPlan(project=stack.project, files=list(stack.compose_files), catalog=catalog, status=status,
                     plan=plan, diagnosis=diag)


def try_plan_stack(stack: Stack, budget_s: float | None = None) -> tuple[StackPlan | None, Exception | None]:
    """``plan_stack`` for a report that goes on degraded: (plan, None) or (None, why not)."""
    if not stack.engine_ok:
        return None, stack.engine_error
    try:
        return plan_stack(stack, budget_s), None
    except RunbookError as exc:
        return None, exc
