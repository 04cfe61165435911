"""Zero-configuration derivation over the ledgerline-erp fixture compose files (pure, no engine)."""
from __future__ import annotations

import pandas as pd
import pytest

from runbook_lib.compose import catalog as compose
from runbook_lib.probes import derive as probe_derive
from runbook_lib.probes import discovery
from runbook_lib.config import parse_config
from runbook_lib.probes.derive import derive_probes, image_kind
from runbook_lib.probes.spec import ProbeSpec, specs_frame


@pytest.fixture(scope="module")
def catalog(fixtures_dir):
    return compose.load_catalog([fixtures_dir / "docker-compose.yml"], environ={}, config=None)


@pytest.fixture(scope="module")
def complete(fixtures_dir):
    return compose.load_catalog([fixtures_dir / "archive" / "docker-compose-complete.yml"], environ={}, config=None)


def _by_service(specs, kind=None):
    out = {}
    for s in specs:
        if kind is None or s.kind == kind:
            out.setdefault(s.service, []).append(s)
    return out


@pytest.mark.parametrize("image,kind", [
    ("postgres:16-alpine", "postgres"), ("redis:7-alpine", "redis"), ("bitnami/redis:7.2", "redis"),
    ("confluentinc/cp-kafka:7.5.0", "kafka"), ("confluentinc/cp-zookeeper:7.5.0", "zookeeper"),
    ("elasticsearch:8.11.1", "elasticsearch"), ("clickhouse/clickhouse-server:23.8-alpine", "clickhouse"),
    ("traefik:v3.5", "traefik"), ("minio/minio:latest", "minio"), ("rabbitmq:3-management", "rabbitmq"),
    ("eventstore/eventstore:23.10.0-bookworm-slim", "eventstore"), ("temporalio/auto-setup:1.22.0", "temporal"),
    ("prom/prometheus:v2.48.0", "prometheus"), ("grafana/grafana:10.2.0", "grafana"),
    ("otel/opentelemetry-collector-contrib:0.91.0", "otel"),
    ("rediscommander/redis-commander:latest", None), ("provectuslabs/kafka-ui:latest", None),
    ("temporalio/ui:2.21.0", None), ("vextrus-erp/auth:latest", None), (None, None),
])
def test_image_to_kind(image, kind):
    assert image_kind(image)[0] == kind


def test_every_service_of_the_real_stack_gets_a_probe(catalog):
    specs = derive_probes(catalog, None)
    services = set(catalog.raw)
    probed = {s.service for s in specs if s.kind != "docker"}
    assert probed == services
    kinds = {s.service: s.kind for s in specs if s.kind != "docker"}
    assert kinds["postgres"] == "postgres" and kinds["redis"] == "redis" and kinds["kafka"] == "kafka"
    assert kinds["signoz-clickhouse"] == "clickhouse" and kinds["temporal"] == "temporal"
    assert kinds["auth"] == "http" and kinds["kafka-ui"] == "tcp"
    # all traffic goes to loopback
    assert {s.host for s in specs} == {"127.0.0.1"}


def test_published_ports_map_to_loopback_host_port(catalog):
    specs = _by_service(derive_probes(catalog, None))
    es = [s for s in specs["eventstore"] if s.kind == "eventstore"][0]
    assert (es.port, es.via) == (22113, "host")  # 22113:2113
    tr = [s for s in specs["traefik"] if s.kind == "traefik"][0]
    assert tr.port == 8081  # 8081:8080 (dashboard/ping port)
    zk = [s for s in specs["zookeeper"] if s.kind == "zookeeper"][0]
    assert zk.via == "none" and zk.options["why_not"] == "port not published"


def test_redis_password_from_requirepass_never_in_target(catalog):
    redis = [s for s in derive_probes(catalog, None) if s.kind == "redis"][0]
    assert redis.options["password"] == "ledgerline_redis_2025"
    assert "ledgerline_redis_2025" not in redis.target
    assert "ledgerline_redis_2025" not in specs_frame([redis]).to_json()


def test_postgres_credentials_from_own_env_or_clients(complete, catalog, fixtures_dir):
    pg = [s for s in derive_probes(complete, None) if s.kind == "postgres"][0]
    assert pg.options.get("user") and pg.options.get("password") and pg.options.get("dbname")
    own = [s for s in derive_probes(catalog, None) if s.kind == "postgres"][0]
    assert own.options == {"user": "ledgerline", "dbname": "ledgerline_erp", "password": "ledgerline_pg_2025"}
    # without-temporal: POSTGRES_PASSWORD is ${POSTGRES_PASSWORD:-} (empty) and no client has one → no credentials
    bare = compose.load_catalog([fixtures_dir / "archive" / "docker-compose-without-temporal.yml"], environ={}, config=None)
    pg2 = [s for s in derive_probes(bare, None) if s.kind == "postgres"][0]
    assert "password" not in pg2.options


