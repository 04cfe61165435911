"""Inventory and KPIs on containers the test creates on the real engine."""
from __future__ import annotations

import uuid

import pandas as pd
import pytest

from dockerenv import wait_for
from runbook_lib.engine import inventory, inventory_rows
from runbook_lib.analysis import kpis
from runbook_lib.redact import MASK

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(docker_client, busybox_image, test_label):
    """healthy, unhealthy, exited 3, restarting, OOM-killed, created: one compose project."""
    project = f"inv-{uuid.uuid4().hex[:8]}"
    key, val = test_label.split("=", 1)
    made = []

    def run(service, command, create_only=False, **kw):
        labels = {key: val, "com.docker.compose.project": project, "com.docker.compose.service": service}
        labels.update(kw.pop("labels", {}))
        fn = docker_client.containers.create if create_only else docker_client.containers.run
        c = fn(busybox_image, command, labels=labels, detach=True, name=f"{project}-{service}", **kw)
        made.append(c)
        return c

    hc_ok = {"test": ["CMD", "true"], "interval": 500_000_000, "retries": 1}
    hc_bad = {"test": ["CMD-SHELL", "echo 'db said: '$DB_PASSWORD; exit 1"], "interval": 500_000_000, "retries": 1}
    run("db", ["sleep", "600"], healthcheck=hc_ok, ports={"5432/tcp": ("127.0.0.1", None)},
        environment={"DB_PASSWORD": "inv-canary-7731"})
    run("api", ["sleep", "600"], healthcheck=hc_bad, environment={"DB_PASSWORD": "inv-canary-7731"})
    run("worker", ["sh", "-c", "exit 3"])
    run("flappy", ["sh", "-c", "sleep 0.2; exit 1"], restart_policy={"Name": "always"})
    run("hog", ["sh", "-c", 'a=$(head -c 200000000 /dev/zero | tr "\\0" a)'], mem_limit="16m", memswap_limit="16m")
    run("later", ["sleep", "600"], create_only=True)

    def settled():
        inv = inventory.gather_inventory(docker_client, project=project)
        rows = inv.set_index("service")
        return (len(inv) == 6 and rows.loc["db", "health"] == "healthy" and rows.loc["api", "health"] == "unhealthy"
                and rows.loc["worker", "state"] == "exited" and rows.loc["hog", "state"] == "exited"
                and bool(rows.loc["hog", "oom_killed"])  # the engine may record the OOM after the exit
                and rows.loc["flappy", "restart_count"] >= 1) and [inv]
    inv = wait_for(settled, timeout_s=60, interval_s=0.5)[0]
    yield project, inv
    for c in made:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001
            pass


def test_fields(stack):
    project, inv = stack
    assert set(inventory.COLUMNS) <= set(inv.columns)
    rows = inv.set_index("service")
    assert (inv["project"] == project).all()
    db = rows.loc["db"]
    assert db["state"] == "running" and db["health"] == "healthy" and db["has_healthcheck"]
    assert db["uptime_s"] >= 0 and db["started_at"].tzinfo is not None and db["created_at"].tzinfo is not None
    assert db["published_ports"][0]["host_ip"] == "127.0.0.1" and db["published_ports"][0]["container_port"] == 5432
    assert "->5432/tcp" in db["ports"] and "bridge" in db["networks"]
    api = rows.loc["api"]
    assert api["health"] == "unhealthy" and api["failing_streak"] >= 1
    assert "db said" in api["health_output"] and "inv-canary-7731" not in api["health_output"]
    assert MASK in api["health_output"]
    worker = rows.loc["worker"]
    assert worker["state"] == "exited" and worker["exit_code"] == 3 and not worker["oom_killed"]
    assert worker["finished_at"] is not None and pd.isna(worker["uptime_s"])
    hog = rows.loc["hog"]
    assert hog["oom_killed"] and hog["exit_code"] == 137
    assert rows.loc["flappy"]["restart_count"] >= 1 and rows.loc["flappy"]["restart_policy"] == "always"
    assert rows.loc["later"]["state"] == "created"


def test_kpis(stack):
    _, inv = stack
    k = kpis.summary_kpis(inv)
    assert k["containers"] == 6
    assert k["with_healthcheck"] == 2 and k["healthy"] == 1 and k["passing_pct"] == 50.0
    assert k["exited_nonzero"] >= 2 and k["oom_killed"] == 1
    assert k["restarts"] >= 1
    by = kpis.kpis_by_project(inv)
    assert list(by["project"]) == [stack[0]] and by.iloc[0]["containers"] == 6
    assert "health checks passing 1/2 (50%)" in kpis.headline(k)


