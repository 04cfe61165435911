"""Tiers: infrastructure (known images) vs application (built here / unknown image).

A service whose image is a known database, broker, proxy or observability tool is
*infrastructure*; one built locally (``build:``) or with an unknown image is
*application*. The runbook config (``tiers: {service: tier}``) overrides either,
and may name its own tiers ("Core services", "Monitoring"). Readiness per tier
reads like the hand-written reports: "Infrastructure 8/8, Application 9/9".
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

INFRASTRUCTURE = "infrastructure"
APPLICATION = "application"

# Image repository names (registry and tag stripped) that are infrastructure.
# Matched against the last path component and the full repository name.
INFRA_IMAGE_PATTERNS: dict[str, str] = {
    "postgres": r"postgres(ql)?|postgis|timescaledb|pgbouncer|pgvector",
    "mysql": r"mysql|mariadb|percona",
    "mongo": r"mongo(db)?(-community-server)?",
    "redis": r"redis(-stack)?(-server)?|valkey|keydb|dragonfly",
    "redis-ui": r"redis-commander|redisinsight",
    "kafka": r"(cp-)?kafka|kafka-ui|redpanda|cp-schema-registry|schema-registry|kafdrop",
    "zookeeper": r"(cp-)?zookeeper",
    "elasticsearch": r"elasticsearch|opensearch",
    "kibana": r"kibana|opensearch-dashboards",
    "logstash": r"logstash|fluentd|fluent-bit|promtail|filebeat",
    "temporal": r"temporal(-ui)?|temporal-admin-tools",
    "traefik": r"traefik",
    "nginx": r"nginx|openresty|haproxy|caddy|envoy",
    "clickhouse": r"clickhouse(-server)?",
    "minio": r"minio",
    "rabbitmq": r"rabbitmq",
    "nats": r"nats(-streaming)?",
    "eventstore": r"eventstore(db)?",
    "otel": r"opentelemetry-collector(-contrib)?|otel-collector|otelcol(-contrib)?",
    "prometheus": r"prometheus|alertmanager|node-exporter|cadvisor|pushgateway|.*-exporter",
    "grafana": r"grafana|loki|tempo|mimir",
    "jaeger": r"jaeger(-all-in-one)?|zipkin",
    "signoz": r"signoz(-otel-collector|-schema-migrator)?",
    "mailhog": r"mailhog|mailpit|maildev",
    "pgadmin": r"pgadmin4?|adminer",
    "verdaccio": r"verdaccio|nexus3?",
    "vault": r"vault|consul|etcd",
    "memcached": r"memcached",
    "keycloak": r"keycloak",
}
# Namespaces (``org/…``) whose images are all infrastructure.
INFRA_NAMESPACES = ("bitnami", "confluentinc", "temporalio", "signoz", "grafana", "prom", "otel",
                    "elastic", "clickhouse", "minio", "jaegertracing", "provectuslabs", "eventstore",
                    "rediscommander", "dpage", "verdaccio", "mailhog", "axllent", "redpandadata",
                    "opensearchproject", "hashicorp", "keycloak")
# Names that are infrastructure only under one of the namespaces above (temporalio/ui).
_GENERIC_NAMES = {"ui", "frontend", "registry", "mc", "all-in-one", "vector", "auto-setup", "query-service"}
_INFRA_RE = re.compile("^(?:" + "|".join(f"(?:{p})" for p in INFRA_IMAGE_PATTERNS.values()) + ")$")


def image_repository(image: str | None) -> str:
    """``registry:5000/org/name:tag@sha`` -> ``org/name`` (lowercase, no registry, tag, digest)."""
    if not image:
        return ""
    name = str(image).split("@", 1)[0].lower()
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def is_infrastructure_image(image: str | None) -> bool:
    """True when the image is a known infrastructure image (database, broker, proxy …)."""
    repo = image_repository(image)
    if not repo:
        return False
    parts = repo.split("/")
    if len(parts) > 1 and parts[0] in INFRA_NAMESPACES:
        return True
    last = parts[-1]
    return last not in _GENERIC_NAMES and bool(_INFRA_RE.match(last))


def classify(service: str, image: str | None, build: bool, overrides: Mapping[str, str] | None = None) -> str:
    """Tier of one service: the config override, else infrastructure/application by image."""
    if overrides and service in overrides:
        return overrides[service]
    if build:
        return APPLICATION
    return INFRASTRUCTURE if is_infrastructure_image(image) else APPLICATION


def assign_tiers(frame: pd.DataFrame, overrides: Mapping[str, str] | None = None) -> pd.Series:
    """Tier per row of a frame with ``service``, ``image`` and ``build`` columns."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    builds = frame["build"] if "build" in frame.columns else pd.Series(False, index=frame.index)
    return pd.Series([classify(s, i, bool(b), overrides)
                      for s, i, b in zip(frame["service"], frame["image"], builds)],
                     index=frame.index, dtype=object)


