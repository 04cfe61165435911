"""Tiers: infrastructure vs application by image, config overrides, readiness per tier."""
from __future__ import annotations

import pandas as pd
import pytest

from runbook_lib import knowledge
from runbook_lib.analysis import tiers
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.config import RunbookConfig


@pytest.mark.parametrize("image", [
    "postgres:16-alpine", "docker.io/library/postgres:16", "redis:7-alpine", "confluentinc/cp-kafka:7.5.0",
    "confluentinc/cp-zookeeper:7.5.0", "zookeeper:3.9", "elasticsearch:8.11.1",
    "docker.elastic.co/elasticsearch/elasticsearch:8.11.1", "temporalio/auto-setup:1.22.0", "temporalio/ui:2.21.0",
    "traefik:v3.5", "clickhouse/clickhouse-server:23.8-alpine", "minio/minio:latest", "rabbitmq:3-management",
    "eventstore/eventstore:23.10.0-bookworm-slim", "otel/opentelemetry-collector-contrib:0.88.0",
    "prom/prometheus:v2.47.0", "grafana/grafana:10.1.5", "jaegertracing/all-in-one:1.52", "signoz/frontend:0.38.2",
    "signoz/query-service:0.38.2", "nginx:1.25", "mailhog/mailhog:latest", "dpage/pgadmin4:latest",
    "kibana:8.11.1", "verdaccio/verdaccio:5", "adminer:4.8.1", "rediscommander/redis-commander:latest",
    "provectuslabs/kafka-ui:latest", "bitnami/kafka:3.6", "ghcr.io/some/redis:7", "localhost:5000/postgres",
    "mongo@sha256:0123",
])
def test_infrastructure_images(image):
    assert knowledge.is_infrastructure_image(image)
    assert knowledge.tier_of("svc", image, build=False) == "infrastructure"


@pytest.mark.parametrize("image", [
    "vextrus-erp/auth:latest", "acme/api:1", "myapp", "acme/ui:2", "acme/frontend", "registry.local/acme/registry:1",
    "acme/postgres-backup-tool:1", None, "",
])
def test_application_images(image):
    assert not knowledge.is_infrastructure_image(image)
    assert knowledge.tier_of("svc", image, build=False) == "application"


def test_build_wins_over_known_image_and_config_wins_over_all():
    assert knowledge.tier_of("db", "postgres:16", build=True) == "application"
    assert knowledge.tier_of("db", "acme/x", build=True, overrides={"db": "infrastructure"}) == "infrastructure"
    assert knowledge.tier_of("gw", "traefik:v3", build=False, overrides={"gw": "Edge"}) == "Edge"


def test_image_repository():
    assert knowledge.image_repository("registry:5000/org/name:tag@sha256:1") == "org/name"
    assert knowledge.image_repository("docker.io/library/postgres:16") == "postgres"
    assert knowledge.image_repository("Postgres") == "postgres"
    assert knowledge.image_repository(None) == ""


def test_assign_tiers_frame():
    df = pd.DataFrame({"service": ["db", "api"], "image": ["postgres:16", None], "build": [False, True]})
    assert list(tiers.assign_tiers(df)) == ["infrastructure", "application"]
    assert list(tiers.assign_tiers(df, {"api": "Core"})) == ["infrastructure", "Core"]
    assert tiers.assign_tiers(df.iloc[0:0]).empty


def test_fixture_tiers(fixtures_dir):
    cat = load_catalog([fixtures_dir / "docker-compose.yml"], environ={}, config=RunbookConfig())
    t = dict(zip(cat.frame["service"], cat.frame["tier"]))
    for s in ("postgres", "redis", "kafka", "zookeeper", "elasticsearch", "temporal", "traefik", "signoz-clickhouse",
              "minio", "rabbitmq", "eventstore", "signoz-otel-collector", "prometheus", "grafana", "mailhog",
              "verdaccio", "kafka-ui", "adminer"):
        assert t[s] == "infrastructure", s
    for s in ("auth", "master-data", "api-gateway", "finance", "crm", "web", "workflow"):
        assert t[s] == "application", s


def test_readiness_by_tier_from_ready_column():
    status = pd.DataFrame({
        "service": list("abcdefg"),
        "tier": ["infrastructure"] * 3 + ["Core services"] * 2 + ["application"] * 2,
        "ready": [True, True, True, True, False, False, None],
    })
    out = tiers.readiness_by_tier(status)
    assert list(out["text"]) == ["Infrastructure 3/3", "Core services 1/2", "Application 0/2"]
    assert list(out["pct"]) == [100.0, 50.0, 0.0]
    assert list(out.columns) == tiers.READINESS_COLUMNS
    assert tiers.readiness_text(status) == "Infrastructure 3/3, Core services 1/2, Application 0/2"


def test_readiness_by_tier_from_expected_frame_and_inventory_states():
    expected_like = pd.DataFrame({"service": list("abcd"), "tier": ["infrastructure", "infrastructure",
                                                                     "application", "application"],
                                  "is_up": [True, False, True, False], "expected": [True, True, True, False]})
    assert tiers.readiness_text(expected_like) == "Infrastructure 1/2, Application 1/1"
    inv_like = pd.DataFrame({"service": list("abcde"), "tier": ["infrastructure"] * 5,
                             "state": ["running", "running", "running", "exited", "restarting"],
                             "health": ["healthy", "none", "unhealthy", "none", "none"]})
    assert tiers.readiness_text(inv_like) == "Infrastructure 2/5"
    labels = pd.DataFrame({"tier": ["x", "x", "x"], "state": ["running-healthy", "running-no-healthcheck", "exited"]})
    assert tiers.readiness_text(labels) == "x 2/3"


def test_readiness_custom_order_and_empty():
    status = pd.DataFrame({"tier": ["Monitoring", "Business", "infrastructure"], "ready": [True, True, False]})
    assert tiers.readiness_text(status, order=["Monitoring", "Business"]) == \
        "Infrastructure 0/1, Monitoring 1/1, Business 1/1"
    assert tiers.readiness_text(status) == "Infrastructure 0/1, Business 1/1, Monitoring 1/1"
    assert tiers.readiness_by_tier(pd.DataFrame()).empty
    with pytest.raises(ValueError, match="ready"):
        tiers.readiness_by_tier(pd.DataFrame({"tier": ["a"]}))
