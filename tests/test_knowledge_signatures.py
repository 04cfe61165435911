"""The signature table is data (knowledge/signatures.yaml): it loads, every record validates, every pattern compiles."""
from __future__ import annotations

import re

import pytest
import yaml

from runbook_lib import knowledge
from runbook_lib.analysis import signatures as sig
from runbook_lib.knowledge import signatures as table
from runbook_lib.knowledge.signatures import SIGNATURES_PATH, Signature


def test_yaml_loads_and_every_record_validates():
    raw = yaml.safe_load(SIGNATURES_PATH.read_text(encoding="utf-8"))
    assert len(raw["log_signatures"]) == len(table.log_signatures()) >= 15
    for record in raw["log_signatures"]:
        s = table._signature(record)  # raises on a bad severity, kind, needle or pattern
        assert isinstance(s, Signature) and s.id == record["id"]
        assert s.cause and s.fix and s.title
        for p in s.patterns:
            re.compile(p)
        assert len(s.compiled) == len(s.patterns)
    ids = [s.id for s in table.log_signatures()]
    assert len(ids) == len(set(ids))
    states = {s.category for s in table.state_signatures()}
    assert {"crash-loop", "slow-startup", "engine-unreachable", "unclassified"} <= states


def test_the_matcher_reads_the_table_and_enrichers_exist():
    assert [s.id for s in sig.SIGNATURES] == [s.id for s in table.log_signatures()]
    from runbook_lib.analysis.match_context import ENRICHERS
    assert {s.enrich for s in sig.SIGNATURES if s.enrich} <= set(ENRICHERS)


def test_technologies_name_signatures_that_exist():
    ids = {s.id for s in table.log_signatures()} | {s.category for s in table.state_signatures()}
    names = {t.name for t in knowledge.technologies()}
    for tech in (*knowledge.technologies(), knowledge.application()):
        assert set(tech.signatures) <= ids, (tech.name, set(tech.signatures) - ids)
    for s in table.log_signatures():
        assert s.technology is None or s.technology in names, s.id


def test_bad_records_are_refused():
    good = {"id": "x", "title": "x", "severity": "low", "needles": ["a"], "patterns": ["a"], "cause": "c", "fix": "f"}
    assert table._signature(good).id == "x"
    for bad in ({"patterns": ["(unclosed"]}, {"severity": "urgent"}, {"kind": "guess"}, {"sources": ["stdin"]},
                {"colour": "red"}):
        with pytest.raises(ValueError):
            table._signature({**good, **bad})
