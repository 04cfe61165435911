"""The plan over records equals the frame plan row for row: steps, attrs, summary, text and dry-run.

Inputs: real compose files (the ledgerline fixture, the demo stack, a generated 500-service file)
with every service in a random state (exited, unhealthy, paused, created, dead, never created …)
and random root-cause findings of every remedy class. The frame side is today's API
(``analysis.plan``, ``engine.actions``) fed frames; the records side is ``analysis.plan_records``
and ``engine.plan_run`` fed ``catalog.rows`` and ``to_dict("records")`` of the same frames.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.analysis.diagnosis import FINDING_COLUMNS
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.plan import plan_from_diagnosis, plan_summary, recovery_plan
from runbook_lib.analysis.plan_records import (PlanRecords, plan_diagnosis, plan_records_from_diagnosis,
                                               plan_summary_records, recovery_plan_records)
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.engine.actions import apply_plan, format_plan
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.engine.inventory import COLUMNS
from runbook_lib.engine.plan_run import format_plan_rows, run_plan
from runbook_lib.exceptions import ActionRefused

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_compose import generate  # noqa: E402  (the benchmarks' 500-service compose file)

LEDGERLINE = REPO / "tests" / "fixtures" / "ledgerline-erp" / "docker-compose.yml"
DEMO = REPO / "runbook_lib" / "demo" / "files" / "docker-compose.yml"
STATES = [("exited", "none", 1), ("running", "unhealthy", None), ("restarting", "none", None),
          ("paused", "none", None), ("created", "none", None), ("dead", "none", 137),
          ("running", "starting", None), (None, None, None), ("running", "healthy", None), ("exited", "none", 0)]
CATEGORIES = ["missing-module", "oom", "db-auth-failure", "dns-failure", "crash-loop", "not-created",
              "unclassified", "typescript-compile-error", "port-in-use"]


def _inventory(frame: pd.DataFrame, project: str, rng: random.Random) -> pd.DataFrame:
    rows = []
    for i, (svc, hc) in enumerate(zip(frame["service"], frame["has_healthcheck"])):
        state, health, code = ("running", "healthy" if hc else "none", None)
        if rng.random() < 0.6:
            state, health, code = rng.choice(STATES)
        if state is None:
            continue  # never created
        row = {c: None for c in COLUMNS}
        row.update({"project": project, "service": svc, "name": f"{project}-{svc}-1", "id": f"{i:012d}",
                    "state": state, "health": health, "exit_code": code, "has_healthcheck": bool(hc),
                    "restart_count": 0, "oom_killed": False, "published_ports": [], "failing_streak": 0})
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _findings(status: pd.DataFrame, names: list[str], rng: random.Random) -> pd.DataFrame:
    rows = []
    for svc in status["service"]:
        if rng.random() < 0.5:
            category = rng.choice(CATEGORIES)
            row = {c: None for c in FINDING_COLUMNS}
            host = rng.choice([names[0], names[0] + "x", "db.example.com"])
            row.update(service=svc, category=category, root_cause=rng.random() < 0.7, severity="high", kind="cause",
                       fix=rng.choice(["set DATABASE_URL.", "", None]),
                       evidence=rng.choice([["line one", "line two"], [], None, ["x" * 300]]),
                       details=[{"dnshost": host}] if category == "dns-failure" else [])
            rows.append(row)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _cases(path: Path, seeds: range):
    catalog = load_catalog([path])
    for seed in seeds:
        rng = random.Random(seed)
        status = expected_vs_actual(catalog.frame, _inventory(catalog.frame, catalog.project, rng),
                                    project=catalog.project)
        yield catalog, status, _findings(status, list(catalog.frame["service"]), rng)


def _same(frame: pd.DataFrame, records: PlanRecords) -> None:
    assert list(frame.columns) == records.columns
    assert frame.to_dict("records") == records.rows
    assert frame.attrs == records.attrs


@pytest.fixture(scope="module")
def big_compose(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plan500") / "docker-compose.yml"
    path.write_text(generate(500))
    return path


@pytest.mark.parametrize("which,seeds", [("ledgerline", range(4)), ("demo", range(4)), ("big", range(1))])
def test_records_plan_equals_frame_plan(which, seeds, big_compose):
    path = {"ledgerline": LEDGERLINE, "demo": DEMO, "big": big_compose}[which]
    for catalog, status, findings in _cases(path, seeds):
        files = [str(path)]
        for budget in (None, 45.0):
            base = recovery_plan(catalog.frame, status, budget, catalog.project)
            _same(base, recovery_plan_records(catalog.rows, status.to_dict("records"), budget, catalog.project))
            frame = plan_from_diagnosis(findings, status, catalog.frame, project=catalog.project,
                                        compose_files=files, budget_s=budget)
            records = plan_records_from_diagnosis(findings.to_dict("records"), status.to_dict("records"),
                                                  catalog.rows, project=catalog.project, compose_files=files,
                                                  budget_s=budget)
            assert len(frame) and set(frame["action"]) > {"fix", "recreate", "wait"}
            _same(frame, records)
            assert plan_summary(frame) == plan_summary_records(records.rows, records.root_causes)
            assert format_plan(frame, catalog.project) == format_plan_rows(records.rows, catalog.project,
                                                                           columns=records.columns)
            assert format_plan(base) == format_plan_rows(base.to_dict("records"), columns=list(base.columns))


def test_plan_diagnosis_takes_a_diagnosis_as_records():
    catalog, status, findings = next(_cases(LEDGERLINE, range(1)))
    frame = plan_from_diagnosis(findings, status, catalog.frame, project=catalog.project,
                                compose_files=[str(LEDGERLINE)], budget_s=60)
    for cat in (catalog, list(catalog.rows)):  # the Catalog (as DiagnosisRecords holds it) or its rows
        diagnosis = type("DiagnosisRecords", (), {
            "findings": findings.to_dict("records"), "status": status.to_dict("records"), "catalog": cat,
            "project": catalog.project, "compose_files": [str(LEDGERLINE)]})()
        _same(frame, plan_diagnosis(diagnosis, budget_s=60))


@pytest.mark.parametrize("files", [None, ["/nonexistent/docker-compose.yml"]])
def test_dry_run_over_rows_equals_apply_plan_dry_run(files, tmp_path):
    """Same log, same attrs, same audit records (ids and times aside); no engine at all."""
    for catalog, status, findings in _cases(DEMO, range(3)):
        frame = plan_from_diagnosis(findings, status, catalog.frame, project=catalog.project,
                                    compose_files=[str(DEMO)])
        logs, audits = [], []
        for i, via_rows in enumerate((False, True)):
            path = tmp_path / f"audit-{len(audits)}-{i}.log"
            kw = dict(budget_s=None, progress=None, dry_run=True, compose_files=files, compose=["docker", "compose"])
            if via_rows:
                run = run_plan(frame.to_dict("records"), frame.attrs, catalog, AuditLog(path), **kw)
                log, attrs = pd.DataFrame(run.rows), run.attrs
            else:
                log = apply_plan(None, frame, catalog, AuditLog(path), **kw)
                attrs = log.attrs
            logs.append((log.drop(columns=["started_at", "duration_s", "audit_id"]).to_dict("records"),
                         {k: v for k, v in attrs.items() if k != "audit_log"}))
            audits.append(read_audit(path).drop(columns=["ts", "id"]).to_dict("records"))
        assert logs[0] == logs[1]
        assert audits[0] == audits[1]
        assert all(r["dry_run"] for r in audits[0])  # every record says dry_run: true
        assert logs[0][1]["status"] == ("stopped" if files else "dry-run")


class _NoCalls:
    """Steps that fail the test on any engine call: a dry-run must make none."""

    def __getattr__(self, name):
        raise AssertionError(f"the dry-run made an engine call: {name}")


@pytest.mark.parametrize("bad", ["rm", "prune", "down -v", "remove-volume"])
def test_run_plan_refuses_a_destructive_action_before_any_call(bad, tmp_path):
    rows = [{"wave": 1, "step": 1, "service": "db", "container": "c1", "action": "start", "condition": None,
             "timeout_s": None, "reason": "exited", "depends_on": [], "manual": False, "command": "docker start c1"},
            {"wave": 1, "step": 2, "service": "db", "container": "c1", "action": bad, "condition": None,
             "timeout_s": None, "reason": "", "depends_on": [], "manual": False, "command": None}]
    path = tmp_path / "audit.log"
    for dry_run in (True, False):
        with pytest.raises(ActionRefused, match="never removes volumes"):
            run_plan(rows, {}, None, AuditLog(path), progress=None, dry_run=dry_run, steps=_NoCalls())
    audit = read_audit(path)
    assert list(audit["outcome"]) == ["refused", "refused"] and list(audit["action"]) == [bad, bad]


def test_dry_run_over_rows_makes_no_engine_call(tmp_path):
    catalog, status, findings = next(_cases(LEDGERLINE, range(1)))
    plan = plan_records_from_diagnosis(findings.to_dict("records"), status.to_dict("records"), catalog.rows,
                                       project=catalog.project, compose_files=[str(LEDGERLINE)])
    run = run_plan(plan.rows, plan.attrs, catalog, AuditLog(tmp_path / "audit.log"), progress=None, dry_run=True,
                   steps=_NoCalls(), compose=["docker", "compose"])
    assert run.attrs["status"] == "dry-run" and {r["outcome"] for r in run.rows} == {"dry-run"}
    assert [r["step"] for r in run.rows] != [] and len(run.rows) == len(plan.rows)