def tier_label(tier: str) -> str:
    """Display name: 'infrastructure' -> 'Infrastructure'; custom names keep their spelling."""
    return tier[:1].upper() + tier[1:] if tier in (INFRASTRUCTURE, APPLICATION) else tier


READY_STATES = {"running healthy", "running without healthcheck", "running-healthy", "running-no-healthcheck",
                "healthy", "running"}
READINESS_COLUMNS = ["tier", "label", "ready", "total", "pct", "text"]


def _ready(frame: pd.DataFrame) -> pd.Series:
    """Readiness per row: a ``ready`` column wins; else state (+ health) decides."""
    for col in ("ready", "is_up"):
        if col in frame.columns:
            return frame[col].fillna(False).astype(bool)
    if "state" not in frame.columns:
        raise ValueError("readiness_by_tier needs a 'ready', 'is_up' or 'state' column")
    state = frame["state"].fillna("").astype(str)
    if "health" in frame.columns:
        health = frame["health"].fillna("none").astype(str)
        return (state == "running") & health.isin(["healthy", "none", ""]) | (
            state.isin(READY_STATES) & (state != "running"))
    return state.isin(READY_STATES)


def readiness_by_tier(status_frame: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Rows of tier, label, ready, total, pct, text ("Infrastructure 8/8") per tier.

    ``status_frame`` needs ``tier`` and a boolean ``ready`` or ``is_up`` column (the
    expected-vs-actual frame), or ``state`` (+ ``health``) as in the inventory. Rows
    with ``expected`` False (profile not active) are left out. Infrastructure comes
    first, application last, custom tiers in between (in ``order`` or by name).
    """
    if status_frame is not None and "expected" in status_frame.columns and len(status_frame):
        status_frame = status_frame[status_frame["expected"].fillna(True).astype(bool)]
    if status_frame is None or status_frame.empty:
        return pd.DataFrame(columns=READINESS_COLUMNS)
    df = pd.DataFrame({"tier": status_frame["tier"].fillna(APPLICATION).astype(str).to_numpy(),
                       "ready": _ready(status_frame).to_numpy()})
    grouped = df.groupby("tier", sort=False)["ready"].agg(["sum", "count"])
    tiers = list(grouped.index)
    custom = [t for t in (order or []) if t in tiers and t not in (INFRASTRUCTURE, APPLICATION)]
    custom += sorted(t for t in tiers if t not in custom and t not in (INFRASTRUCTURE, APPLICATION))
    ordered = ([INFRASTRUCTURE] if INFRASTRUCTURE in tiers else []) + custom + (
        [APPLICATION] if APPLICATION in tiers else [])
    rows = []
    for t in ordered:
        ready, total = int(grouped.loc[t, "sum"]), int(grouped.loc[t, "count"])
        label = tier_label(t)
        rows.append({"tier": t, "label": label, "ready": ready, "total": total,
                     "pct": round(100.0 * ready / total, 1) if total else None,
                     "text": f"{label} {ready}/{total}"})
    return pd.DataFrame(rows, columns=READINESS_COLUMNS)


def readiness_text(status_frame: pd.DataFrame, order: list[str] | None = None) -> str:
    """One line for a banner: "Infrastructure 8/8, Application 9/9"."""
    return ", ".join(readiness_by_tier(status_frame, order)["text"])
