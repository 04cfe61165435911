"""Findings per container as a frame: ``classify`` over ``classify_records`` (one logic, two shapes).

``classify(evidence, catalog)`` turns evidence rows (one per container) into a findings
frame (``signatures.FINDING_COLUMNS``), worst first; the matching, the state signatures
and the order are ``analysis.classify_records`` (no pandas). Pure: rows in, a frame out.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from runbook_lib.analysis.classify_records import (  # noqa: F401 - where callers found them
    Finding, classify_one, classify_records, start_periods,
)
from runbook_lib.analysis.frames import rows_of
from runbook_lib.analysis.logmatch import FINDING_COLUMNS
from runbook_lib.knowledge.signatures import Signature

__all__ = ["Finding", "classify", "classify_one", "classify_records"]


def classify(evidence: Iterable[Mapping[str, Any]] | pd.DataFrame, catalog: Any = None,
             signatures: Sequence[Signature] | None = None, crash_loop_restarts: int = 3,
             max_evidence: int = 5) -> pd.DataFrame:
    """Evidence rows (one per container) -> findings frame (FINDING_COLUMNS), worst first (``classify_records``)."""
    rows = classify_records(rows_of(evidence), catalog, signatures, crash_loop_restarts, max_evidence)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
