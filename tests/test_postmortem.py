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


# ---------------------------------------------------------------- time to detect from raw samples
def _rounds(store, notifier, raws: list[tuple[int, int]], t0: pd.Timestamp) -> None:
    """Write one sample per (second offset, raw code) and tell the notifier, as the collector does."""
    from runbook_lib.alerts.notify import current_states
    for sec, raw in raws:
        ts = t0 + pd.Timedelta(seconds=sec)
        store.write_states(ts, [{"project": "shop", "service": "api", "raw": raw, "latency_ms": 1.0,
                                 "error": "http: 503" if raw != 1 else None, "started_ts": None}], interval_s=60)
        notifier.on_round(ts, current_states(store.intervals(since=ts - pd.Timedelta(seconds=1), project="shop")))


def test_time_to_detect_runs_from_the_first_raw_failure_to_the_delivered_alert(tmp_path):
    """Raw failure at t0, the state goes down 2 samples later (failure threshold 3), the alert is
    queued then and delivered one round later (the receiver was down): TTD = delivered - t0."""
    from runbook_lib.history import debounce as dbm
    hook = Webhook()
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    n = make(tmp_path, [hook.url])
    try:
        with open_store(tmp_path / "h.sqlite3", thresholds=Thresholds(3, 1)) as s:
            _rounds(s, n, [(-60, dbm.UP), (0, dbm.DOWN), (60, dbm.DOWN)], t0)
            hook.fail = True
            _rounds(s, n, [(120, dbm.DOWN)], t0)  # down after 3 raw failures: alert queued, delivery fails
            hook.fail = False
            _rounds(s, n, [(180, dbm.DOWN), (240, dbm.UP)], t0)  # delivered at +180; recovered at +240
    finally:
        hook.stop()
    inc = n.db.incidents().iloc[0]
    assert inc["first_failure_at"] == t0 + pd.Timedelta(seconds=120)  # the debounced state's start
    pm = postmortem.build(store_path=str(tmp_path / "h.sqlite3"), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock",
                          now=t0 + pd.Timedelta(hours=1))
    assert pm.metrics["first failure"] == t0.isoformat(timespec="seconds")
    assert pm.metrics["state changed"] == (t0 + pd.Timedelta(seconds=120)).isoformat(timespec="seconds")
    assert pm.metrics["first alert"] == (t0 + pd.Timedelta(seconds=180)).isoformat(timespec="seconds")
    assert pm.metrics["time to detect"] == "3 min 0 s"  # alert delivered - first raw failure
    assert pm.metrics["time to recover"] == "4 min 0 s"


def test_time_to_detect_without_raw_samples_falls_back_to_the_state_change(tmp_path):
    from runbook_lib.alerts.outbox import AlertsDB
    db = AlertsDB(tmp_path / "alerts.sqlite")
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    iid = db.open_incident("shop", "db", "down", t0, since=t0 - pd.Timedelta(seconds=30))
    db.mark_sent(iid, t0 + pd.Timedelta(seconds=90))
    inc = db.incidents().iloc[0].to_dict()
    db.close()
    pm = postmortem.assemble(inc, intervals=pd.DataFrame(columns=["service", "state", "start", "first_error"]),
                             audit=pd.DataFrame(columns=["ts"]), messages=pd.DataFrame(), events=[], lint=None,
                             dependents={}, now=t0 + pd.Timedelta(hours=1), samples=None)
    assert pm.metrics["time to detect"] == "2 min 0 s"


# ---------------------------------------------------------------- Docker events from the store
@pytest.mark.docker
def test_kill_between_rounds_in_timeline_after_container_removed(tmp_path, docker_client, containers, test_label):
    """The collector stored the kill; the container and the engine's events are gone (no engine at
    all for the report): the postmortem timeline still shows it, read from the store."""
    c = containers(["sleep", "600"], name="pm-kill", labels={"com.docker.compose.project": "pmkill",
                                                             "com.docker.compose.service": "api"})
    store_path = tmp_path / "history.sqlite3"
    n = make(tmp_path, [])
    now = pd.Timestamp.now(tz="UTC").floor("s")
    with open_store(store_path, thresholds=Thresholds(1, 1, 0.0)) as store:
        def rnd(seconds: int):
            collect_round(store, client=docker_client, label=test_label, probes=False, interval_s=60,
                          ts=now + pd.Timedelta(seconds=seconds), notifier=n)
        rnd(-120)
        c.kill()
        rnd(-60)
        c.remove(force=True)
        rnd(0)
    assert len(n.db.incidents()) == 1
    pm = postmortem.build(store_path=str(store_path), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock",
                          project="pmkill")
    docker = pm.timeline[pm.timeline["source"] == "docker"]
    assert docker["what"].str.startswith("container kill").sum() == 1, pm.timeline
    assert (docker["what"] == "container die").any() and "exit 137" in set(docker["outcome"])
    assert set(docker["service"]) == {"api"}
    assert any("engine not reachable" in p for p in pm.problems)


