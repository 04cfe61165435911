"""One module per probe kind; ``BUILTIN`` names the kinds the registry starts with.

``BUILTIN`` maps a kind's name to ``"module:Class"``: the registry imports a kind's module
on its first lookup (a documented plugin mechanism), so a stack without temporal never
imports grpc. Each kind module keeps its library imports at its top.
Adding a kind = adding a module here with a ``ProbeKind`` subclass, and its entry to ``BUILTIN``.
"""
from __future__ import annotations

_PKG = "runbook_lib.probes.kinds"

BUILTIN: dict[str, str] = {
    "http": f"{_PKG}.http:Http",
    "tcp": f"{_PKG}.tcp:Tcp",
    "docker": f"{_PKG}.docker:Docker",
    "postgres": f"{_PKG}.postgres:Postgres",
    "redis": f"{_PKG}.redis:Redis",
    "kafka": f"{_PKG}.kafka:Kafka",
    "zookeeper": f"{_PKG}.zookeeper:Zookeeper",
    "elasticsearch": f"{_PKG}.elasticsearch:Elasticsearch",
    "clickhouse": f"{_PKG}.clickhouse:ClickHouse",
    "traefik": f"{_PKG}.traefik:Traefik",
    "minio": f"{_PKG}.minio:Minio",
    "rabbitmq": f"{_PKG}.rabbitmq:RabbitMQ",
    "eventstore": f"{_PKG}.eventstore:EventStore",
    "temporal": f"{_PKG}.temporal:Temporal",
    "prometheus": f"{_PKG}.prometheus:Prometheus",
    "grafana": f"{_PKG}.grafana:Grafana",
    "otel": f"{_PKG}.otel:Otel",
}
