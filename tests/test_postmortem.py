"""The postmortem of a real incident: collector rounds on a real container, an applied plan step, the report."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from runbook_lib.analysis.plan import STEP_COLUMNS
from runbook_lib.engine.actions import apply_plan
from runbook_lib.engine.audit import AuditLog
from runbook_lib.history.collector import collect_round
from runbook_lib.history.debounce import Thresholds
from runbook_lib.history.store import open_store
from runbook_lib.reports import postmortem
from runbook_lib.reports import runner as report
from test_alerts import Webhook, make


@pytest.mark.docker
@pytest.mark.slow
def test_postmortem_of_a_real_incident(tmp_path, docker_client, containers, test_label):
    hook = Webhook()
    c = containers(["sleep", "600"], name="pm-api", labels={"com.docker.compose.project": "pmproj",
                                                           "com.docker.compose.service": "api"})
    store_path = tmp_path / "history.sqlite3"
    store = open_store(store_path, thresholds=Thresholds(1, 1, 0.0))
    n = make(tmp_path, [hook.url])
    audit = AuditLog(tmp_path / "audit.log")
    now = pd.Timestamp.now(tz="UTC").floor("s")

    def rnd(seconds: int):
        collect_round(store, client=docker_client, label=test_label, probes=False, interval_s=60,
                      ts=now + pd.Timedelta(seconds=seconds), notifier=n)

    try:
        rnd(-120)
        c.stop(timeout=1)
        rnd(-60)
        plan = pd.DataFrame([{"wave": 1, "step": 1, "service": "api", "container": c.name, "action": "start",
                              "condition": None, "timeout_s": 30.0, "reason": "stopped", "depends_on": [],
                              "manual": False, "command": f"docker start {c.name}"}], columns=STEP_COLUMNS)
        log = apply_plan(docker_client, plan, None, audit, progress=None)
        assert log.attrs["status"] != "stopped"
        rnd(0)
    finally:
        store.close()
        hook.stop()
    assert [m["title"] for m in hook.received] == ["DOWN api", "RECOVERED api"]
    inc = n.db.incidents()
    assert len(inc) == 1 and inc["closed_at"].notna().all()
    pm = postmortem.build(store_path=str(store_path), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), project="pmproj")
    sources = set(pm.timeline["source"])
    assert {"store", "audit", "alert"} <= sources, pm.timeline
    assert pm.timeline["what"].str.contains(r"\(applied\)").any()
    assert pm.metrics["status"] == "resolved" and pm.metrics["time to detect"] != "no alert sent"
    out = tmp_path / "site"
    res = report.run_report("postmortem", {"incident": inc["id"].iloc[0], "store_path": str(store_path),
                                           "alerts_db": str(tmp_path / "alerts.sqlite"),
                                           "audit_log": str(tmp_path / "audit.log"), "project": "pmproj"},
                            out, progress=False)
    html = res.html.read_text(encoding="utf-8")
    assert "time to detect" in html and "(applied)" in html and "Action items" in html
    summary = json.loads(res.json.read_text(encoding="utf-8"))
    assert json.dumps(summary).count(inc["id"].iloc[0]) >= 1


def test_postmortem_of_a_time_window(tmp_path):
    from runbook_lib.alerts.outbox import AlertsDB
    db = AlertsDB(tmp_path / "alerts.sqlite")
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    iid = db.open_incident("shop", "db", "down", t0, diagnosis={"cause": "disk full", "fix": "grow the volume"})
    db.mark_sent(iid, t0 + pd.Timedelta(minutes=2))
    db.close_incident(iid, t0 + pd.Timedelta(minutes=10))
    db.close()
    pm = postmortem.build(store_path=str(tmp_path / "none.sqlite3"), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock",
                          start="2026-01-01T02:00:00", end="2026-01-01T04:00:00")
    assert pm.incident["service"] == "db" and pm.metrics["time to detect"] == "2 min 0 s"
    assert any("grow the volume" in item for item in pm.action_items)
    assert any("engine not reachable" in p for p in pm.problems)


def test_snapshot_evidence_shown(tmp_path):
    from runbook_lib.alerts.outbox import AlertsDB
    db = AlertsDB(tmp_path / "alerts.sqlite")
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    db.open_incident("shop", "db", "down", t0, diagnosis={"service": "db", "cause": "disk full", "fix": "grow it",
                                                          "evidence": ["FATAL: could not write: No space left"]})
    inc = db.incidents().iloc[0].to_dict()
    db.close()
    empty = pd.DataFrame(columns=["service", "state", "start", "first_error"])
    pm = postmortem.assemble(inc, intervals=empty, audit=pd.DataFrame(columns=["ts"]),
                             messages=pd.DataFrame(columns=["sent_at", "created_at", "kind", "title", "status"]),
                             events=[], lint=None, dependents={"db": {"api"}}, now=t0 + pd.Timedelta(hours=1))
    assert "No space left" in pm.root_causes["evidence"].iloc[0]
    assert pm.affected["service"].tolist() == ["db", "api"] and pm.metrics["status"] == "open"