def test_stored_and_live_events_merged_once():
    t = pd.Timestamp("2026-01-01T03:00:00.123456789Z")
    stored = pd.DataFrame([{"ts": t, "host": "", "project": "p", "service": "api", "container": "p-api-1",
                            "container_id": "abcdefabcdef", "action": "kill", "exit_code": None, "detail": "signal 9"}])
    live = [{"Action": "kill", "timeNano": t.value, "Actor": {"ID": "abcdefabcdef" + "0" * 52, "Attributes": {
                "name": "p-api-1", "signal": "9", "com.docker.compose.service": "api"}}},
            {"Action": "die", "timeNano": t.value + 10**6, "Actor": {"ID": "abcdefabcdef" + "0" * 52, "Attributes": {
                "name": "p-api-1", "exitCode": "137", "com.docker.compose.service": "api"}}}]
    merged = postmortem.merge_events(stored, live)
    assert list(merged["action"]) == ["kill", "die"]
    rows = postmortem.event_rows(merged)
    assert list(rows["what"]) == ["container kill: signal 9", "container die"] and rows["outcome"].iloc[1] == "exit 137"


# ---------------------------------------------------------------- the full diagnosis snapshot
def test_full_diagnosis_snapshot_stored_masked_capped_and_rendered(tmp_path):
    from runbook_lib.alerts.snapshot import MAX_BYTES, build_snapshot
    hook = Webhook()
    canary = "canary-Secr3t-77aa"
    causes = [{"service": "db", "category": "auth", "cause": "password authentication failed",
               "fix": "set POSTGRES_PASSWORD", "severity": "critical", "blocks": ["api", "web"],
               "evidence": [f"FATAL line {i}: password={canary}" for i in range(60)]},
              {"service": "cache", "category": "config", "cause": "bad maxmemory", "fix": "set maxmemory 1gb",
               "severity": "high", "blocks": ["worker"], "evidence": ["redis: invalid maxmemory"]}]
    n = make(tmp_path, [hook.url], diagnose=lambda: causes)
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    try:
        n.on_round(t0, pd.DataFrame([{"project": "shop", "service": "api", "state": "down", "start": t0}]))
    finally:
        hook.stop()
    inc = n.db.with_snapshot(n.db.incidents().iloc[0].to_dict())
    assert canary not in inc["diagnosis"] and canary not in json.dumps(inc["snapshot"])
    snap = inc["snapshot"]
    assert [r["service"] for r in snap["root_causes"]] == ["db", "cache"] and snap["blocked"] == ["api", "web", "worker"]
    assert len(snap["root_causes"][0]["evidence"]) == 60 and not snap["truncated"]  # every line, not 20
    pm = postmortem.assemble(inc, intervals=pd.DataFrame(columns=["service", "state", "start", "first_error"]),
                             audit=pd.DataFrame(columns=["ts"]), messages=pd.DataFrame(), events=[], lint=None,
                             dependents={}, now=t0 + pd.Timedelta(hours=1))
    roots = pm.root_causes.set_index("service")
    assert list(pm.root_causes["service"]) == ["db", "cache"]  # api is blocked by db: its cause first
    assert "FATAL line 59" in roots.loc["db", "evidence"] and roots.loc["cache", "fix"] == "set maxmemory 1gb"
    assert pm.blocked == ["api", "web", "worker"] and pm.snapshot_note.startswith("diagnosed at 2026-01-01")
    # the cap: 600 KB of evidence keeps under 256 KB with a marker saying what was dropped
    big = [{**causes[0], "evidence": [f"line {i} " + "x" * 1000 for i in range(600)]}, causes[1]]
    capped = build_snapshot(big, t0)
    assert len(json.dumps(capped).encode()) <= MAX_BYTES and capped["truncated"]
    ev = capped["root_causes"][0]["evidence"]
    assert ev[0].startswith("line 0 ") and "snapshot truncated at 256 KB" in ev[-1] and "dropped" in ev[-1]
    assert capped["root_causes"][1]["evidence"] == ["redis: invalid maxmemory"]  # short lists kept whole
    res = report.run_report("postmortem", {"store_path": str(tmp_path / "none.sqlite3"),
                                           "alerts_db": str(tmp_path / "alerts.sqlite"),
                                           "audit_log": str(tmp_path / "audit.log"),
                                           "engine_url": "unix:///nonexistent.sock"},
                            tmp_path / "site", progress=False)
    html = res.html.read_text(encoding="utf-8")
    assert "FATAL line 0" in html and "FATAL line 59" in html and "set maxmemory 1gb" in html
    assert "3 service(s) only blocked: api, web, worker" in html and canary not in html


