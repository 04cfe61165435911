"""`runbook collect --host ...`: one round gathers every host, rows name their host, a lost host is unknown.

The real local engine is named twice (a, b) so the same project runs "on two hosts"; host c
is a symlink to the same socket that is removed between rounds (a host that goes away).
"""
from __future__ import annotations

import os

import pandas as pd
import pytest

import dockerenv
from runbook_lib.alerts import Notifier, resolve_targets
from runbook_lib.alerts.outbox import AlertsDB
from runbook_lib.cli import main
from runbook_lib.engine.hosts import parse_host
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL
from runbook_lib.history import debounce as db
from runbook_lib.history import store as st
from runbook_lib.history.collect_hosts import collect_hosts_round
from test_alerts import Webhook

T0 = pd.Timestamp("2026-11-20T00:00:00Z")
SOCKET = "/var/run/docker.sock"


@pytest.fixture
def project(containers) -> str:
    name = f"rbhcol{dockerenv.SESSION_ID[:6]}"
    containers(["sleep", "3600"], name="colweb", labels={PROJECT_LABEL: name, SERVICE_LABEL: "web"},
               network_mode="none")
    worker = containers(["sh", "-c", "exit 3"], name="colworker", labels={PROJECT_LABEL: name, SERVICE_LABEL: "worker"},
                        network_mode="none")
    worker.wait(timeout=60)
    return name


@pytest.mark.docker
def test_collect_hosts_rows_carry_host_and_lost_host_is_unknown(docker_client, project, tmp_path):
    link = tmp_path / "c.sock"
    os.symlink(SOCKET, link)
    hosts = [parse_host(f"a=unix://{SOCKET}"), parse_host(f"b=unix://{SOCKET}"), parse_host(f"c=unix://{link}")]
    with st.open_store(tmp_path / "h.sqlite3", thresholds=db.Thresholds(1, 1)) as s:
        res = collect_hosts_round(s, hosts, project=project, interval_s=60, ts=T0, engine_timeout_s=10)
        assert res.engine_ok and res.services == 6, res.notes
        link.unlink()  # host c goes away; a and b go on
        res = collect_hosts_round(s, hosts, project=project, interval_s=60, ts=T0 + pd.Timedelta(minutes=1),
                                  engine_timeout_s=10)
        assert not res.engine_ok and res.services == 6
        assert any("host(s) unreachable: c" in n for n in res.notes), res.notes
        svc = s.services()
        assert sorted(zip(svc["host"], svc["service"])) == [(h, w) for h in "abc" for w in ("web", "worker")]
        smp = s.samples()
        last = smp[smp["ts"] == smp["ts"].max()].set_index(["host", "service"])
        assert last.loc[("a", "web"), "state"] == "up" and last.loc[("b", "web"), "state"] == "up"
        assert last.loc[("a", "worker"), "raw_state"] == "stopped"
        assert set(last.loc["c", "state"]) == {"unknown"}
        assert all("host c unreachable" in str(e) for e in last.loc["c", "error"])


@pytest.mark.docker
def test_collect_cli_with_hosts_writes_host_names(docker_client, project, tmp_path, capsys):
    store_path = tmp_path / "cli.sqlite3"
    code = main(["collect", "--host", f"a=unix://{SOCKET}", "--host", "gone=unix:///nonexistent/docker.sock",
                 "--project", project, "--count", "1", "--interval", "1", "--store", str(store_path)])
    out = capsys.readouterr().out
    assert code == 0 and "hosts a=unix:///var/run/docker.sock, gone=" in out and "engine UNREACHABLE" in out
    with st.open_store(store_path, readonly=True) as s:
        assert set(s.services()["host"]) == {"a"}
        assert set(s.samples()["host"]) == {"a"}


@pytest.mark.docker
def test_collect_hosts_records_events_and_alerts_per_host(docker_client, project, tmp_path):
    """Each host's Docker events are stored with its host; the stopped worker is one incident per host."""
    hook = Webhook()
    try:
        notifier = Notifier(targets=resolve_targets([hook.url], {}), db=AlertsDB(tmp_path / "alerts.sqlite"),
                            host="machine")
        hosts = [parse_host(f"a=unix://{SOCKET}"), parse_host(f"b=unix://{SOCKET}")]
        with st.open_store(tmp_path / "ev.sqlite3", thresholds=db.Thresholds(1, 1)) as s:
            res = collect_hosts_round(s, hosts, project=project, interval_s=900, ts=T0, engine_timeout_s=10,
                                      notifier=notifier)
            assert res.engine_ok, res.notes
            ev = s.events()
        assert len(ev) and set(ev["host"]) <= {"a", "b"} and "a" in set(ev["host"]), ev
        assert ((ev["service"] == "worker") & (ev["action"] == "die")).any(), ev
        inc = notifier.db.open_incidents()
        assert sorted(zip(inc["host"], inc["service"])) == [("a", "worker"), ("b", "worker")]
        assert sorted(notifier.host_diagnose) == ["a", "b"]
        bodies = sorted(m["message"] for m in hook.received)
        assert len(bodies) == 2 and "host: a" in bodies[0] and "host: b" in bodies[1], bodies
    finally:
        hook.stop()
