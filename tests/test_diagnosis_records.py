"""One logic, two shapes: the diagnosis over records gives exactly what the frames show (frames built from it)."""
from __future__ import annotations

import math
import textwrap
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from runbook_lib.analysis import diagnosis, diagnosis_core, diagnosis_records, frames
from runbook_lib.analysis.blocked import with_blocked
from runbook_lib.analysis.blocked_records import with_blocked_records
from runbook_lib.analysis.expected import expected_vs_actual, status_frame
from runbook_lib.analysis.expected_records import expected_vs_actual_records
from runbook_lib.analysis.fold import crash_loops, fold
from runbook_lib.analysis.fold_records import crash_loops_records, fold_records, root_services
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.stack import gather

COMPOSE = """
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"], interval: 5s, start_period: 10s}
  cache:
    image: redis:7
  api:
    build: .
    image: api:1.0
    ports: ["8080:8080"]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
  worker:
    image: worker:1.0
    depends_on: [api]
  web:
    image: web:1.0
    depends_on: [api]
"""
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def _catalog(tmp_path):
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(COMPOSE), encoding="utf-8")
    return load_catalog([f], project_name="shop")


def _inventory() -> list[dict]:
    def row(service, state, **kw):
        base = {"project": "shop", "service": service, "name": f"shop-{service}-1", "id": f"id{service}",
                "state": state, "health": "none", "has_healthcheck": False, "exit_code": 0, "oom_killed": False,
                "restart_count": 0, "created_at": NOW - timedelta(hours=1), "started_at": NOW - timedelta(hours=1),
                "published_ports": []}
        return {**base, **kw}
    return [row("db", "exited", exit_code=137, oom_killed=True),
            row("api", "running", restart_count=5, started_at=NOW - timedelta(seconds=30)),
            row("worker", "exited", exit_code=1),
            row("web", "running")]


def _evidence() -> list[dict]:
    return [
        {"service": "db", "name": "shop-db-1", "state": "exited", "exit_code": 137, "oom_killed": True,
         "restart_count": 0, "log_lines": ["FATAL:  password authentication failed for user \"app\""]},
        {"service": "api", "name": "shop-api-1", "state": "running", "restart_count": 5, "restart_growth": 2,
         "log_lines": ["Error: connect ECONNREFUSED 127.0.0.1:5432", "Error: Cannot find module 'express'"]},
        {"service": "worker", "name": "shop-worker-1", "state": "exited", "exit_code": 1,
         "log_lines": ["Error: getaddrinfo ENOTFOUND dbb"]},
    ]


def _same(rows: list[dict]) -> list[dict]:
    """Rows with NaN read as None (a frame shows a missing text as NaN, records as None)."""
    return [{k: frames.cell(r, k) for k in r} for r in rows]


def test_every_step_gives_the_same_rows_as_its_frame(tmp_path):
    cat = _catalog(tmp_path)
    inv_rows = _inventory()
    inv = pd.DataFrame(inv_rows)
    status_f = crash_loops(expected_vs_actual(cat.frame, inv, project="shop"), inv, now=NOW)
    status_r = crash_loops_records(expected_vs_actual_records(list(cat.rows), inv_rows, project="shop"), inv_rows,
                                   now=NOW)
    assert status_f.to_dict("records") == status_r
    pd.testing.assert_frame_equal(status_f, status_frame(status_r))
    assert "restarting" in {r["actual"] for r in status_r}  # the crash loop was counted down

    found_f = fold(diagnosis.diagnose(_evidence(), catalog=cat, status=status_f), status_f, cat.frame)
    found_r = fold_records(diagnosis_core.diagnose_records(_evidence(), cat, status_r), status_r, list(cat.rows),
                           columns=diagnosis_core.FINDING_COLUMNS)
    assert _same(found_f.to_dict("records")) == found_r
    pd.testing.assert_frame_equal(found_f, diagnosis.findings_frame(found_r))
    assert diagnosis.format_findings(found_f) == diagnosis_core.format_findings_records(found_r)
    assert diagnosis.findings_records(found_f) == diagnosis_core.findings_json(found_r)
    assert diagnosis.root_cause_summary(found_f) == diagnosis_core.root_cause_summary(found_r)

    roots = root_services(found_r)
    assert roots and roots == root_services(found_f)
    blocked_f = with_blocked(status_f, cat.frame, roots)
    blocked_r = with_blocked_records(status_r, list(cat.rows), roots)
    pd.testing.assert_frame_equal(blocked_f, status_frame(blocked_r, status_f.attrs.get("notes", [])))


def test_run_diagnosis_is_built_from_the_records(tmp_path):
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(COMPOSE), encoding="utf-8")
    stack = gather(compose_files=[f], use_engine=False)
    rec = diagnosis_records.run_diagnosis_records(stack)
    diag = diagnosis.run_diagnosis(stack)
    assert _same(diag.findings.to_dict("records")) == rec.findings and rec.has_severe == diag.has_severe
    assert diag.lint.to_dict("records") == rec.lint and diag.notes == rec.notes
    assert diag.degraded_reasons == rec.degraded_reasons == ["engine"]
    assert [r["category"] for r in rec.root_causes] == list(diag.root_causes["category"])


def test_cells_read_the_same_without_pandas():
    for missing in (None, float("nan"), np.nan, pd.NA, pd.NaT, np.datetime64("NaT")):
        assert frames.is_missing(missing) and frames.cell({"k": missing}, "k") is None
    for present in ("", [], {}, 0, False, np.int64(3), pd.Timestamp("2026-01-01", tz="UTC"), np.array([1, 2])):
        assert not frames.is_missing(present)
    assert frames.as_list(None) == [] and frames.as_list(math.nan) == [] and frames.as_list("a") == ["a"]
    ts = frames.as_datetime("2026-11-29T12:00:00.123456789Z")
    assert ts == datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert frames.as_datetime(pd.Timestamp("2026-11-29 12:00")) == pd.Timestamp("2026-11-29 12:00", tz="UTC")
    assert frames.as_datetime("not a time") is None and frames.as_datetime(pd.NaT) is None