def test_diagnose_func_keeps_every_evidence_line_of_every_root_cause(monkeypatch):
    """The snapshot source: all evidence lines of all root-cause findings of a service, not a summary."""
    from types import SimpleNamespace

    from runbook_lib.alerts import notify as nmod
    from runbook_lib.analysis.diagnosis import FINDING_COLUMNS
    rows = [{c: None for c in FINDING_COLUMNS} | {"service": "db", "category": "auth", "cause": "auth failed",
                                                  "fix": "set the password", "severity": "critical", "root_cause": True,
                                                  "blocks": ["api"], "evidence": [f"a{i}" for i in range(40)]},
            {c: None for c in FINDING_COLUMNS} | {"service": "db", "category": "disk", "cause": "disk full",
                                                  "fix": "grow it", "severity": "high", "root_cause": True,
                                                  "blocks": [], "evidence": ["b0", "a0"]},
            {c: None for c in FINDING_COLUMNS} | {"service": "api", "category": "blocked", "cause": "waits on db",
                                                  "fix": "", "severity": "medium", "root_cause": False,
                                                  "blocks": [], "evidence": ["not a root cause"]}]
    monkeypatch.setattr(nmod, "gather", lambda *a, **k: SimpleNamespace(client=None))
    monkeypatch.setattr(nmod, "run_diagnosis", lambda *a, **k: SimpleNamespace(findings=pd.DataFrame(rows)))
    causes = nmod.diagnose_func()()
    assert [c["service"] for c in causes] == ["db"] and causes[0]["blocks"] == ["api"]
    assert causes[0]["evidence"] == [f"a{i}" for i in range(40)] + ["b0"]


# ---------------------------------------------------------------- the window form: raw-sample TTD per service
def test_window_postmortem_times_each_service_from_its_first_raw_failure(tmp_path):
    """Two services fail (failure threshold 3, one sample a minute): the window form times each from
    its first raw failure sample to its first delivered alert, not from the debounced state change."""
    from runbook_lib.alerts.notify import current_states
    from runbook_lib.history import debounce as dbm
    hook = Webhook()
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    n = make(tmp_path, [hook.url], storm_min=10)
    plan = {"api": [1, 0, 0, 0, 0, 1, 1], "worker": [1, 1, 0, 0, 0, 0, 0]}  # 0: raw down, 1: up
    try:
        with open_store(tmp_path / "h.sqlite3", thresholds=Thresholds(3, 1)) as s:
            for i in range(7):
                ts = t0 + pd.Timedelta(minutes=i)
                for svc, raws in plan.items():
                    raw = dbm.UP if raws[i] else dbm.DOWN
                    s.write_states(ts, [{"project": "shop", "service": svc, "raw": raw, "latency_ms": 1.0,
                                         "error": None if raws[i] else "http: 503", "started_ts": None}])
                n.on_round(ts, current_states(s.intervals(since=ts - pd.Timedelta(seconds=1), project="shop")))
    finally:
        hook.stop()
    assert sorted(m["title"] for m in hook.received) == ["DOWN api", "DOWN worker", "RECOVERED api"]
    pm = postmortem.build(store_path=str(tmp_path / "h.sqlite3"), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock",
                          start="2026-01-01T02:00:00Z", end="2026-01-01T04:00:00Z", now=t0 + pd.Timedelta(hours=2))
    per = pm.timings.set_index("service")
    # api: raw failure at +1 min, state down at +3 (3rd failure), alert delivered at +3: TTD 2 min; up at +5
    assert per.loc["api", "first failure"] == (t0 + pd.Timedelta(minutes=1)).isoformat(timespec="seconds")
    assert per.loc["api", "state changed"] == (t0 + pd.Timedelta(minutes=3)).isoformat(timespec="seconds")
    assert per.loc["api", "time to detect"] == "2 min 0 s" and per.loc["api", "time to recover"] == "4 min 0 s"
    # worker: raw failure at +2, state down and alert at +4: TTD 2 min; still open
    assert per.loc["worker", "time to detect"] == "2 min 0 s" and per.loc["worker", "time to recover"] == "still open"
    # overall: from the first raw failure of any service (api, +1) to the first alert (+3)
    assert pm.metrics["first failure"] == (t0 + pd.Timedelta(minutes=1)).isoformat(timespec="seconds")
    assert pm.metrics["time to detect"] == "2 min 0 s" and pm.metrics["status"] == "open"
    assert set(pm.affected.loc[pm.affected["role"] == "failed", "service"]) == {"api", "worker"}