def test_credential_helpers():
    assert probe_derive.postgres_credentials({"POSTGRES_PASSWORD": "x1"}) == {"user": "postgres", "dbname": "postgres", "password": "x1"}
    assert probe_derive.postgres_credentials({"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "${PW}"}) == {}
    assert probe_derive.postgres_credentials({"POSTGRES_HOST_AUTH_METHOD": "trust"}) == {"user": "postgres", "dbname": "postgres"}
    assert probe_derive.redis_credentials({}, ["redis-server", "--requirepass", "abc123"]) == {"password": "abc123"}
    assert probe_derive.redis_credentials({}, "redis-server --requirepass=abc123 --appendonly yes") == {"password": "abc123"}
    assert probe_derive.redis_credentials({"REDIS_PASSWORD": "zz99"}, None) == {"password": "zz99"}
    assert probe_derive.redis_credentials({}, ["sh", "-c", "redis-server --requirepass q1w2e3"]) == {"password": "q1w2e3"}
    raw = {"api": {"environment": {"DATABASE_URL": "postgres://app:apw1@db:5432/appdb"}},
           "db": {"environment": {}}}
    assert probe_derive.client_credentials("postgres", ["db"], raw) == {"password": "apw1", "user": "app", "dbname": "appdb"}
    raw = {"api": {"environment": {"REDIS_HOST": "cache", "REDIS_PASSWORD": "rpw1"}}}
    assert probe_derive.client_credentials("redis", ["cache"], raw) == {"password": "rpw1"}


def test_app_health_path_discovery_puts_healthcheck_path_first(catalog):
    specs = _by_service(derive_probes(catalog, None), "http")
    paths = [s.path for s in specs["document-generator"]]
    assert paths[0] == "/api/v1/health"  # from its own healthcheck wget URL
    assert set(paths) == set(discovery.HEALTH_PATHS)
    assert [s.path for s in specs["auth"]] == list(discovery.HEALTH_PATHS)
    assert all(s.options.get("discover") for s in specs["auth"])


def test_config_overrides_adds_and_disables(catalog):
    cfg = parse_config({"probes": {
        "auth": [{"kind": "http", "port": 3001, "path": "/api/v1/health", "expected_status": 200}],
        "kafka-ui": [{"kind": "tcp", "enabled": False}],
        "redis": [{"kind": "redis", "port": 6380}],
        "outside": [{"kind": "tcp", "port": 9999, "timeout_s": 0.5}],
    }})
    specs = derive_probes(catalog, None, cfg)
    auth = [s for s in specs if s.service == "auth" and s.kind == "http"]
    assert len(auth) == 1 and auth[0].path == "/api/v1/health" and not auth[0].options.get("discover")
    assert auth[0].options["expected_status"] == 200
    assert not [s for s in specs if s.service == "kafka-ui" and s.kind == "tcp"]
    redis = [s for s in specs if s.kind == "redis"][0]
    assert redis.port == 6380 and redis.options["password"] == "ledgerline_redis_2025"  # credentials kept
    outside = [s for s in specs if s.service == "outside"][0]
    assert (outside.port, outside.timeout_s) == (9999, 0.5)


def test_inventory_ports_win_and_docker_probe_added(catalog):
    inv = pd.DataFrame([{"project": catalog.project, "service": "auth", "name": "vextrus-auth", "id": "abc123",
                         "state": "running", "published_ports": [{"host_ip": "127.0.0.1", "host_port": 40001,
                                                                  "container_port": 3001, "protocol": "tcp"}]},
                        {"project": catalog.project, "service": "zookeeper", "name": "zk", "id": "zk999",
                         "state": "running", "published_ports": []}])
    specs = derive_probes(catalog, inv)
    auth = [s for s in specs if s.service == "auth"]
    assert auth[0].kind == "docker" and auth[0].container == "abc123"
    assert {s.port for s in auth if s.kind == "http"} == {40001}
    zk = [s for s in specs if s.service == "zookeeper" and s.kind == "zookeeper"][0]
    assert zk.via == "exec" and zk.container == "zk999" and zk.port == 2181
    # services with no container get no docker probe when the engine answered
    assert not [s for s in specs if s.service == "postgres" and s.kind == "docker"]


def _row(service, path, code, state, detail=None, error=None):
    return {"service": service, "kind": "http", "target": f"127.0.0.1:3001{path}", "via": "host",
            "state": state, "ok": state in ("up", "degraded"), "latency_ms": 1.0,
            "reply": f"HTTP {code}" if code else None, "detail": detail or [], "error": error,
            "checked_at": pd.Timestamp("2026-11-27T00:00:00Z")}


def test_collapse_audit_and_standardisation_like_the_seed():
    paths = discovery.HEALTH_PATHS
    rows, specs = [], []
    answers = {"auth": {"/api/v1/health": 200}, "master-data": {"/api/v1/health": 200},
               "web": {"/api/health": 200}, "finance": {}}
    for svc, ok in answers.items():
        for p in paths:
            code = ok.get(p, 404)
            rows.append(_row(svc, p, code, "up" if code == 200 else "down",
                             error=None if code == 200 else f"unexpected status {code}"))
            specs.append(ProbeSpec(svc, "http", port=3001, path=p, options={"discover": True}))
    rows.append(_row("auth", "", None, "up") | {"kind": "docker", "target": "container:x"})
    specs.append(ProbeSpec("auth", "docker", container="x"))
    df = pd.DataFrame(rows)
    collapsed = discovery.collapse_discovery(df, specs)
    assert len(collapsed) == 5
    fin = collapsed[collapsed["service"] == "finance"].iloc[0]
    assert fin["state"] == "down" and "no health endpoint found" in fin["error"]
    audit = discovery.endpoint_audit(df, specs)
    assert len(audit) == 4 * len(paths)
    std = discovery.standardisation(audit)
    assert std["standard_path"] == "/api/v1/health"
    assert std["non_standard"] == ["web"] and std["no_endpoint"] == ["finance"]
    matrix = discovery.audit_matrix(audit)
    assert list(matrix.columns) == ["service", *paths, "working_path"]
    assert matrix.set_index("service").loc["auth", "/health"] == "404"
