"""Compose catalog: every fixture file, hand-written edge cases for every feature and error."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib import redact
from runbook_lib.compose import catalog as compose
from runbook_lib.compose.catalog import Catalog, find_compose_files, interpolate, load_catalog, parse_port, parse_volume
from runbook_lib.config import RunbookConfig
from runbook_lib.exceptions import ComposeError

NO_CONFIG = RunbookConfig()
FIXTURE_SECRETS = ["vextrus_dev_2024", "vextrus_redis_2024", "vextrus_minio_2024", "vextrus_grafana_2024",
                   "vextrus_jwt_access_secret_dev_2024", "vextrus_jwt_refresh_secret_dev_2024"]
PAIRS = [("docker-compose.yml", "docker-compose.prod.yml"),
         ("docker-compose.yml", "docker-compose.monitoring.yml"),
         ("docker-compose.yml", "docker-compose.prod.yml", "docker-compose.monitoring.yml"),
         ("archive/docker-compose-complete.yml", "archive/docker-compose.override.yml"),
         ("archive/docker-compose-core.yml", "archive/docker-compose.override.yml")]


def load(files, **kw) -> Catalog:
    kw.setdefault("environ", {})
    kw.setdefault("config", NO_CONFIG)
    return load_catalog(files, **kw)


def write(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def dump(cat: Catalog) -> str:
    """Everything a report could show of a catalog."""
    return json.dumps(cat.frame.to_dict("records"), default=str) + cat.frame.to_string() + " ".join(cat.notes)


def row(cat: Catalog, service: str) -> dict:
    return cat.frame.set_index("service").loc[service].to_dict()


# ------------------------------------------------------------------ fixtures
def all_fixture_files(d: Path) -> list[Path]:
    return sorted(d.rglob("*.yml")) + sorted(d.rglob("*.yaml"))


def test_every_fixture_file_loads(fixtures_dir):
    files = all_fixture_files(fixtures_dir)
    assert len(files) >= 8
    for f in files:
        cat = load([f])
        assert list(cat.frame.columns) == compose.COLUMNS
        assert len(cat.frame) + len(cat.inactive) >= 1, f
        assert cat.frame["service"].is_unique


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "+".join(Path(x).name for x in p))
def test_override_pairs_load(fixtures_dir, pair):
    cat = load([fixtures_dir / f for f in pair])
    assert len(cat.frame) >= 5
    assert cat.files == tuple(str(fixtures_dir / f) for f in pair)
    text = dump(cat)
    for secret in FIXTURE_SECRETS:
        assert secret not in text


def test_main_file_has_41_services_and_no_secrets(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"])
    assert len(cat.frame) == 41
    assert cat.project == "vextrus-erp"
    text = dump(cat)
    for secret in FIXTURE_SECRETS:
        assert secret not in text
    assert redact.MASK in text
    # raw keeps what probes need, unmasked
    assert "vextrus_dev_2024" in json.dumps(cat.raw["temporal"]["environment"])
    assert row(cat, "temporal")["environment"]["POSTGRES_PWD"] == redact.MASK
    assert "--requirepass [MASKED]" in row(cat, "redis")["command"]
    assert "vextrus_redis_2024" not in json.dumps(row(cat, "redis-commander")["environment"])


def test_main_file_facts(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"])
    auth = row(cat, "auth")
    assert auth["image"] == "vextrus-erp/auth:latest" and auth["build"] is True
    assert auth["tier"] == "application" and auth["container_name"] == "vextrus-auth"
    assert [d["service"] for d in auth["depends_on"]] == ["postgres", "redis", "traefik"]
    assert all(d["condition"] == "service_started" for d in auth["depends_on"])
    fin = {d["service"]: d for d in row(cat, "finance")["depends_on"]}
    assert fin["eventstore"]["condition"] == "service_healthy" and fin["eventstore"]["required"] is True
    pg = row(cat, "postgres")
    assert pg["tier"] == "infrastructure"
    assert pg["healthcheck"] == {"test": ["CMD-SHELL", "pg_isready -U vextrus -d vextrus_erp"], "interval_s": 10.0,
                                 "timeout_s": 5.0, "start_period_s": 0.0, "start_interval_s": 5.0, "retries": 5}
    assert pg["ports"] == [{"host_ip": "0.0.0.0", "host_port": 5432, "container_port": 5432, "protocol": "tcp"}]
    assert {"type": "named", "source": "postgres_data", "target": "/var/lib/postgresql/data",
            "read_only": False} in pg["volumes"]
    assert row(cat, "document-generator")["healthcheck"]["start_period_s"] == 45.0
    assert row(cat, "zookeeper")["has_healthcheck"] is False and row(cat, "zookeeper")["healthcheck"] is None
    assert row(cat, "crm")["image"] is None and row(cat, "crm")["build"] is True
    assert row(cat, "traefik")["labels"]["traefik.enable"] == "true"
    tr_vols = row(cat, "traefik")["volumes"]
    assert tr_vols[0]["type"] == "bind" and tr_vols[0]["read_only"] is True
    assert row(cat, "eventstore")["environment"]["EVENTSTORE_HTTP_PORT"] == "2113"  # list form
    assert row(cat, "signoz-query-service")["environment"]["TELEMETRY_ENABLED"] == "false"
    assert row(cat, "signoz-frontend")["depends_on"][0]["condition"] == "service_healthy"
    assert row(cat, "web")["networks"] == ["vextrus-network"]
    tiers = cat.frame["tier"].value_counts().to_dict()
    assert tiers["infrastructure"] >= 20 and tiers["application"] >= 15
    graph = cat.graph
    assert graph["api-gateway"] == {"master-data", "workflow", "rules-engine", "auth", "signoz-otel-collector"}
    assert "notification" in cat.dependents()["mailhog"]


def test_version_interpolates_from_environ(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"], environ={"VERSION": "1.4.2"})
    assert row(cat, "auth")["image"] == "vextrus-erp/auth:1.4.2"


def test_prod_override_merges(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml", fixtures_dir / "docker-compose.prod.yml"])
    fin = row(cat, "finance")
    assert fin["restart"] == "always"
    assert fin["environment"]["NODE_ENV"] == "production"
    assert fin["environment"]["DATABASE_NAME"] == "vextrus_finance"  # merged, not replaced
    assert len(fin["depends_on"]) == 4
    assert cat.raw["finance"]["files"] == [str(fixtures_dir / "docker-compose.yml"),
                                           str(fixtures_dir / "docker-compose.prod.yml")]
    assert fin["file"] == str(fixtures_dir / "docker-compose.yml")
    deploy = cat.raw["finance"]["spec"]["deploy"]["resources"]
    assert deploy["limits"] == {"cpus": "2.0", "memory": "2048M"} and deploy["reservations"]["memory"] == "1024M"
    assert cat.raw["finance"]["spec"]["build"]["target"] == "production"


def test_monitoring_override_merges(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml", fixtures_dir / "docker-compose.monitoring.yml"])
    assert len(cat.frame) == 43  # + otel-collector, jaeger
    prom = row(cat, "prometheus")
    assert prom["image"] == "prom/prometheus:v2.48.0"
    assert "--web.enable-lifecycle" in prom["command"]  # command replaced
    assert "--web.console.libraries=/usr/share/prometheus/console_libraries" not in prom["command"]
    targets = [v["target"] for v in prom["volumes"]]
    assert len(targets) == len(set(targets)) == 3  # merged by target
    graf = row(cat, "grafana")
    assert {p["host_port"] for p in graf["ports"]} == {3500, 3000}  # appended unique
    assert graf["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == redact.MASK
    assert "vextrus_grafana_2024" not in dump(cat)
    jaeger = row(cat, "jaeger")
    assert {"host_ip": "0.0.0.0", "host_port": 6831, "container_port": 6831, "protocol": "udp"} in jaeger["ports"]
    assert jaeger["tier"] == "infrastructure"


def test_profile_moved_by_override_is_reported_like_compose(fixtures_dir):
    files = [fixtures_dir / "docker-compose.yml", fixtures_dir / "archive/docker-compose.override.yml"]
    with pytest.raises(ComposeError, match="'mailhog'.*profile dev-tools") as err:
        load(files)
    assert err.value.service == "notification"
    assert "mailhog" in set(load(files, profiles=["dev-tools"]).frame["service"])


def test_archive_override_profiles(fixtures_dir):
    base = [fixtures_dir / "archive/docker-compose-complete.yml", fixtures_dir / "archive/docker-compose.override.yml"]
    cat = load(base)
    assert set(cat.inactive) == {"db-seed", "mailhog", "pgadmin"}
    assert "pgadmin" not in set(cat.frame["service"])
    auth = row(cat, "auth")
    assert any(v["type"] == "anonymous" and v["target"] == "/app/node_modules" for v in auth["volumes"])
    assert auth["environment"]["DEBUG"] == "vextrus:*" and "JWT_ACCESS_SECRET" in auth["environment"]
    assert "log_statement=all" in row(cat, "postgres")["command"]
    cat = load(base, profiles=["dev-tools"])
    assert {"mailhog", "pgadmin"} <= set(cat.frame["service"]) and "db-seed" not in set(cat.frame["service"])
    assert row(cat, "pgadmin")["environment"]["PGADMIN_DEFAULT_PASSWORD"] == redact.MASK
    cat = load(base, environ={"COMPOSE_PROFILES": "seed"})
    seed = row(cat, "db-seed")
    assert seed["depends_on"] == [{"service": "postgres", "condition": "service_healthy", "required": True,
                                   "restart": False}]
    assert "vextrus_dev_2024" not in dump(cat)
    assert len(load(base, profiles=["*"]).frame) == 17


# --------------------------------------------------------------- interpolation
@pytest.mark.parametrize("text,env,expected", [
    ("${A}", {"A": "x"}, "x"),
    ("$A-$B", {"A": "x", "B": "y"}, "x-y"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("${A:+r}", {"A": "x"}, "r"),
    ("${A:+r}", {"A": ""}, ""),
    ("${A+r}", {"A": ""}, "r"),
    ("${A:-${B:-deep}}", {}, "deep"),
    ("${A:-${B}}", {"B": "b"}, "b"),
    ("$$A and $${B}", {"A": "no"}, "$A and ${B}"),
    ("cost: 5$", {}, "cost: 5$"),
    ("${A:?must}", {"A": "ok"}, "ok"),
    ("${A?must}", {"A": ""}, ""),
    ("pre-${A:-x:y}-post", {}, "pre-x:y-post"),
])
def test_interpolate(text, env, expected):
    assert interpolate(text, env) == expected


def test_interpolate_unset_plain_is_blank_with_note(tmp_path):
    p = write(tmp_path, """
        services:
          app:
            image: "img:${TAG}"
    """)
    cat = load([p])
    assert row(cat, "app")["image"] == "img:"
    assert any('"TAG" is not set' in n for n in cat.notes)


@pytest.mark.parametrize("expr", ["${DB_PASSWORD:?set the database password}", "${DB_PASSWORD?set it}"])
def test_required_variable_unset_names_file_service_variable_fix(tmp_path, expr):
    p = write(tmp_path, f"""
        services:
          db:
            image: postgres:16
            environment:
              POSTGRES_PASSWORD: "{expr}"
    """)
    with pytest.raises(ComposeError) as err:
        load([p])
    e = err.value
    assert e.file == str(p) and e.service == "db" and "DB_PASSWORD" in str(e) and ".env" in e.fix
    assert "set " in str(e)


def test_invalid_interpolation(tmp_path):
    p = write(tmp_path, """
        services:
          app:
            image: "img:${TAG"
    """)
    with pytest.raises(ComposeError, match="never closed") as err:
        load([p])
    assert err.value.service == "app"


def test_dotenv_next_to_first_file_and_shell_wins(tmp_path):
    (tmp_path / ".env").write_text(textwrap.dedent("""
        # comment
        export TAG=from-dotenv
        PORT=8080   # inline comment
        QUOTED="a b"
        SINGLE='${NOT}'
        DERIVED=${TAG}-x
        COMPOSE_PROJECT_NAME=FromDotEnv
    """))
    p = write(tmp_path, """
        services:
          app:
            image: img:${TAG}
            ports: ["${PORT}:80"]
            environment:
              Q: ${QUOTED}
              S: ${SINGLE}
              D: ${DERIVED}
    """)
    cat = load([p])
    app = row(cat, "app")
    assert app["image"] == "img:from-dotenv" and app["ports"][0]["host_port"] == 8080
    assert app["environment"] == {"Q": "a b", "S": "${NOT}", "D": "from-dotenv-x"}
    assert cat.project == "fromdotenv"
    cat = load([p], environ={"TAG": "shell"})
    assert row(cat, "app")["image"] == "img:shell"
    other = tmp_path / "other.env"
    other.write_text("TAG=explicit\n")
    assert row(load([p], env_file=other), "app")["image"] == "img:explicit"
    with pytest.raises(ComposeError, match="env file not found"):
        load([p], env_file=tmp_path / "missing.env")


def test_bad_dotenv_line(tmp_path):
    (tmp_path / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    p = write(tmp_path, "services: {app: {image: x}}\n")
    with pytest.raises(ComposeError, match="line 2") as err:
        load([p])
    assert err.value.file == str(tmp_path / ".env")


# --------------------------------------------------------------- YAML features
def test_extensions_anchors_merge_keys(tmp_path):
    p = write(tmp_path, """
        x-common: &common
          restart: unless-stopped
          environment: &env
            LOG_LEVEL: info
            API_TOKEN: tok-canary-123
          healthcheck:
            test: ["CMD", "true"]
            interval: 1m30s
        x-deps: &deps
          depends_on: [db]
        services:
          db:
            image: postgres:16
          api:
            <<: [*common, *deps]
            image: registry.local:5000/acme/api:1
            x-owner: team-a
          worker:
            <<: *common
            build: ./worker
            environment:
              <<: *env
              LOG_LEVEL: debug
    """)
    cat = load([p])
    api = row(cat, "api")
    assert api["restart"] == "unless-stopped" and api["depends_on"][0]["service"] == "db"
    assert api["healthcheck"]["interval_s"] == 90.0 and api["healthcheck"]["timeout_s"] == 30.0
    assert api["environment"]["API_TOKEN"] == redact.MASK
    assert cat.raw["api"]["extensions"] == {"x-owner": "team-a"}
    worker = row(cat, "worker")
    assert worker["environment"]["LOG_LEVEL"] == "debug" and worker["build"] is True
    assert worker["tier"] == "application" and api["tier"] == "application"
    assert "tok-canary-123" not in dump(cat)


def test_yaml_12_scalars(tmp_path):
    p = write(tmp_path, """
        services:
          ssh:
            image: sshd
            ports:
              - 22:22
              - 2222:22
            environment:
              ENABLED: yes
              FLAG: on
              REAL: true
              OCTAL: 0755
              WHEN: 2024-01-02
    """)
    ssh = row(load([p]), "ssh")
    assert [(x["host_port"], x["container_port"]) for x in ssh["ports"]] == [(22, 22), (2222, 22)]
    assert ssh["environment"] == {"ENABLED": "yes", "FLAG": "on", "REAL": "true", "OCTAL": "755",
                                  "WHEN": "2024-01-02"}


def test_bad_yaml_names_file_and_line(tmp_path):
    p = write(tmp_path, "services:\n  app:\n    image: x\n   ports: [1\n")
    with pytest.raises(ComposeError) as err:
        load([p])
    assert err.value.file == str(p) and "line " in str(err.value) and err.value.fix


@pytest.mark.parametrize("text,match", [
    ("- just\n- a list\n", "top level"),
    ("services: [a, b]\n", "'services' must be a mapping"),
    ("services:\n  app: image-only-string\n", "must be a mapping"),
])
def test_structural_errors(tmp_path, text, match):
    p = write(tmp_path, text)
    with pytest.raises(ComposeError, match=match) as err:
        load([p])
    assert err.value.file == str(p) and err.value.fix


def test_missing_file(tmp_path):
    with pytest.raises(ComposeError, match="not found") as err:
        load([tmp_path / "nope.yml"])
    assert "--compose" in err.value.fix
    with pytest.raises(ComposeError, match="no compose file"):
        load([])


# ------------------------------------------------------------------ depends_on
def test_depends_on_forms(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: postgres:16}
          cache: {image: redis:7}
          migrate: {image: app, depends_on: {db: {condition: service_healthy}}}
          api:
            image: app
            depends_on:
              db:
                condition: service_healthy
                restart: true
              migrate:
                condition: service_completed_successfully
              cache:
              metrics:
                condition: service_started
                required: false
          web:
            image: app
            depends_on: [api]
    """)
    cat = load([p])
    deps = {d["service"]: d for d in row(cat, "api")["depends_on"]}
    assert deps["db"] == {"service": "db", "condition": "service_healthy", "required": True, "restart": True}
    assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert deps["cache"]["condition"] == "service_started"
    assert deps["metrics"]["required"] is False  # missing but optional: allowed
    assert cat.graph["api"] == {"db", "migrate", "cache", "metrics"}
    assert cat.graph["web"] == {"api"}


