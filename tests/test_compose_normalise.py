"""One shape per key: depends_on, healthcheck, ports, volumes, environment, networks, implicit dependencies."""
from __future__ import annotations

import json

import pytest

from runbook_lib import redact
from runbook_lib.compose.catalog import parse_port, parse_volume
from runbook_lib.config import RunbookConfig
from runbook_lib.exceptions import ComposeError

from compose_helpers import dump, load, row, write


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


def test_profiles_as_string_and_unknown_tier_override_note(tmp_path):
    p = write(tmp_path, "services:\n  a: {image: x}\n  b: {image: x, profiles: [p1]}\n  c: {image: x, profiles: [p2]}\n")
    assert set(load([p], profiles="p1, p2").frame["service"]) == {"a", "b", "c"}
    cat = load([p], config=RunbookConfig(tiers={"a": "Core", "typo": "infrastructure", "b": "x"}))
    assert [n for n in cat.notes if "'typo'" in n] and not [n for n in cat.notes if "'b'" in n]