# ---------------------------------------------------------------- one snapshot per round, shared by a storm
def test_storm_of_30_stores_one_snapshot_and_every_postmortem_renders_it(tmp_path):
    import sqlite3
    hook = Webhook()
    failed = [f"svc{i:02d}" for i in range(29)]
    causes = [{"service": "db", "category": "disk", "cause": "disk full", "fix": "grow the volume",
               "severity": "critical", "blocks": failed, "evidence": [f"FATAL no space left {i}" for i in range(50)]}]
    n = make(tmp_path, [hook.url], diagnose=lambda: causes)
    t0 = pd.Timestamp("2026-01-01T03:00:00Z")
    try:
        n.on_round(t0, pd.DataFrame([{"project": "shop", "service": s, "state": "down", "start": t0}
                                     for s in ["db", *failed]]))
    finally:
        hook.stop()
    assert [m["title"] for m in hook.received] == ["STORM: 30 services down"]
    con = sqlite3.connect(tmp_path / "alerts.sqlite")
    try:
        assert con.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1
        assert con.execute("SELECT COUNT(*), COUNT(DISTINCT snapshot_id) FROM incidents").fetchone() == (30, 1)
        assert con.execute("SELECT COUNT(*) FROM incidents WHERE diagnosis LIKE '%no space left%'").fetchone()[0] == 0
    finally:
        con.close()
    for iid in n.db.incidents()["id"]:
        pm = postmortem.build(iid, store_path=str(tmp_path / "none.sqlite3"), alerts_db=str(tmp_path / "alerts.sqlite"),
                              audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock")
        assert pm.root_causes["service"].iloc[0] == "db", iid
        assert "FATAL no space left 49" in pm.root_causes["evidence"].iloc[0] and len(pm.blocked) == 29
    res = report.run_report("postmortem", {"incident": n.db.incidents()["id"].iloc[-1],
                                           "store_path": str(tmp_path / "none.sqlite3"),
                                           "alerts_db": str(tmp_path / "alerts.sqlite"),
                                           "audit_log": str(tmp_path / "audit.log"),
                                           "engine_url": "unix:///nonexistent.sock"}, tmp_path / "site", progress=False)
    html = res.html.read_text(encoding="utf-8")
    assert "FATAL no space left 0" in html and "grow the volume" in html


def test_alerts_db_of_schema_1_migrates_and_its_inline_snapshots_stay_readable(tmp_path):
    """An alerts file written before snapshots were shared (no user_version, snapshot inside diagnosis)."""
    import sqlite3

    from runbook_lib.alerts import outbox
    path = tmp_path / "alerts.sqlite"
    con = sqlite3.connect(path)
    con.executescript(outbox.MIGRATIONS[0][1])
    snap = {"taken_at": "2026-01-01T03:00:00+00:00", "truncated": False, "blocked": ["api"],
            "root_causes": [{"service": "db", "cause": "disk full", "fix": "grow it", "blocks": ["api"],
                             "evidence": ["FATAL old inline evidence"]}]}
    con.execute("INSERT INTO incidents (id, project, service, state, opened_at, first_failure_at, root_cause, fix, "
                "diagnosis) VALUES ('old-1', 'shop', 'api', 'down', 1767236400, 1767236400, 'blocked', 'grow it', ?)",
                (json.dumps({"service": "db", "snapshot": snap}),))
    con.commit()
    con.close()
    db = outbox.AlertsDB(path)
    assert db.version == outbox.SCHEMA_VERSION == 3  # schema 3: incidents.host (issue 12)
    inc = db.with_snapshot(db.incidents().iloc[0].to_dict())
    assert inc["snapshot"] is None and pd.isna(inc["snapshot_id"])
    db.close()
    assert outbox.AlertsDB(path).version == 3  # reopening applies nothing twice
    pm = postmortem.build("old-1", store_path=str(tmp_path / "none.sqlite3"), alerts_db=str(path),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock")
    assert "FATAL old inline evidence" in pm.root_causes["evidence"].iloc[0] and pm.blocked == ["api"]