def test_include_stopped_false(docker_client, stack):
    project, _ = stack
    inv = inventory.gather_inventory(docker_client, project=project, include_stopped=False)
    assert set(inv["state"]) <= {"running", "restarting"}
    assert "db" in set(inv["service"]) and "worker" not in set(inv["service"])


def test_project_filter_excludes_others(docker_client, stack, containers):
    containers(["sleep", "60"], labels={"com.docker.compose.project": "someone-else"})
    project, _ = stack
    inv = inventory.gather_inventory(docker_client, project=project)
    assert set(inv["project"]) == {project}


@pytest.mark.parametrize("fast", [True, False])
def test_container_removed_mid_listing_is_skipped(docker_client, containers, test_label, fast):
    """The container vanishes between the list call and its inspect: skipped with a note."""
    from runbook_lib.engine.connection import engine_http
    keep = containers(["sleep", "60"])
    gone = containers(["sleep", "60"])
    lean = engine_http(docker_client)
    real_get, real_inspect = lean.get_json, docker_client.api.inspect_container

    def racing_get(path, params=None):  # the list call answers, then the container goes before its inspect
        answer = real_get(path, params)
        if path == "/containers/json":
            docker_client.api.remove_container(gone.id, force=True)
        return answer

    def racing_inspect(cid):
        if cid == gone.id:
            docker_client.api.remove_container(gone.id, force=True)
        return real_inspect(cid)
    lean.get_json, docker_client.api.inspect_container = racing_get, racing_inspect
    try:
        inv = inventory.gather_inventory(docker_client, label=test_label, fast=fast)
    finally:
        del lean.get_json, docker_client.api.inspect_container
    assert keep.id[:12] in set(inv["id"]) and gone.id[:12] not in set(inv["id"])
    assert any("removed while listing" in n for n in inv.attrs["notes"])


def test_fast_and_docker_py_paths_agree(docker_client, stack):
    project, _ = stack
    a = inventory.gather_inventory(docker_client, project=project, fast=True)
    b = inventory.gather_inventory(docker_client, project=project, fast=False)
    cols = ["service", "state", "health", "exit_code", "oom_killed", "ports", "image"]
    # "flappy" restarts every 0.2 s, so its state may change between the two gatherings:
    # its lasting fields are compared, the others' every field.
    steady = ~a["service"].eq("flappy")
    assert a.loc[steady, cols].astype(str).reset_index(drop=True).equals(
        b.loc[~b["service"].eq("flappy"), cols].astype(str).reset_index(drop=True))
    lasting = ["service", "image", "restart_policy"]
    assert a.loc[~steady, lasting].astype(str).reset_index(drop=True).equals(
        b.loc[b["service"].eq("flappy"), lasting].astype(str).reset_index(drop=True))
    assert (~steady).sum() == 1


def test_empty_inventory_kpis():
    k = kpis.summary_kpis(inventory.empty_inventory())
    assert k["containers"] == 0 and k["running_pct"] is None and k["passing_pct"] is None


def test_status_table_worst_first(stack):
    _, inv = stack
    t = inventory.status_table(inv)
    assert t.iloc[0]["state"] in ("exited", "dead")
    assert t.iloc[-1]["state"] in ("running", "created")


def test_many_stopped_containers_do_not_stall_a_project_run(docker_client, busybox_image, test_label, monkeypatch):
    """Hundreds of stopped containers of other projects: the filter runs in the engine, so a run
    for one project inspects only that project's containers."""
    from runbook_lib.engine.connection import engine_http
    key, val = test_label.split("=", 1)
    mine = f"mine-{uuid.uuid4().hex[:8]}"
    made = []
    try:
        for i in range(150):
            made.append(docker_client.api.create_container(
                busybox_image, ["true"], labels={key: val, "com.docker.compose.project": f"other-{i % 7}"})["Id"])
        for svc in ("db", "api"):
            made.append(docker_client.api.create_container(
                busybox_image, ["true"], labels={key: val, "com.docker.compose.project": mine,
                                                 "com.docker.compose.service": svc})["Id"])
        lean = engine_http(docker_client)
        calls = []
        real_get, real_many = lean.get_json, inventory_rows.get_many

        def counting_get(path, params=None):
            calls.append(path)
            return real_get(path, params)

        def counting_many(http, paths):
            calls.extend(paths)
            return real_many(http, paths)
        lean.get_json = counting_get
        monkeypatch.setattr(inventory_rows, "get_many", counting_many)
        try:
            inv = inventory.gather_inventory(docker_client, project=mine)
        finally:
            del lean.get_json
        assert sorted(inv["service"]) == ["api", "db"]
        assert len([c for c in calls if c.endswith("/json") and "/containers/json" not in c]) == 2
    finally:
        for cid in made:
            docker_client.api.remove_container(cid, force=True)
