"""The project's own compose fixture (tests/fixtures/ledgerline-erp): load, merge, profiles, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib import redact
from runbook_lib.compose import catalog as compose
from runbook_lib.exceptions import ComposeError

from compose_helpers import FIXTURE_SECRETS, all_fixture_files, dump, load, row, write


PAIRS = [("docker-compose.yml", "docker-compose.prod.yml"),
         ("docker-compose.yml", "docker-compose.monitoring.yml"),
         ("docker-compose.yml", "docker-compose.prod.yml", "docker-compose.monitoring.yml"),
         ("archive/docker-compose-complete.yml", "archive/docker-compose.override.yml"),
         ("archive/docker-compose-core.yml", "archive/docker-compose.override.yml")]



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


def test_main_file_has_48_services_and_no_secrets(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"])
    assert len(cat.frame) == 48 and cat.inactive == {"load-test": ["perf"]}
    assert cat.project == "ledgerline-erp"
    text = dump(cat)
    for secret in FIXTURE_SECRETS:
        assert secret not in text
    assert redact.MASK in text
    # raw keeps what probes need, unmasked
    assert "ledgerline_pg_2025" in json.dumps(cat.raw["temporal"]["environment"])
    assert row(cat, "temporal")["environment"]["POSTGRES_PWD"] == redact.MASK
    assert "--requirepass [MASKED]" in row(cat, "redis")["command"]
    assert "ledgerline_redis_2025" not in json.dumps(row(cat, "redis-commander")["environment"])
    # ${POSTGRES_PASSWORD:?…} is satisfied by the .env next to the file, and masked where it lands
    assert cat.raw["db-migrate"]["environment"]["DATABASE_URL"].startswith("postgres://ledgerline:ledgerline_pg_2025@")
    assert "ledgerline_pg_2025" not in row(cat, "db-migrate")["environment"]["DATABASE_URL"]


def test_main_file_facts(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"])
    auth = row(cat, "auth")
    assert auth["image"] == "ledgerline-erp/auth:latest" and auth["build"] is True
    assert auth["tier"] == "application" and auth["container_name"] == "ledgerline-auth"
    assert [d["service"] for d in auth["depends_on"]] == ["postgres", "redis", "traefik"]
    assert all(d["condition"] == "service_started" for d in auth["depends_on"])
    assert auth["environment"]["BCRYPT_ROUNDS"] == "10"  # env_file ./env/auth.env
    assert auth["environment"]["KAFKA_BROKERS"] == "kafka:9093"  # merge key <<: *app-env
    fin = {d["service"]: d for d in row(cat, "finance")["depends_on"]}
    assert fin["eventstore"]["condition"] == "service_healthy" and fin["eventstore"]["required"] is True
    # depends_on from the x-nest-app anchor: every condition, restart: true
    wf = {d["service"]: d for d in row(cat, "workflow")["depends_on"]}
    assert wf["db-migrate"]["condition"] == "service_completed_successfully"
    assert wf["kafka"] == {"service": "kafka", "condition": "service_healthy", "required": True, "restart": True}
    assert wf["temporal"]["condition"] == "service_healthy" and wf["redis"]["condition"] == "service_started"
    gw = {d["service"]: d for d in row(cat, "api-gateway")["depends_on"]}
    assert gw["signoz-otel-collector"]["required"] is False
    pg = row(cat, "postgres")
    assert pg["tier"] == "infrastructure"
    assert pg["healthcheck"] == {"test": ["CMD-SHELL", "pg_isready -U ledgerline -d ledgerline_erp"], "interval_s": 10.0,
                                 "timeout_s": 5.0, "start_period_s": 0.0, "start_interval_s": 5.0, "retries": 5}
    assert pg["ports"] == [{"host_ip": "0.0.0.0", "host_port": 5432, "container_port": 5432, "protocol": "tcp"}]
    assert {"type": "named", "source": "postgres_data", "target": "/var/lib/postgresql/data",
            "read_only": False} in pg["volumes"]
    assert row(cat, "redis")["healthcheck"]["test"][0] == "CMD-SHELL"  # string form
    assert row(cat, "document-generator")["healthcheck"]["start_period_s"] == 45.0
    assert row(cat, "temporal")["healthcheck"]["start_period_s"] == 60.0  # 1m
    assert row(cat, "master-data")["healthcheck"]["interval_s"] == 15.0  # <<: *app-health
    assert row(cat, "zookeeper")["has_healthcheck"] is False and row(cat, "zookeeper")["healthcheck"] is None
    assert row(cat, "crm")["image"] is None and row(cat, "crm")["build"] is True
    assert row(cat, "traefik")["labels"]["traefik.enable"] == "true"
    assert "ops:$apr1$" in cat.raw["traefik"]["labels"]["traefik.http.middlewares.ops-auth.basicauth.users"]  # $$
    tr_vols = row(cat, "traefik")["volumes"]
    assert tr_vols[0]["type"] == "bind" and tr_vols[0]["read_only"] is True
    assert row(cat, "eventstore")["environment"]["EVENTSTORE_HTTP_PORT"] == "2113"  # list form
    assert row(cat, "signoz-query-service")["environment"]["TELEMETRY_ENABLED"] == "false"
    assert row(cat, "signoz-frontend")["depends_on"][0]["condition"] == "service_healthy"
    assert row(cat, "web")["networks"] == ["ledgerline-net"]
    # extends in the same file: signoz-clickhouse from clickhouse (environment merged by key)
    sc = cat.raw["signoz-clickhouse"]
    assert sc["image"] == "clickhouse/clickhouse-server:23.8-alpine" and sc["container_name"] == "ledgerline-signoz-clickhouse"
    assert sc["environment"] == {"CLICKHOUSE_DB": "signoz_traces", "CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT": "1"}
    assert [v["source"] for v in sc["volumes"]] == ["signoz_clickhouse_data"]  # merged by target
    # extends from another file: build, healthcheck, restart and environment come from common/nestjs-base.yml
    tax = cat.raw["tax"]
    assert tax["image"] == "ledgerline-erp/tax:latest" and tax["build"] and tax["restart"] == "unless-stopped"
    assert tax["healthcheck"]["test"][1] == "wget -q --spider http://127.0.0.1:${APP_PORT}/health || exit 1"
    assert tax["environment"]["NODE_ENV"] == "development" and tax["environment"]["TAX_RULES_REGION"] == "EU-WEST"
    tiers = cat.frame["tier"].value_counts().to_dict()
    assert tiers["infrastructure"] >= 20 and tiers["application"] >= 20
    graph = cat.graph
    assert graph["api-gateway"] == {"master-data", "workflow", "rules-engine", "auth", "signoz-otel-collector"}
    assert "notification" in cat.dependents()["mailhog"]


def test_version_interpolates_from_environ(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml"], environ={"VERSION": "1.4.2"})
    assert row(cat, "auth")["image"] == "ledgerline-erp/auth:1.4.2"


def test_required_variable_from_dotenv_and_shell(fixtures_dir):
    """${POSTGRES_PASSWORD:?…}: the shell wins over .env; an empty value is refused, naming the service."""
    cat = load([fixtures_dir / "docker-compose.yml"], environ={"POSTGRES_PASSWORD": "shell-pw-77"})
    assert "shell-pw-77@" in cat.raw["db-migrate"]["environment"]["DATABASE_URL"]
    with pytest.raises(ComposeError, match="POSTGRES_PASSWORD must be set in .env") as err:
        load([fixtures_dir / "docker-compose.yml"], environ={"POSTGRES_PASSWORD": ""})
    assert err.value.service == "db-migrate"


def test_prod_override_merges(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml", fixtures_dir / "docker-compose.prod.yml"])
    fin = row(cat, "finance")
    assert fin["restart"] == "always"
    assert fin["environment"]["NODE_ENV"] == "production"
    assert fin["environment"]["DATABASE_NAME"] == "ledgerline_finance"  # merged, not replaced
    assert len(fin["depends_on"]) == 4
    assert cat.raw["finance"]["files"] == [str(fixtures_dir / "docker-compose.yml"),
                                           str(fixtures_dir / "docker-compose.prod.yml")]
    assert fin["file"] == str(fixtures_dir / "docker-compose.yml")
    deploy = cat.raw["finance"]["spec"]["deploy"]["resources"]
    assert deploy["limits"] == {"cpus": "2.0", "memory": "2048M"} and deploy["reservations"]["memory"] == "1024M"
    assert cat.raw["finance"]["spec"]["build"]["target"] == "production"
    assert cat.raw["finance"]["spec"]["build"]["dockerfile"] == "./services/finance/Dockerfile"  # build merged by key
    gw = row(cat, "api-gateway")["environment"]
    assert gw["LOG_LEVEL"] == "warn" and gw["MASTER_DATA_URL"] == "http://master-data:3002"


def test_monitoring_override_merges(fixtures_dir):
    cat = load([fixtures_dir / "docker-compose.yml", fixtures_dir / "docker-compose.monitoring.yml"])
    assert len(cat.frame) == 50  # + otel-collector, jaeger
    prom = row(cat, "prometheus")
    assert prom["image"] == "prom/prometheus:v2.48.0"
    assert "--web.enable-lifecycle" in prom["command"]  # command replaced
    assert "--web.console.libraries=/usr/share/prometheus/console_libraries" not in prom["command"]
    targets = [v["target"] for v in prom["volumes"]]
    assert len(targets) == len(set(targets)) == 3  # merged by target
    graf = row(cat, "grafana")
    assert {p["host_port"] for p in graf["ports"]} == {3500, 3000}  # appended unique
    assert graf["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == redact.MASK
    assert graf["environment"]["GF_SECURITY_ADMIN_USER"] == "ops"  # merged by key
    assert "ledgerline_grafana_2025" not in dump(cat)
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
    assert auth["environment"]["DEBUG"] == "ledgerline:*" and "JWT_ACCESS_SECRET" in auth["environment"]
    assert "log_statement=all" in row(cat, "postgres")["command"]
    cat = load(base, profiles=["dev-tools"])
    assert {"mailhog", "pgadmin"} <= set(cat.frame["service"]) and "db-seed" not in set(cat.frame["service"])
    assert row(cat, "pgadmin")["environment"]["PGADMIN_DEFAULT_PASSWORD"] == redact.MASK
    cat = load(base, environ={"COMPOSE_PROFILES": "seed"})
    seed = row(cat, "db-seed")
    assert seed["depends_on"] == [{"service": "postgres", "condition": "service_healthy", "required": True,
                                   "restart": False}]
    assert "ledgerline_pg_2025" not in dump(cat)
    assert len(load(base, profiles=["*"]).frame) == 19


def test_cli_catalog(fixtures_dir, tmp_path, capsys, monkeypatch):
    from runbook_lib.cli import main
    monkeypatch.chdir(tmp_path)
    rc = main(["catalog", "-f", str(fixtures_dir / "docker-compose.yml"),
               "-f", str(fixtures_dir / "docker-compose.monitoring.yml")])
    out = capsys.readouterr().out
    assert rc == 0 and "project ledgerline-erp: 50 services" in out and "Infrastructure" in out
    assert "jaeger" in out
    rc = main(["catalog", "-f", str(fixtures_dir / "archive/docker-compose-complete.yml"),
               "-f", str(fixtures_dir / "archive/docker-compose.override.yml"), "--profile", "seed", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 0 and data["summary"]["services"] == 17
    assert "db-seed" not in data["summary"]["inactive_profiles"] and "pgadmin" in data["summary"]["inactive_profiles"]
    for secret in FIXTURE_SECRETS:
        assert secret not in out
    bad = write(tmp_path, "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n")
    rc = main(["catalog", "-f", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "dependency cycle" in err and "Fix:" in err and "Traceback" not in err
