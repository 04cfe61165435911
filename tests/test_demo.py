"""The demo stack on the real engine: shapes, states, labels, idempotence, safe teardown."""
from __future__ import annotations

import random
import uuid

import httpx
import pytest
import yaml

from runbook_lib.demo import stack as demo
from runbook_lib.exceptions import RunbookError
from runbook_lib.engine.inventory import PROJECT_LABEL


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


def test_demo_infrastructure_answers_the_native_probes(docker_client, demo_stack):
    """postgres (SELECT 1), redis (PING) and kafka (ApiVersions + Metadata) are up on the demo:
    real servers copied from the host where it has them, a Kafka wire-protocol responder."""
    from runbook_lib.probes.stack_round import probe_stack
    from runbook_lib.stack import gather

    if demo.host_postgres() is None or demo.host_redis() is None:
        pytest.skip("postgresql / redis-server not installed on this host (scripts/test-deps.sh installs them)")
    res = probe_stack(gather(project=demo_stack["project"], client=docker_client), timeout_s=10)
    rows = res.rows
    native = {r["service"]: r for _, r in rows[rows["kind"].isin(["postgres", "redis", "kafka"])].iterrows()}
    assert set(native) == {"postgres", "redis", "kafka"}
    for svc, r in native.items():
        assert r["state"] == "up", (svc, r["reply"], r["error"])
    assert native["postgres"]["reply"].startswith("SELECT 1 ok (server ")
    assert native["redis"]["reply"] == "PONG"
    assert "1 broker(s), controller 1" in native["kafka"]["reply"]
    # the app failures stay what they are
    by_kind = {(r["service"], r["kind"]): r["state"] for _, r in rows.iterrows()}
    assert by_kind[("auth", "docker")] == "down" and by_kind[("api-gateway", "http")] == "degraded"
    assert demo.DEMO_PG_PASSWORD not in rows.astype(str).to_string()


def test_demo_server_images_are_cached_by_recipe(docker_client, demo_stack):
    before = {s.name: docker_client.images.get(s.image()).id for s in demo.SERVICES if s.tier == "infrastructure"}
    served = demo.ensure_images(docker_client)
    after = {s.name: docker_client.images.get(s.image()).id for s in demo.SERVICES if s.tier == "infrastructure"}
    assert after == before  # nothing rebuilt
    if demo.host_postgres():
        assert served["postgres"].startswith("PostgreSQL ")
        labels = docker_client.images.get(demo.service("postgres").image()).labels
        assert labels[demo.RECIPE_LABEL] and labels[demo.SERVER_LABEL] == served["postgres"]
    assert served["kafka"] == "stand-in"


def test_demo_redis_stand_in_speaks_resp(docker_client, test_label):
    """Without redis-server in the image the redis service runs a RESP stand-in the probe accepts."""
    from runbook_lib.probes import runner
    from runbook_lib.probes.spec import ProbeSpec

    key, val = test_label.split("=", 1)
    demo.ensure_image(docker_client)
    base = free_port_base()
    port = demo.host_port(demo.service("redis"), base)
    script = demo.service("redis").script.replace("[ -x /usr/bin/redis-server ]", "false")
    c = docker_client.containers.run(demo.DEMO_IMAGE, ["/bin/sh", "-c", script], detach=True,
                                     environment={"REDIS_PASSWORD": demo.DEMO_REDIS_PASSWORD},
                                     ports={"6379/tcp": ("127.0.0.1", port)}, labels={key: val})
    try:
        spec = ProbeSpec(service="redis", kind="redis", host="127.0.0.1", port=port,
                                options={"password": demo.DEMO_REDIS_PASSWORD}, timeout_s=5)
        for _ in range(20):
            row = runner.run_round([spec]).iloc[0]
            if row["state"] == "up":
                break
            import time
            time.sleep(0.25)
        assert row["state"] == "up" and row["reply"] == "PONG", row.to_dict()
        bad = ProbeSpec(service="redis", kind="redis", host="127.0.0.1", port=port,
                               options={"password": "wrong-password"}, timeout_s=5)
        assert runner.run_round([bad]).iloc[0]["state"] == "down"
    finally:
        c.remove(force=True)


def test_demo_compose_file_and_app_scripts_are_package_files():
    """The compose file and the scripts are real files in the package, and the compose file is compose."""
    from importlib import resources

    from runbook_lib.demo import services as demo_services
    files = resources.files("runbook_lib.demo") / "files"
    doc = yaml.safe_load((files / "docker-compose.yml").read_text())
    assert set(doc["services"]) == {s.name for s in demo.SERVICES}
    for name, spec in doc["services"].items():
        script = spec["x-runbook-demo"]["script"]
        assert (files / "apps" / script).is_file(), script
        assert spec["ports"][0].startswith("127.0.0.1:")
    assert "exit 1" in (files / "apps" / "auth.sh").read_text()
    assert demo.service("auth").script.startswith(demo_services.app_file("prelude.sh"))


def test_importing_the_demo_probes_nothing_on_the_host():
    """No which/glob/subprocess at import time: only when a demo command runs."""
    import subprocess
    import sys
    code = ("import glob, shutil, subprocess, os\n"
            "def boom(*a, **k): raise SystemExit('host probed at import: %r' % (a,))\n"
            "shutil.which = glob.glob = subprocess.run = boom\n"
            "import runbook_lib.demo.stack, runbook_lib.demo.images, runbook_lib.demo.services\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def test_without_host_servers_postgres_and_redis_are_stand_ins(monkeypatch):
    from runbook_lib.demo import services as demo_services
    monkeypatch.setattr(demo_services, "host_postgres", lambda: None)
    monkeypatch.setattr(demo_services, "host_redis", lambda: None)
    demo_services.services.cache_clear()
    try:
        pg, redis = demo.service("postgres"), demo.service("redis")
        assert "TCP stand-in" in pg.shows and pg.healthcheck == ["CMD-SHELL", "echo | nc 127.0.0.1 5432 || exit 1"]
        assert pg.start_period_s == 1 and "RESP stand-in" in redis.shows
    finally:
        demo_services.services.cache_clear()
