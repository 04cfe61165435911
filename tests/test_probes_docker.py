"""Probes that need the real Docker engine: docker kind, probing from inside a container,
and zero-configuration derivation from a compose file + the running containers."""
from __future__ import annotations

import json
import textwrap

from runbook_lib.compose import catalog as compose
from runbook_lib.probes import derive as probe_derive
from runbook_lib.probes import discovery
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.probes.runner import run_round
from runbook_lib.probes.spec import ProbeSpec
import dockerenv

TERMINUS = json.dumps({"status": "ok", "info": {"database": {"status": "up"}}, "error": {},
                       "details": {"database": {"status": "up"}}})


def _httpd_cmd(path: str = "/health", body: str = TERMINUS, port: int = 8080) -> list[str]:
    d = "/www" + path.rsplit("/", 1)[0]
    script = (f"mkdir -p {d} && printf '%s' '{body}' > /www{path} && "
              f"exec httpd -f -p {port} -h /www")
    return ["sh", "-c", script]


def _wait_http_inside(container, port: int = 8080) -> None:
    def ready():
        code, _ = container.exec_run(["sh", "-c", f"nc -w 1 127.0.0.1 {port} </dev/null"])
        return code == 0
    dockerenv.wait_for(ready, timeout_s=20)


def _published_port(docker_client, container, port: int = 8080) -> int:
    def get():
        container.reload()
        p = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        return int(p[0]["HostPort"]) if p else None
    return dockerenv.wait_for(get, timeout_s=20)


def test_http_on_published_port(docker_client, containers):
    c = containers(_httpd_cmd(), name="pub", ports={"8080/tcp": ("127.0.0.1", None)})
    port = _published_port(docker_client, c)
    _wait_http_inside(c)
    row = run_round([ProbeSpec("app", "http", port=port, path="/health")], client=docker_client).iloc[0]
    assert row["state"] == "up" and row["via"] == "host"
    assert [d["component"] for d in row["detail"]] == ["database"]


def test_unpublished_port_probed_from_inside(docker_client, containers):
    c = containers(_httpd_cmd("/api/v1/health"), name="inside")
    _wait_http_inside(c)
    specs = [ProbeSpec("app", "http", port=8080, path="/api/v1/health", via="exec", container=c.id),
             ProbeSpec("app", "http", port=8080, path="/health", via="exec", container=c.id),
             ProbeSpec("app", "tcp", port=8080, via="exec", container=c.id),
             ProbeSpec("app", "http", port=8099, path="/health", via="exec", container=c.id, timeout_s=1.0)]
    df = run_round(specs, client=docker_client)
    assert list(df["via"]) == ["exec"] * 4
    assert list(df["state"]) == ["up", "down", "up", "down"]
    assert "port not published: probed from inside the container" in df.iloc[0]["reply"]
    assert df.iloc[0]["detail"][0]["component"] == "database"
    assert df.iloc[1]["reply"].startswith("HTTP 404")
    assert df.iloc[0]["target"].startswith("exec:")


def test_exec_without_engine_is_unknown(containers, docker_client):
    c = containers(["sleep", "300"], name="noengine")
    row = run_round([ProbeSpec("app", "http", port=8080, path="/health", via="exec", container=c.id)],
                    client=None).iloc[0]
    assert row["state"] == "unknown" and "port not published" in row["error"]


def test_docker_kind_states(docker_client, containers):
    healthy = containers(["sleep", "300"], name="hok",
                         healthcheck={"test": ["CMD", "true"], "interval": 200_000_000, "retries": 1})
    sick = containers(["sleep", "300"], name="hbad",
                      healthcheck={"test": ["CMD-SHELL", "echo '<script>db gone</script>'; exit 1"],
                                   "interval": 200_000_000, "retries": 1})
    gone = containers(["sh", "-c", "exit 3"], name="exited")
    dockerenv.wait_for(lambda: docker_client.api.inspect_container(healthy.id)["State"]["Health"]["Status"] == "healthy")
    dockerenv.wait_for(lambda: docker_client.api.inspect_container(sick.id)["State"]["Health"]["Status"] == "unhealthy")
    dockerenv.wait_for(lambda: docker_client.api.inspect_container(gone.id)["State"]["Status"] == "exited")
    specs = [ProbeSpec(n, "docker", container=c.id) for n, c in (("ok", healthy), ("sick", sick), ("gone", gone))]
    specs.append(ProbeSpec("missing", "docker", container="rbt-no-such-container"))
    df = run_round(specs, client=docker_client)
    assert list(df["state"]) == ["up", "down", "down", "down"]
    assert "db gone" in df.iloc[1]["error"]
    assert "exit 3" in df.iloc[2]["error"]
    assert df.iloc[3]["reply"] == "no container"
    unknown = run_round(specs[:1], client=None).iloc[0]
    assert unknown["state"] == "unknown" and "engine unreachable" in unknown["error"]


