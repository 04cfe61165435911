"""Log signatures: the matcher's public face, and the signature library as a frame.

The matcher itself (needles, one Aho-Corasick pass, patterns on a bounded window, masked
matches) is ``analysis.logmatch``, which needs no pandas so that `runbook diagnose` starts
without it; this module re-exports it and adds ``signature_table`` (a frame for docs and
notebooks). ``SIGNATURES`` and ``_ac`` are the matcher's: swap them on ``logmatch``.

``classify`` (findings per container, including the signatures read from container
state) lives in ``analysis.classify``.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from runbook_lib.analysis import logmatch
from runbook_lib.analysis.logmatch import (  # noqa: F401 - the public names of the matcher, where callers find them
    _WINDOW_AFTER, _WINDOW_BEFORE, ENRICHERS, FIELD_SIGNATURES, FINDING_COLUMNS, MAX_LINE_CHARS, SEVERITIES,
    SEVERITY_RANK, SIGNATURES, Hit, Match, MatchContext, MatchTexts, Signature, _all_needle_hits, _automaton,
    _needle_hits, _prepare, context_from_catalog, cut_line, line_hits, match_lines, materialize, port_service_map,
)

__all__ = ["FIELD_SIGNATURES", "FINDING_COLUMNS", "MAX_LINE_CHARS", "SEVERITIES", "SEVERITY_RANK", "SIGNATURES",
           "Match", "MatchContext", "Signature", "context_from_catalog", "cut_line", "match_lines",
           "port_service_map", "signature_table"]


def signature_table(signatures: Sequence[Signature] | None = None) -> pd.DataFrame:
    """The signature library as a frame (for docs and the report's appendix)."""
    table = logmatch.SIGNATURES if signatures is None else signatures
    rows = [{"category": s.category, "title": s.title, "severity": s.severity, "kind": s.kind,
             "sources": ", ".join(s.sources), "needles": ", ".join(s.needles)} for s in table]
    rows += [{"category": k, "title": v.title, "severity": v.severity, "kind": v.kind,
              "sources": "state", "needles": ""} for k, v in FIELD_SIGNATURES.items()
             if k not in {s.category for s in table}]
    return pd.DataFrame(rows)
