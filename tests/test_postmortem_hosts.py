"""The postmortem of an incident on a named engine host reads that host's samples, state changes and events."""
from __future__ import annotations

import pandas as pd

from runbook_lib.alerts.outbox import AlertsDB
from runbook_lib.history import debounce as dbm
from runbook_lib.history.debounce import Thresholds
from runbook_lib.history.store import open_store
from runbook_lib.reports import postmortem

T0 = pd.Timestamp("2026-01-01T03:00:00Z")


def _sample(host: str, raw: int) -> dict:
    return {"host": host, "project": "shop", "service": "api", "raw": raw, "latency_ms": 1.0,
            "error": None if raw == dbm.UP else f"http: 503 on {host}", "started_ts": None}


def test_incident_on_host_a_is_timed_from_host_a_samples_only(tmp_path):
    store_path = tmp_path / "h.sqlite3"
    with open_store(store_path, thresholds=Thresholds(3, 1)) as s:
        for sec in range(-270, 181, 60):  # host b: api down all along, sampled 30 s after host a's rounds
            s.write_states(T0 + pd.Timedelta(seconds=sec), [_sample("b", dbm.DOWN)], interval_s=60, mark_missing=False)
        for sec, raw in ((-60, dbm.UP), (0, dbm.DOWN), (60, dbm.DOWN), (120, dbm.DOWN)):
            s.write_states(T0 + pd.Timedelta(seconds=sec), [_sample("a", raw)], interval_s=60, mark_missing=False)
        events = [{"ts": T0 + pd.Timedelta(seconds=s_), "host": h, "project": "shop", "service": "api",
                   "container": f"shop-api-1-{h}", "container_id": f"{h * 12}", "action": "die", "exit_code": 3,
                   "detail": ""} for h, s_ in (("a", 0), ("b", -240))]
        s.write_events(events)
    db = AlertsDB(tmp_path / "alerts.sqlite")
    iid = db.open_incident("shop", "api", "down", T0 + pd.Timedelta(seconds=120), host="a",
                           since=T0 + pd.Timedelta(seconds=120))
    db.close()
    pm = postmortem.build(iid, store_path=str(store_path), alerts_db=str(tmp_path / "alerts.sqlite"),
                          audit_log=str(tmp_path / "audit.log"), engine_url="unix:///nonexistent.sock",
                          now=T0 + pd.Timedelta(hours=1))
    assert pm.metrics["first failure"] == T0.isoformat(timespec="seconds")  # host b failed earlier: not this one
    assert list(pm.timings["host"]) == ["a"]
    shown = " ".join(str(v) for c in ("what", "outcome") for v in pm.timeline[c])
    assert "on a" in shown and "on b" not in shown  # host b's state changes stay out of the timeline
    docker = pm.timeline[pm.timeline["source"] == "docker"]
    assert list(docker["ts"]) == [T0]  # host a's die event only


def test_on_hosts_and_incident_hosts_pure():
    frame = pd.DataFrame({"host": ["a", "b", ""], "v": [1, 2, 3]})
    assert list(postmortem.on_hosts(frame, {"a"})["v"]) == [1]
    assert postmortem.on_hosts(frame, None) is frame
    assert postmortem.incident_hosts({"host": "", "state": "down"}) is None
    assert postmortem.incident_hosts({"state": "window", "members": [{"host": "a"}, {"host": "b"}]}) == {"a", "b"}