def test_zero_config_from_compose_and_containers(docker_client, containers, busybox_image, tmp_path):
    """A compose project whose app port is not published and whose cache is: probes derived
    with no configuration, the app's health path discovered from inside its container."""
    project = f"rbt{dockerenv.SESSION_ID}"
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent("""
        services:
          api:
            build: .
            environment:
              APP_PORT: "8080"
          cache:
            image: redis:7-alpine
            command: redis-server --requirepass s3cret-canary-91
            ports:
              - "127.0.0.1:6390:6379"
          ghost:
            build: ./ghost
            environment:
              PORT: "3000"
    """))
    catalog = compose.load_catalog([tmp_path / "docker-compose.yml"], project_name=project, environ={}, config=None)
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "api",
              "com.docker.compose.project.config_files": str(tmp_path / "docker-compose.yml"),
              "com.docker.compose.project.working_dir": str(tmp_path)}
    c = containers(_httpd_cmd("/api/v1/health"), name="api", labels=labels)
    _wait_http_inside(c)
    inv = gather_inventory(docker_client, project=project)
    specs = probe_derive.derive_probes(catalog, inv, {"probes": {}}, timeout_s=2.0)
    by = {(s.service, s.kind, s.path) for s in specs}
    assert ("api", "docker", None) in by and ("api", "http", "/api/v1/health") in by
    cache = [s for s in specs if s.service == "cache"][0]
    assert cache.kind == "redis" and cache.port == 6390 and cache.options["password"] == "s3cret-canary-91"
    assert "s3cret-canary-91" not in cache.target
    api_http = [s for s in specs if s.service == "api" and s.kind == "http"]
    assert {s.via for s in api_http} == {"exec"} and len(api_http) == len(discovery.HEALTH_PATHS)
    ghost = [s for s in specs if s.service == "ghost"]
    assert {s.via for s in ghost} == {"none"}  # no container, port not published

    rows_all = run_round(specs, client=docker_client)
    assert "s3cret-canary-91" not in rows_all.to_json(date_format="iso")
    rows = discovery.collapse_discovery(rows_all, specs)
    api = rows[(rows["service"] == "api") & (rows["kind"] == "http")].iloc[0]
    assert api["state"] == "up" and api["via"] == "exec" and api["target"].endswith("/api/v1/health")
    ghost_row = rows[rows["service"] == "ghost"].iloc[0]
    assert ghost_row["state"] == "unknown" and ghost_row["error"] == "port not published"
    assert (rows["service"] == "api").sum() == 2  # docker + one http row

    audit = discovery.endpoint_audit(rows_all, specs)
    api_audit = audit[audit["service"] == "api"].set_index("path")
    assert api_audit.loc["/api/v1/health", "code"] == 200 and api_audit.loc["/health", "code"] == 404
    std = discovery.standardisation(audit)
    assert std["by_path"]["/api/v1/health"] == ["api"] and "ghost" in std["no_endpoint"]
    matrix = discovery.audit_matrix(audit)
    assert matrix.set_index("service").loc["api", "working_path"] == "/api/v1/health"

    pinned = discovery.pin_discovery(specs, rows_all)
    assert [s.path for s in pinned if s.service == "api" and s.kind == "http"] == ["/api/v1/health"]


def test_engine_down_still_probes_from_catalog(tmp_path):
    (tmp_path / "c.yml").write_text("services:\n  db:\n    image: postgres:16\n    ports: ['127.0.0.1:1:5432']\n"
                                    "    environment:\n      POSTGRES_PASSWORD: pw-canary-5521\n")
    catalog = compose.load_catalog([tmp_path / "c.yml"], environ={}, config=None)
    specs = probe_derive.derive_probes(catalog, None)
    df = run_round(specs)
    assert list(df["kind"]) == ["docker", "postgres"]
    assert list(df["state"]) == ["unknown", "down"]  # container state unknown; the port is probed
    assert "pw-canary-5521" not in df.to_json(date_format="iso")