def test_unknown_dependency_error(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: postgres:16}
          api: {image: app, depends_on: [postgress]}
    """)
    with pytest.raises(ComposeError) as err:
        load([p])
    e = err.value
    assert e.file == str(p) and e.service == "api" and "postgress" in str(e) and "db" in e.fix


def test_dependency_on_profiled_service_error(tmp_path):
    p = write(tmp_path, """
        services:
          tools: {image: adminer, profiles: [debug]}
          api: {image: app, depends_on: [tools]}
    """)
    with pytest.raises(ComposeError, match="profile") as err:
        load([p])
    assert err.value.service == "api" and "COMPOSE_PROFILES=debug" in err.value.fix
    assert set(load([p], profiles=["debug"]).frame["service"]) == {"tools", "api"}


def test_unknown_condition_error(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: postgres:16}
          api: {image: app, depends_on: {db: {condition: service_ready}}}
    """)
    with pytest.raises(ComposeError, match="service_ready") as err:
        load([p])
    assert err.value.service == "api" and "service_healthy" in err.value.fix


def test_cycle_names_members(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: postgres:16}
          a: {image: app, depends_on: [b, db]}
          b: {image: app, depends_on: [c]}
          c: {image: app, depends_on: [a]}
          d: {image: app, depends_on: [a]}
    """)
    with pytest.raises(ComposeError, match="cycle") as err:
        load([p])
    msg = str(err.value)
    for member in ("a", "b", "c"):
        assert f"{member} ->" in msg or f"-> {member}" in msg
    assert "'d'" not in msg and " d " not in msg and err.value.file == str(p)
    assert "a, b, c" in err.value.fix


def test_self_dependency_is_a_cycle(tmp_path):
    p = write(tmp_path, "services:\n  a: {image: x, depends_on: [a]}\n")
    with pytest.raises(ComposeError, match="cycle: a -> a"):
        load([p])


# ----------------------------------------------------------- service fields
def test_healthcheck_forms(tmp_path):
    p = write(tmp_path, """
        services:
          cmd: {image: x, healthcheck: {test: ["CMD", "pg_isready"], interval: 5s, timeout: 2s,
                                         retries: 7, start_period: 1m}}
          shell: {image: x, healthcheck: {test: "curl -f localhost || exit 1", timeout: 500ms}}
          none: {image: x, healthcheck: {test: ["NONE"]}}
          disabled: {image: x, healthcheck: {disable: true}}
          absent: {image: x}
    """)
    cat = load([p])
    assert row(cat, "cmd")["healthcheck"] == {"test": ["CMD", "pg_isready"], "interval_s": 5.0, "timeout_s": 2.0,
                                              "start_period_s": 60.0, "start_interval_s": 5.0, "retries": 7}
    sh = row(cat, "shell")["healthcheck"]
    assert sh["test"] == ["CMD-SHELL", "curl -f localhost || exit 1"] and sh["timeout_s"] == 0.5
    assert sh["interval_s"] == 30.0 and sh["retries"] == 3
    for s in ("none", "disabled", "absent"):
        assert row(cat, s)["healthcheck"] is None and row(cat, s)["has_healthcheck"] is False
    assert cat.raw["none"]["healthcheck_disabled"] and not cat.raw["absent"]["healthcheck_disabled"]


@pytest.mark.parametrize("hc,match", [({"test": ["EXEC", "x"]}, "CMD, CMD-SHELL or NONE"),
                                      ({"test": ["CMD", "x"], "interval": "ten seconds"}, "not a duration")])
def test_healthcheck_errors(tmp_path, hc, match):
    p = write(tmp_path, json.dumps({"services": {"svc": {"image": "x", "healthcheck": hc}}}))
    with pytest.raises(ComposeError, match=match) as err:
        load([p])
    assert err.value.service == "svc"


@pytest.mark.parametrize("entry,expected", [
    ("3000", [("0.0.0.0", None, 3000, "tcp")]),
    (3000, [("0.0.0.0", None, 3000, "tcp")]),
    ("8080:80", [("0.0.0.0", 8080, 80, "tcp")]),
    ("127.0.0.1:8080:80", [("127.0.0.1", 8080, 80, "tcp")]),
    ("127.0.0.1::80", [("127.0.0.1", None, 80, "tcp")]),
    ("[::1]:6000:6001/udp", [("::1", 6000, 6001, "udp")]),
    ("6831:6831/udp", [("0.0.0.0", 6831, 6831, "udp")]),
    ("9000-9001:9000-9001", [("0.0.0.0", 9000, 9000, "tcp"), ("0.0.0.0", 9001, 9001, "tcp")]),
    ({"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "tcp", "mode": "host"},
     [("127.0.0.1", 8080, 80, "tcp")]),
    ({"target": 53, "protocol": "udp"}, [("0.0.0.0", None, 53, "udp")]),
])
def test_parse_port(entry, expected):
    got = [(p["host_ip"], p["host_port"], p["container_port"], p["protocol"]) for p in parse_port(entry)]
    assert got == expected


def test_bad_port(tmp_path):
    p = write(tmp_path, 'services:\n  app: {image: x, ports: ["80:abc"]}\n')
    with pytest.raises(ComposeError, match="port") as err:
        load([p])
    assert err.value.service == "app"


@pytest.mark.parametrize("entry,expected", [
    ("data:/var/lib/data", ("named", "data", "/var/lib/data", False)),
    ("/app/node_modules", ("anonymous", None, "/app/node_modules", False)),
    ("./conf:/etc/conf:ro", ("bind", "./conf", "/etc/conf", True)),
    ("//var/run/docker.sock:/var/run/docker.sock:ro", ("bind", "//var/run/docker.sock", "/var/run/docker.sock", True)),
    ("~/x:/x:rw,z", ("bind", "~/x", "/x", False)),
    ({"type": "volume", "source": "db", "target": "/d"}, ("named", "db", "/d", False)),
    ({"type": "volume", "target": "/d"}, ("anonymous", None, "/d", False)),
    ({"type": "bind", "source": "/h", "target": "/d", "read_only": True}, ("bind", "/h", "/d", True)),
    ({"type": "tmpfs", "target": "/tmp"}, ("tmpfs", None, "/tmp", False)),
])
def test_parse_volume(entry, expected):
    v = parse_volume(entry)
    assert (v["type"], v["source"], v["target"], v["read_only"]) == expected


def test_fields_environment_networks_container_name(tmp_path):
    p = write(tmp_path, """
        services:
          listenv:
            image: x
            container_name: my-box
            environment: [A=1, B=has=equals, FROM_SHELL, "DATABASE_URL=postgres://u:pw-canary-9@db/x"]
            networks: [front, back]
            labels: {com.example.token: lab-canary-7, team: ops}
            restart: on-failure
          mapenv:
            image: x
            environment: {A: 1, B: null, C: 1.5}
            networks: {front: {aliases: [m]}}
            network_mode: null
          hostnet: {image: x, network_mode: host}
          plain: {image: x}
    """)
    cat = load([p], environ={"FROM_SHELL": "shell-value"})
    le = row(cat, "listenv")
    assert le["container_name"] == "my-box" and le["restart"] == "on-failure"
    assert le["environment"]["A"] == "1" and le["environment"]["B"] == "has=equals"
    assert le["environment"]["FROM_SHELL"] == "shell-value"
    assert le["environment"]["DATABASE_URL"] == "postgres://u:[MASKED]@db/x"
    assert le["networks"] == ["front", "back"] and le["labels"] == {"com.example.token": redact.MASK, "team": "ops"}
    me = row(cat, "mapenv")
    assert me["environment"] == {"A": "1", "B": None, "C": "1.5"} and me["networks"] == ["front"]
    assert row(cat, "hostnet")["networks"] == [] and row(cat, "plain")["networks"] == ["default"]
    assert row(cat, "plain")["container_name"] is None and row(cat, "plain")["restart"] is None
    assert "pw-canary-9" not in dump(cat) and "lab-canary-7" not in dump(cat)


def test_env_file_is_read_and_masked(tmp_path):
    (tmp_path / "app.env").write_text("APP_SECRET=envfile-canary-42\nMODE=prod\n")
    p = write(tmp_path, """
        services:
          app:
            image: x
            env_file: [app.env, {path: optional.env, required: false}, missing.env]
            environment: {MODE: dev}
            command: ["run", "--token", "envfile-canary-42"]
    """)
    cat = load([p])
    app = row(cat, "app")
    assert app["environment"] == {"APP_SECRET": redact.MASK, "MODE": "dev"}
    assert cat.raw["app"]["environment"]["APP_SECRET"] == "envfile-canary-42"
    assert "envfile-canary-42" not in dump(cat)
    assert [n for n in cat.notes if "missing.env" in n] and not [n for n in cat.notes if "optional.env" in n]


def test_image_vs_build_and_tiers_override(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: "docker.io/library/postgres:16@sha256:abc"}
          built: {build: {context: ., dockerfile: Dockerfile}}
          both: {build: ., image: acme/api:1}
          odd: {image: acme/thing:1}
          gw: {image: traefik:v3}
    """)
    cfg = RunbookConfig(tiers={"odd": "infrastructure", "gw": "Edge"})
    cat = load([p], config=cfg)
    tiers = dict(zip(cat.frame["service"], cat.frame["tier"]))
    assert tiers == {"db": "infrastructure", "built": "application", "both": "application",
                     "odd": "infrastructure", "gw": "Edge"}
    assert cat.raw["built"]["build_context"] == "."
    assert row(cat, "built")["image"] is None and row(cat, "both")["image"] == "acme/api:1"


