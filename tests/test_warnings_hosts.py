"""`runbook collect --host a=… --host b=…` sends the early warnings of every host, each naming its host."""
from __future__ import annotations

import pandas as pd
import pytest

import dockerenv
from runbook_lib.alerts import Notifier, resolve_targets
from runbook_lib.alerts.early import HostWarnings
from runbook_lib.alerts.outbox import AlertsDB
from runbook_lib.engine.connection import resolve_engine
from runbook_lib.engine.hosts import parse_host
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL
from runbook_lib.history.collect_hosts import collect_hosts_round
from runbook_lib.history.store import open_store
from test_alerts import Webhook


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.stop()


@pytest.mark.timeout(300)
def test_collect_hosts_sends_each_hosts_early_warnings(docker_client, containers, hook, tmp_path):
    project = f"rbwarn{dockerenv.SESSION_ID[:6]}"
    # a slow crash loop: each round runs while the container is up (a stopped one would open an incident,
    # and a service with an open incident gets no warnings)
    c = containers(["sh", "-c", "sleep 8; exit 1"], name="warn-loop", restart_policy={"Name": "always"},
                   labels={PROJECT_LABEL: project, SERVICE_LABEL: "loop"})
    url = resolve_engine().url
    hosts = [parse_host(f"a={url}"), parse_host(f"b={url}")]  # two names for the one test engine
    n = Notifier(targets=resolve_targets([hook.url], {}), db=AlertsDB(tmp_path / "alerts.sqlite"), host="machine",
                 warn_func=lambda: pd.DataFrame())  # what build_notifier gives: the default engine's source
    store = open_store(str(tmp_path / "h.sqlite3"))
    try:
        collect_hosts_round(store, hosts, project=project, engine_timeout_s=30.0, probes=False, notifier=n)
        assert isinstance(n.warn_func, HostWarnings) and set(n.warn_func.sources) == {"a", "b"}
        seen = n.warn_func.sources["a"].inventories[-1]
        first = int(seen.loc[seen["service"] == "loop", "restart_count"].iloc[0])

        def grew() -> bool:
            c.reload()
            return int(c.attrs.get("RestartCount") or 0) > first and c.attrs["State"]["Status"] == "running"
        dockerenv.wait_for(grew, timeout_s=120)
        collect_hosts_round(store, hosts, project=project, engine_timeout_s=30.0, probes=False, notifier=n)
    finally:
        store.close()
    warnings = [m for m in hook.received if m["title"].startswith("WARNING loop: restart_growth")]
    assert sorted(line for m in warnings for line in m["message"].splitlines() if line.startswith("host:")) == \
        ["host: a", "host: b"], (hook.received, n.db.open_incidents().to_dict("records"), n.warn_func())
    keys = {r[0] for r in n.db.con.execute("SELECT key FROM warnings_sent")}
    assert {f"a/{project}/loop/restart_growth", f"b/{project}/loop/restart_growth"} <= keys
