"""The evidence as a DataFrame: ``logs.gather_evidence_rows`` (no pandas) wrapped for notebooks and reports.

Same rows, columns (``logs.EVIDENCE_COLUMNS``) and attrs as ever: ``notes`` (the inventory's,
then this gathering's), ``since``, ``until`` and ``gathered_at`` as ISO text.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from runbook_lib.engine.logs import (EVIDENCE_COLUMNS, MAX_LINE_BYTES, evidence_attrs, evidence_window,
                                     gather_evidence_rows)


def empty_evidence() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVIDENCE_COLUMNS})


def evidence_frame(rows: list[dict], attrs: dict[str, Any]) -> pd.DataFrame:
    """The evidence frame of ``gather_evidence_rows``' rows, with its attrs (``logs.evidence_attrs``)."""
    df = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS) if rows else empty_evidence()
    df.attrs.update(attrs)
    return df


def gather_evidence(client, inventory: pd.DataFrame, services: Iterable[str] | None = None,
                    all: bool = False, tail_lines: int = 200, max_bytes: int = 256_000,  # noqa: A002
                    since: datetime | pd.Timestamp | None = None, until: datetime | None = None,
                    previous=None, events: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                    max_workers: int = 8) -> pd.DataFrame:
    """One evidence row per selected container (not healthy ones unless ``all``/``services``)."""
    since, until, now = evidence_window(since, until)
    rows, notes = gather_evidence_rows(client, inventory.to_dict("records"), services, all, tail_lines, max_bytes,
                                       since, until, previous, events, max_line_bytes, max_workers)
    return evidence_frame(rows, evidence_attrs(list(inventory.attrs.get("notes", [])) + notes, since, until, now))
