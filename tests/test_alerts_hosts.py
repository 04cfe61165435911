"""Issue 12 x 13: the same service on two engine hosts is two incidents, each message naming its host."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from runbook_lib.alerts import Notifier, resolve_targets
from runbook_lib.alerts.notify import current_states
from runbook_lib.alerts.outbox import _SCHEMA, _V2, SCHEMA_VERSION, AlertsDB, migrate
from runbook_lib.alerts.targets import Target
from runbook_lib.reports.postmortem import member_timings, timing_table
from test_alerts import T0, Webhook, t


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.stop()


def hstates(rows: list[tuple[str, str, str]], project: str = "shop") -> pd.DataFrame:
    return pd.DataFrame([{"host": h, "project": project, "service": s, "state": st, "start": T0} for h, s, st in rows])


def make(tmp_path, targets, **kw) -> Notifier:
    return Notifier(targets=targets, db=AlertsDB(tmp_path / "alerts.sqlite"), host="machine", **kw)


def test_same_service_on_two_hosts_two_incidents_and_recovery_per_host(tmp_path, hook):
    n = make(tmp_path, resolve_targets([hook.url], {}))
    n.on_round(t(0), hstates([("a", "api", "up"), ("b", "api", "up")]))
    n.on_round(t(1), hstates([("a", "api", "down"), ("b", "api", "down")]))
    assert len(hook.received) == 2
    bodies = sorted(m["message"] for m in hook.received)
    assert "host: a" in bodies[0] and "host: b" in bodies[1] and "machine" not in "".join(bodies)
    inc = n.db.open_incidents()
    assert sorted(inc["host"]) == ["a", "b"] and inc["id"].nunique() == 2
    assert all(f"-{h}-shop-api" in i for h, i in zip(inc["host"], inc["id"]))
    n.on_round(t(2), hstates([("a", "api", "up"), ("b", "api", "down")]))  # a recovers, b stays down
    assert len(hook.received) == 3
    rec = hook.received[2]
    assert "RECOVERED" in rec["title"] and "host: a" in rec["message"]
    still = n.db.open_incidents()
    assert list(still["host"]) == ["b"]


def test_root_cause_of_host_a_never_attached_to_host_b(tmp_path, hook):
    causes_a = [{"service": "db", "cause": "disk full on a", "fix": "free space", "blocks": ["api"]}]
    n = make(tmp_path, resolve_targets([hook.url], {}), host_diagnose={"a": lambda: causes_a})
    n.on_round(t(0), hstates([("a", "api", "down"), ("b", "api", "down")]))
    by_host = {("host: a" in m["message"]): m["message"] for m in hook.received}
    assert "disk full on a" in by_host[True] and "disk full on a" not in by_host[False]
    inc = n.db.open_incidents().set_index("host")
    assert "disk full" in inc.loc["a", "root_cause"] and pd.isna(inc.loc["b", "root_cause"])


def test_storm_over_two_hosts_names_host_and_service(tmp_path, hook):
    n = make(tmp_path, resolve_targets([hook.url], {}), storm_min=3)
    n.on_round(t(0), hstates([("a", "api", "down"), ("b", "api", "down"), ("b", "db", "down")]))
    assert len(hook.received) == 1
    body = hook.received[0]["message"]
    assert "on hosts a, b" in body and "a · api" in body and "b · db" in body, body


def test_target_host_filter_gets_engine_host(tmp_path, hook):
    other = Webhook()
    try:
        targets = [Target(url=hook.url, host="a"), Target(url=other.url, host="b")]
        n = make(tmp_path, targets)
        n.on_round(t(0), hstates([("a", "api", "down")]))
        assert len(hook.received) == 1 and other.received == []
    finally:
        other.stop()


def test_current_states_keeps_the_host():
    iv = pd.DataFrame([{"host": h, "project": "p", "service": "api", "state": s, "start": T0 + pd.Timedelta(minutes=m)}
                       for h, s, m in (("a", "up", 0), ("a", "down", 1), ("b", "up", 0), (None, "down", 0))])
    cur = current_states(iv).set_index("host")
    assert cur.loc["a", "state"] == "down" and cur.loc["b", "state"] == "up" and cur.loc["", "state"] == "down"
    assert list(current_states(iv.drop(columns="host")).columns) == ["project", "service", "state", "start"]


def test_schema_2_alerts_file_upgrades_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(str(path), isolation_level=None)
    assert migrate(con, [(1, _SCHEMA), (2, _V2)]) == 2
    con.execute("INSERT INTO incidents (id, project, service, state, opened_at) "
                "VALUES ('20260101T000000-shop-api', 'shop', 'api', 'down', 1)")
    con.close()
    db = AlertsDB(path)
    assert db.version == SCHEMA_VERSION == 3
    old = db.incidents().iloc[0]
    assert old["host"] == "" and old["id"] == "20260101T000000-shop-api"
    assert db.open_incident("shop", "api", "down", T0) == "20260101T000000-shop-api"  # old id format for ''
    assert db.open_incident("shop", "api", "down", T0, host="b") == "20260101T000000-b-shop-api"
    db.close()
    assert AlertsDB(path).version == 3  # reopening applies nothing twice


def test_postmortem_timings_show_host_only_when_any():
    member = {"id": "x", "service": "api", "opened_at": T0, "first_failure_at": T0, "closed_at": None}
    plain = timing_table([member_timings(member, None, pd.DataFrame())])
    assert "host" not in plain.columns
    hosted = timing_table([member_timings({**member, "host": "a"}, None, pd.DataFrame())])
    assert list(hosted.columns)[:2] == ["host", "service"] and hosted["host"].iloc[0] == "a"


def test_maintenance_on_one_host_silences_only_that_host(tmp_path, hook, monkeypatch):
    """`maintenance start --service api --host a`: host a's api is quiet, host b's api still alerts."""
    from runbook_lib.cli.notify import build_notifier
    from runbook_lib.config import RunbookConfig
    from runbook_lib.maintenance import MaintenanceDB
    monkeypatch.setenv("RUNBOOK_MAINTENANCE_DB", str(tmp_path / "maintenance.json"))
    monkeypatch.setenv("RUNBOOK_ALERTS_DB", str(tmp_path / "alerts.sqlite"))
    MaintenanceDB().start(["api"], duration="2h", reason="upgrade on a", host="a", now=t(0) - pd.Timedelta(minutes=1))
    args = type("A", (), {"notify": [hook.url], "engine_url": None, "project": None, "compose": []})()
    n = build_notifier(args, RunbookConfig(), store_path=str(tmp_path / "h.sqlite3"))
    n.diagnose = None
    n.warn_func = None
    assert n.suppressed("shop", "api", t(1), "a") and not n.suppressed("shop", "api", t(1), "b")
    n.on_round(t(1), hstates([("a", "api", "down"), ("b", "api", "down")]))
    assert len(hook.received) == 1 and "host: b" in hook.received[0]["message"]
    assert list(n.db.open_incidents()["host"]) == ["b"]
