"""run_diagnosis reads a gathered Stack and never connects on its own; it returns a typed Diagnosis."""
from __future__ import annotations

import textwrap

import pandas as pd

from runbook_lib.analysis.diagnosis import Diagnosis, run_diagnosis
from runbook_lib.stack import gather

COMPOSE = """
services:
  db:
    image: postgres:16
  api:
    build: .
    image: api:1.0
    environment:
      DATABASE_URL: postgres://app@localhost:5432/app
    depends_on: [db]
"""


def test_a_stack_without_engine_gives_one_engine_finding_and_the_lint(tmp_path):
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(COMPOSE), encoding="utf-8")
    stack = gather(compose_files=[f], use_engine=False)
    assert stack.client is None and stack.catalog is not None
    diag = run_diagnosis(stack)
    assert isinstance(diag, Diagnosis) and isinstance(diag.findings, pd.DataFrame)
    assert list(diag.findings["category"]) == ["engine-unreachable"]
    assert "engine" in diag.degraded_reasons and diag.has_severe
    assert list(diag.root_causes["category"]) == ["engine-unreachable"]
    assert diag.compose_files == [str(f)] and diag.project == stack.project and diag.inventory is None
    cats = set(diag.lint["category"])
    assert {"localhost-reference", "data-volume", "dependency-without-healthcheck"} <= cats
