"""One module per probe kind; ``BUILTIN`` lists the kinds the registry starts with.

Adding a kind = adding a module here with a ``ProbeKind`` subclass, and its class to ``BUILTIN``.
"""
from __future__ import annotations

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.kinds.clickhouse import ClickHouse
from runbook_lib.probes.kinds.docker import Docker
from runbook_lib.probes.kinds.elasticsearch import Elasticsearch
from runbook_lib.probes.kinds.eventstore import EventStore
from runbook_lib.probes.kinds.grafana import Grafana
from runbook_lib.probes.kinds.http import Http
from runbook_lib.probes.kinds.kafka import Kafka
from runbook_lib.probes.kinds.minio import Minio
from runbook_lib.probes.kinds.otel import Otel
from runbook_lib.probes.kinds.postgres import Postgres
from runbook_lib.probes.kinds.prometheus import Prometheus
from runbook_lib.probes.kinds.rabbitmq import RabbitMQ
from runbook_lib.probes.kinds.redis import Redis
from runbook_lib.probes.kinds.tcp import Tcp
from runbook_lib.probes.kinds.temporal import Temporal
from runbook_lib.probes.kinds.traefik import Traefik
from runbook_lib.probes.kinds.zookeeper import Zookeeper

BUILTIN: tuple[type[ProbeKind], ...] = (
    Http, Tcp, Docker, Postgres, Redis, Kafka, Zookeeper, Elasticsearch, ClickHouse, Traefik, Minio,
    RabbitMQ, EventStore, Temporal, Prometheus, Grafana, Otel,
)