def test_config_file_path_for_tiers(tmp_path):
    cfg = tmp_path / "runbook.yaml"
    cfg.write_text("tiers: {app: Core services}\n")
    p = write(tmp_path, "services: {app: {image: x}}\n")
    assert row(load([p], config=cfg), "app")["tier"] == "Core services"


# ------------------------------------------------------------ override merge
def test_override_merge_rules(tmp_path):
    a = write(tmp_path, """
        services:
          api:
            image: api:1
            command: ["serve", "--port", "80"]
            entrypoint: /old
            environment: [A=1, B=2]
            labels: [x=1]
            ports: ["8080:80"]
            expose: ["80"]
            dns: [1.1.1.1]
            volumes: ["data:/data", "./a:/conf"]
            healthcheck: {test: ["CMD", "old"], interval: 5s, retries: 9}
            depends_on: [db]
            networks: [front]
          db: {image: postgres:16}
    """, "a.yml")
    b = write(tmp_path, """
        services:
          api:
            image: api:2
            command: serve --fast
            environment: {B: "3", C: "4"}
            labels: {y: "2"}
            ports: ["8080:80", "9090:90"]
            expose: ["81"]
            dns: 8.8.8.8
            volumes: ["./b:/conf:ro", "/cache"]
            healthcheck: {test: ["CMD", "new"]}
            depends_on: {db: {condition: service_healthy}}
            networks: {back: {}}
          extra: {image: busybox}
    """, "b.yml")
    cat = load([a, b])
    api = row(cat, "api")
    assert api["image"] == "api:2" and api["command"] == "serve --fast"
    assert cat.raw["api"]["entrypoint"] == "/old"
    assert api["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert api["labels"] == {"x": "1", "y": "2"}
    assert [(p["host_port"], p["container_port"]) for p in api["ports"]] == [(8080, 80), (9090, 90)]
    assert cat.raw["api"]["expose"] == ["80", "81"]
    vols = {v["target"]: v for v in api["volumes"]}
    assert set(vols) == {"/data", "/conf", "/cache"} and vols["/conf"]["source"] == "./b" and vols["/conf"]["read_only"]
    assert api["healthcheck"]["test"] == ["CMD", "new"] and api["healthcheck"]["interval_s"] == 5.0
    assert api["healthcheck"]["retries"] == 9
    assert api["depends_on"] == [{"service": "db", "condition": "service_healthy", "required": True, "restart": False}]
    assert api["networks"] == ["front", "back"]
    assert list(cat.frame["service"]) == ["api", "db", "extra"]
    assert row(cat, "extra")["file"] == str(b) and cat.project == tmp_path.name.lower().lstrip("_-").replace(".", "")


def test_reset_and_override_tags(tmp_path):
    a = write(tmp_path, """
        services:
          api:
            image: api:1
            ports: ["8080:80"]
            environment: {A: "1", B: "2"}
            healthcheck: {test: ["CMD", "x"]}
    """, "a.yml")
    b = write(tmp_path, """
        services:
          api:
            ports: !reset []
            environment: !override {C: "3"}
            healthcheck: !reset null
    """, "b.yml")
    api = row(load([a, b]), "api")
    assert api["ports"] == [] and api["environment"] == {"C": "3"} and api["healthcheck"] is None


def test_extends(tmp_path):
    write(tmp_path, """
        services:
          base:
            image: node:20
            environment: {NODE_ENV: production, SHARED: "1"}
            healthcheck: {test: ["CMD", "true"], interval: 7s}
    """, "common.yml")
    p = write(tmp_path, """
        services:
          tmpl:
            image: app:1
            restart: always
            depends_on: [db]
          db: {image: postgres:16}
          api:
            extends: tmpl
            ports: ["80:80"]
          worker:
            extends: {file: common.yml, service: base}
            environment: {NODE_ENV: dev}
    """)
    cat = load([p])
    api = row(cat, "api")
    assert api["image"] == "app:1" and api["restart"] == "always" and api["depends_on"] == []
    w = row(cat, "worker")
    assert w["image"] == "node:20" and w["environment"] == {"NODE_ENV": "dev", "SHARED": "1"}
    assert w["healthcheck"]["interval_s"] == 7.0
    bad = write(tmp_path, "services:\n  a: {extends: nothere}\n", "bad.yml")
    with pytest.raises(ComposeError, match="nothere") as err:
        load([bad])
    assert err.value.service == "a"
    loop = write(tmp_path, "services:\n  a: {extends: b, image: x}\n  b: {extends: a}\n", "loop.yml")
    with pytest.raises(ComposeError, match="cycle"):
        load([loop])


# ------------------------------------------------------------------ project
@pytest.mark.parametrize("kw,environ,expected", [
    ({"project_name": "Explicit_One"}, {"COMPOSE_PROJECT_NAME": "env"}, "explicit_one"),
    ({}, {"COMPOSE_PROJECT_NAME": "from-env"}, "from-env"),
    ({}, {}, "named-in-file"),
])
def test_project_name(tmp_path, kw, environ, expected):
    p = write(tmp_path, "name: named-in-file\nservices: {a: {image: x}}\n")
    assert load([p], environ=environ, **kw).project == expected


def test_project_name_from_directory(tmp_path):
    p = write(tmp_path / "My Stack.v2", "services: {a: {image: x}}\n")
    assert load([p]).project == "mystackv2"


def test_catalog_frame_is_masked_against_known_canaries(tmp_path):
    canaries = {"POSTGRES_PASSWORD": "pg-canary-1", "AWS_SECRET_ACCESS_KEY": "aws-canary-2",
                "GITHUB_TOKEN": "gh-canary-3"}
    env_lines = "\n".join(f"      {k}: {v}" for k, v in canaries.items())
    p = write(tmp_path, "services:\n  app:\n    image: x\n    command: [\"--password=cmd-canary-4\"]\n"
                        "    environment:\n" + env_lines + "\n"
                        "    healthcheck: {test: [\"CMD\", \"check\", \"pg-canary-1\"]}\n")
    cat = load([p])
    text = dump(cat)
    for value in [*canaries.values(), "cmd-canary-4"]:
        assert value not in text
    assert cat.raw["app"]["environment"]["GITHUB_TOKEN"] == "gh-canary-3"


# ------------------------------------------------------ find_compose_files
def _inv(rows: list[dict]) -> pd.DataFrame:
    from runbook_lib.engine.inventory import COLUMNS
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)


