"""The demo stack on the real engine: shapes, states, labels, idempotence, safe teardown."""
from __future__ import annotations

import random
import uuid

import httpx
import pytest
import yaml

from runbook_lib import demo
from runbook_lib.exceptions import RunbookError
from runbook_lib.inventory import PROJECT_LABEL


def free_port_base() -> int:
    """A port base whose demo ports are all free on 127.0.0.1 (parallel runs pick different ones)."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 1000)
        if all(demo._port_free(demo.host_port(s, base)) for s in demo.SERVICES):
            return base
    raise RuntimeError("no free port range for the demo")


@pytest.fixture(scope="module")
def demo_stack(docker_client, test_label, tmp_path_factory):
    """A demo project with a unique name, torn down even when tests fail."""
    key, val = test_label.split("=", 1)
    project = f"demo-{uuid.uuid4().hex[:8]}"
    base = free_port_base()
    cfg = tmp_path_factory.mktemp("demo") / "docker-compose.yml"
    try:
        inv = demo.demo_up(docker_client, project=project, port_base=base, compose_file=cfg,
                           extra_labels={key: val}, settle_s=40)
        yield {"project": project, "base": base, "inv": inv, "cfg": cfg}
    finally:
        demo.demo_down(docker_client, project=project)


def by_service(inv):
    return {r["service"]: r for _, r in inv.iterrows()}


def test_demo_states_cover_each_failure_kind(demo_stack):
    rows = by_service(demo_stack["inv"])
    assert set(rows) == {s.name for s in demo.SERVICES}
    assert rows["master-data"]["health"] == "healthy"
    assert rows["postgres"]["health"] == "healthy"
    assert rows["api-gateway"]["health"] == "unhealthy"
    assert rows["rules-engine"]["health"] == "unhealthy"
    assert "curl: not found" in rows["rules-engine"]["health_output"]
    assert rows["auth"]["state"] == "exited" and rows["auth"]["exit_code"] == 1
    assert rows["notification"]["oom_killed"] is True or rows["notification"]["oom_killed"] == True  # noqa: E712
    assert rows["notification"]["exit_code"] == 137
    assert rows["workflow"]["restart_count"] >= 1


def test_demo_logs_are_seed_shaped(docker_client, demo_stack):
    p = demo_stack["project"]
    auth = docker_client.containers.get(f"{p}-auth-1").logs().decode()
    assert "Error: Cannot find module '@opentelemetry/api'" in auth and "Require stack:" in auth
    wf = docker_client.containers.get(f"{p}-workflow-1").logs().decode()
    assert "error TS2339" in wf
    gw = docker_client.containers.get(f"{p}-api-gateway-1").logs().decode()
    assert "connect ECONNREFUSED 127.0.0.1:3001" in gw and "[Nest] 1  - " in gw


def test_demo_publishes_on_loopback_only_and_serves_health(docker_client, demo_stack):
    rows = by_service(demo_stack["inv"])
    for svc, r in rows.items():
        for p in r["published_ports"]:
            assert p["host_ip"] == "127.0.0.1", (svc, p)
    base = demo_stack["base"]
    ok = httpx.get(f"http://127.0.0.1:{demo.host_port(demo.service('master-data'), base)}/health", timeout=5)
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    bad = httpx.get(f"http://127.0.0.1:{demo.host_port(demo.service('api-gateway'), base)}/health", timeout=5)
    assert bad.status_code == 503 and bad.json()["error"]["auth"]["status"] == "down"


def test_demo_compose_file_describes_the_containers(demo_stack):
    rows = by_service(demo_stack["inv"])
    doc = yaml.safe_load(demo_stack["cfg"].read_text())
    assert set(doc["services"]) == set(rows)
    for svc, r in rows.items():
        assert r["config_files"] == str(demo_stack["cfg"])
        assert r["project"] == demo_stack["project"]
        assert r["labels"]["com.docker.compose.oneoff"] == "False"
        assert doc["services"][svc]["ports"][0].startswith("127.0.0.1:")
    assert doc["services"]["notification"]["mem_limit"] == "16m"
    assert doc["services"]["api-gateway"]["environment"]["AUTH_SERVICE_URL"].startswith("http://localhost:")


def test_demo_secret_is_masked_in_inventory(demo_stack):
    inv = demo_stack["inv"]
    text = inv.astype(str).to_string()
    assert demo.DEMO_PG_PASSWORD not in text


def test_demo_up_is_idempotent(docker_client, demo_stack, test_label):
    key, val = test_label.split("=", 1)
    inv = demo.demo_up(docker_client, project=demo_stack["project"], port_base=demo_stack["base"],
                       compose_file=demo_stack["cfg"], extra_labels={key: val}, settle_s=0)
    assert inv.attrs["created"] == []
    assert len(inv) == len(demo.SERVICES)


def test_demo_up_refuses_taken_ports(docker_client, test_label, tmp_path):
    import socket
    base = free_port_base()
    port = demo.host_port(demo.service("postgres"), base)
    project = f"demo-{uuid.uuid4().hex[:8]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        with pytest.raises(RunbookError, match="already in use"):
            demo.demo_up(docker_client, project=project, port_base=base,
                         compose_file=tmp_path / "dc.yml", settle_s=0)
    assert docker_client.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}) == []


def test_demo_down_removes_only_demo_labelled(docker_client, busybox_image, test_label, tmp_path):
    key, val = test_label.split("=", 1)
    project = f"demo-{uuid.uuid4().hex[:8]}"
    # a container of the same compose project NOT made by demo up must survive
    other = docker_client.containers.create(busybox_image, "true", labels={key: val, PROJECT_LABEL: project})
    volumes_before = {v.name for v in docker_client.volumes.list()}
    try:
        demo.demo_up(docker_client, project=project, port_base=free_port_base(),
                     compose_file=tmp_path / "dc.yml", extra_labels={key: val}, settle_s=0)
        out = demo.demo_down(docker_client, project=project)
        assert out["containers"] == len(demo.SERVICES) and out["networks"] == 1
        left = docker_client.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
        assert [c["Id"] for c in left] == [other.id]
        assert docker_client.api.networks(names=[f"{project}_default"]) == []
        assert {v.name for v in docker_client.volumes.list()} >= volumes_before
    finally:
        other.remove(force=True)
        demo.demo_down(docker_client, project=project)
