"""Healthcheck advice fits each technology: only tools its official image has, HTTP only where it speaks HTTP.

Every record of the technology table (variants and the HTTP application included) documents
its official image's tool set (``tools``, with ``source``); its advice may call nothing else,
``sh -c`` scripts and pipelines included. A technology that does not speak HTTP never gets
an HTTP check (Kafka, PostgreSQL, Redis, ZooKeeper, Temporal …).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runbook_lib import knowledge
from runbook_lib.analysis.lint import lint_files

HTTP_TOOLS = {"curl", "wget"}


def _records() -> list[knowledge.Technology]:
    out = []
    for tech in knowledge.technologies():
        out.append(tech)
        out.extend(tech.variants)
    out.append(knowledge.application())
    return out


def _id(tech: knowledge.Technology) -> str:
    return f"{tech.name}:{tech.images[0] if tech.images else 'app'}"


WITH_ADVICE = [t for t in _records() if t.healthcheck is not None]


@pytest.mark.parametrize("tech", WITH_ADVICE, ids=_id)
def test_advice_uses_only_its_own_images_tools(tech):
    hc = tech.healthcheck
    assert hc.source, f"{_id(tech)}: document where the tool set comes from"
    used = set(hc.executables())
    assert used <= set(hc.tools), f"{_id(tech)}: {sorted(used - set(hc.tools))} not in its image ({hc.source})"
    if hc.test:
        assert hc.test[0] in ("CMD", "CMD-SHELL") and used


@pytest.mark.parametrize("tech", [t for t in WITH_ADVICE if not t.http], ids=_id)
def test_no_http_advice_for_a_technology_that_does_not_speak_http(tech):
    text = " ".join(tech.healthcheck.test)
    assert "http://" not in text and "https://" not in text, _id(tech)
    assert not set(tech.healthcheck.executables()) & HTTP_TOOLS, _id(tech)


@pytest.mark.parametrize("script,want", [
    ("pg_isready -U $${POSTGRES_USER:-postgres}", ["pg_isready"]),
    ("temporal operator cluster health --address $$(hostname -i):7233 | grep -q SERVING",
     ["temporal", "hostname", "grep"]),
    ("A=1 foo x && (bar; baz) | sh -c 'qux 1 | quux' || exit 1", ["foo", "bar", "baz", "sh", "qux", "quux"]),
    ("bash -c 'exec 3<>/dev/tcp/127.0.0.1/9901'", ["bash"]),
    ("echo ruok | nc localhost 2181 | grep -q imok", ["nc", "grep"]),
    ("x `y z`", ["x", "y"]),
])
def test_shell_executables(script, want):
    assert knowledge.shell_executables(script) == want


def test_cmd_form_with_sh_c_is_parsed_inside():
    assert knowledge.test_executables(["CMD", "/bin/sh", "-c", "curl -f x || wget y"]) == ["/bin/sh", "curl", "wget"]
    assert knowledge.test_executables(["CMD-SHELL", "redis-cli ping | grep -q PONG"]) == ["sh", "redis-cli", "grep"]
    assert knowledge.test_executables(["CMD", "mc", "ready", "local"]) == ["mc"]


# The technologies issue 11 names, each with an image of it, whether it speaks HTTP, and a tool its advice runs.
NAMED = [
    ("confluentinc/cp-kafka:7.6.0", "kafka", False, "kafka-broker-api-versions"),
    ("postgres:16", "postgres", False, "pg_isready"),
    ("redis:7", "redis", False, "redis-cli"),
    ("docker.elastic.co/elasticsearch/elasticsearch:8.13.4", "elasticsearch", True, "curl"),
    ("confluentinc/cp-zookeeper:7.6.0", "zookeeper", False, "zookeeper-shell"),
    ("zookeeper:3.9", "zookeeper", False, "zkServer.sh"),
    ("clickhouse/clickhouse-server:24.3", "clickhouse", True, "wget"),
    ("rabbitmq:3-management", "rabbitmq", True, "rabbitmq-diagnostics"),
    ("minio/minio:latest", "minio", True, "mc"),
    ("temporalio/auto-setup:1.24", "temporal", False, "temporal"),
    ("temporalio/server:1.28", "temporal", False, "nc"),
    ("traefik:v3.0", "traefik", True, "traefik"),
]


@pytest.mark.parametrize("image,name,http,tool", NAMED, ids=[n[0] for n in NAMED])
def test_named_technologies_have_fitting_advice(image, name, http, tool):
    tech = knowledge.for_image(image)
    assert tech is not None and tech.name == name and tech.http is http
    assert tech.healthcheck is not None and tool in tech.healthcheck.executables()


def test_lint_gives_each_named_technology_its_own_advice(tmp_path: Path):
    services = {f"s{i}": image for i, (image, *_rest) in enumerate(NAMED)}
    lines = ["services:"]
    for svc, image in services.items():
        lines += [f"  {svc}:", f"    image: {image}", "    restart: unless-stopped"]
    lines += ["  app:", "    build: .", "    image: app:1", "    restart: unless-stopped",
              "    environment: {PORT: '3005'}", "    depends_on: [" + ", ".join(services) + "]",
              "  web:", "    image: web:1", "    restart: unless-stopped", "    depends_on: [app]"]
    f = tmp_path / "docker-compose.yml"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = lint_files([f], environ={})
    rows = df[df["category"] == "dependency-without-healthcheck"]
    fixes = dict(zip(rows["service"], rows["fix"]))
    for (svc, image), (_, name, http, tool) in zip(services.items(), NAMED):
        assert tool in fixes[svc], (image, fixes[svc])
        if not http:
            assert "http://" not in fixes[svc] and "wget" not in fixes[svc] and "curl" not in fixes[svc], image
    assert "http://127.0.0.1:3005/health" in fixes["app"] and "wget" in fixes["app"]


def test_the_table_documents_the_healthcheck_fields():
    text = textwrap.dedent(knowledge.TABLE_PATH.read_text(encoding="utf-8"))
    assert "tools: the executables on its PATH" in text and "source:" in text and "http:" in text