def test_find_compose_files_pure(tmp_path):
    a = write(tmp_path, "services: {a: {image: x}}\n", "a.yml")
    write(tmp_path, "services: {a: {restart: always}}\n", "b.yml")
    inv = _inv([{"project": "shop", "service": "a", "config_files": f"{a},b.yml", "working_dir": str(tmp_path)},
                {"project": "shop", "service": "b", "config_files": f"{a},b.yml", "working_dir": str(tmp_path)},
                {"project": None, "service": "loose", "config_files": None}])
    files, project = find_compose_files(inv)
    assert files == [str(a), str(tmp_path / "b.yml")] and project == "shop"
    assert row(load(files), "a")["restart"] == "always"
    two = pd.concat([inv, _inv([{"project": "blog", "service": "w", "config_files": str(a)}])])
    with pytest.raises(ComposeError, match="several compose projects") as err:
        find_compose_files(two)
    assert "--project" in err.value.fix
    assert find_compose_files(two, project="blog") == ([str(a)], "blog")
    with pytest.raises(ComposeError, match="--compose"):
        find_compose_files(_inv([{"project": "x", "config_files": "/nowhere/docker-compose.yml"}]))
    with pytest.raises(ComposeError, match="--compose"):
        find_compose_files(_inv([]))
    with pytest.raises(ComposeError, match="project 'other'"):
        find_compose_files(inv, project="other")


@pytest.mark.docker
def test_find_compose_files_from_real_containers(tmp_path, docker_client, containers):
    from runbook_lib.engine.inventory import gather_inventory
    f = write(tmp_path, """
        services:
          web: {image: busybox, depends_on: [db]}
          db: {image: postgres:16}
    """)
    project = f"rbt-find-{tmp_path.name[-8:].lower().replace('_', '')}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web",
              "com.docker.compose.project.config_files": str(f),
              "com.docker.compose.project.working_dir": str(tmp_path)}
    containers("sleep 60", name=f"find-{tmp_path.name[-6:]}", labels=labels)
    inv = gather_inventory(docker_client, project=project)
    files, found = find_compose_files(inv)
    assert files == [str(f)] and found == project
    cat = load(files, project_name=found)
    assert cat.project == project and cat.graph == {"web": {"db"}, "db": set()}


def test_duplicate_key_is_refused_with_line(tmp_path):
    p = write(tmp_path, "services:\n  app:\n    image: a\n    image: b\n")
    with pytest.raises(ComposeError, match="line 4: key 'image' is defined twice") as err:
        load([p])
    assert err.value.file == str(p)


def test_merge_key_precedence_and_unknown_tags(tmp_path):
    p = write(tmp_path, """
        x-a: &a {restart: always, image: from-a}
        x-b: &b {restart: "no", image: from-b, container_name: from-b}
        services:
          s1:
            <<: [*a, *b]
            container_name: explicit
          s2:
            <<: *b
    """)
    cat = load([p])
    s1 = row(cat, "s1")
    assert (s1["restart"], s1["image"], s1["container_name"]) == ("always", "from-a", "explicit")
    assert row(cat, "s2")["restart"] == "no"
    bad = write(tmp_path, "services:\n  app: {image: !custom x}\n", "bad.yml")
    with pytest.raises(ComposeError, match="not valid YAML"):
        load([bad])
    merge_scalar = write(tmp_path, "x: &x 1\nservices:\n  app: {<<: *x, image: y}\n", "m.yml")
    with pytest.raises(ComposeError, match="merge key"):
        load([merge_scalar])


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("services:\n  app: {image: x, command: *a8}")
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ComposeError, match="excessive aliasing"):
        load([p])


def test_cli_catalog(fixtures_dir, tmp_path, capsys, monkeypatch):
    from runbook_lib.cli import main
    monkeypatch.chdir(tmp_path)
    rc = main(["catalog", "-f", str(fixtures_dir / "docker-compose.yml"),
               "-f", str(fixtures_dir / "docker-compose.monitoring.yml")])
    out = capsys.readouterr().out
    assert rc == 0 and "project vextrus-erp: 43 services" in out and "Infrastructure" in out
    assert "jaeger" in out
    rc = main(["catalog", "-f", str(fixtures_dir / "archive/docker-compose-complete.yml"),
               "-f", str(fixtures_dir / "archive/docker-compose.override.yml"), "--profile", "seed", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 0 and data["summary"]["services"] == 15
    assert "db-seed" not in data["summary"]["inactive_profiles"] and "pgadmin" in data["summary"]["inactive_profiles"]
    for secret in FIXTURE_SECRETS:
        assert secret not in out
    bad = write(tmp_path, "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n")
    rc = main(["catalog", "-f", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "dependency cycle" in err and "Fix:" in err and "Traceback" not in err


@pytest.mark.docker
def test_cli_catalog_from_running_containers(tmp_path, docker_client, containers, capsys, monkeypatch):
    from runbook_lib.cli import main
    monkeypatch.chdir(tmp_path)
    f = write(tmp_path, "services:\n  web: {image: busybox, healthcheck: {test: [CMD, 'true']}}\n")
    project = f"rbt-cli-{tmp_path.name[-8:].lower().replace('_', '')}"
    containers("sleep 60", name=f"cli-{tmp_path.name[-6:]}", labels={
        "com.docker.compose.project": project, "com.docker.compose.service": "web",
        "com.docker.compose.project.config_files": "docker-compose.yml",
        "com.docker.compose.project.working_dir": str(tmp_path)})
    rc = main(["catalog", "--project", project, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["summary"]["project"] == project and data["summary"]["files"] == [str(f)]


def test_implicit_dependencies(tmp_path):
    p = write(tmp_path, """
        services:
          db: {image: postgres:16}
          data: {image: busybox}
          vpn: {image: wireguard}
          app:
            image: app
            links: ["db:database"]
            volumes_from: [data, "container:external-box"]
            network_mode: "service:vpn"
            depends_on: {db: {condition: service_healthy}}
    """)
    app = row(load([p]), "app")
    assert [(d["service"], d["condition"]) for d in app["depends_on"]] == [
        ("db", "service_healthy"), ("data", "service_started"), ("vpn", "service_started")]
    bad = write(tmp_path, "services:\n  app: {image: x, links: [nothere]}\n", "bad.yml")
    with pytest.raises(ComposeError, match="nothere"):
        load([bad])


def test_invalid_service_name(tmp_path):
    p = write(tmp_path, 'services:\n  "bad name<script>": {image: x}\n')
    with pytest.raises(ComposeError, match="not valid") as err:
        load([p])
    assert err.value.file == str(p)


def test_untrusted_text_renders_inert(tmp_path):
    from runbook_lib.view import render
    from runbook_lib.compose.catalog import catalog_table
    p = write(tmp_path, """
        services:
          web:
            image: "acme/x:1"
            labels: {note: "<script>alert(1)</script>"}
            command: ["echo", "\\"><img src=x onerror=alert(1)>"]
            environment: {GREETING: "<script>alert(1)</script>"}
    """)
    cat = load([p])
    html = render.table_html(cat.frame[["service", "labels", "command", "environment"]])
    html += render.table_html(catalog_table(cat))
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_override_tag_then_third_file_merges_by_key(tmp_path):
    a = write(tmp_path, "services:\n  api: {image: x, environment: [A=1, B=2]}\n", "a.yml")
    b = write(tmp_path, "services:\n  api: {environment: !override [C=3]}\n", "b.yml")
    c = write(tmp_path, "services:\n  api: {environment: {D: '4'}}\n", "c.yml")
    assert row(load([a, b, c]), "api")["environment"] == {"C": "3", "D": "4"}


def test_profiles_as_string_and_unknown_tier_override_note(tmp_path):
    p = write(tmp_path, "services:\n  a: {image: x}\n  b: {image: x, profiles: [p1]}\n  c: {image: x, profiles: [p2]}\n")
    assert set(load([p], profiles="p1, p2").frame["service"]) == {"a", "b", "c"}
    cat = load([p], config=RunbookConfig(tiers={"a": "Core", "typo": "infrastructure", "b": "x"}))
    assert [n for n in cat.notes if "'typo'" in n] and not [n for n in cat.notes if "'b'" in n]


def test_secrets_from_dotenv_and_shell_are_masked_where_interpolated(tmp_path):
    (tmp_path / ".env").write_text("REDIS_PASSWORD=dotenv-canary-11\nPLAIN=ok\n")
    p = write(tmp_path, """
        services:
          ui:
            image: rediscommander/redis-commander
            environment:
              - REDIS_HOSTS=local:redis:6379:0:${REDIS_PASSWORD}
              - API=https://x/?k=${SERVICE_API_KEY}
            healthcheck: {test: ["CMD", "probe", "${REDIS_PASSWORD}"]}
    """)
    cat = load([p], environ={"SERVICE_API_KEY": "shell-canary-12", "UNRELATED_TOKEN": "zz-not-used-zz"})
    text = dump(cat)
    assert "dotenv-canary-11" not in text and "shell-canary-12" not in text
    assert cat.raw["ui"]["environment"]["REDIS_HOSTS"].endswith("dotenv-canary-11")
