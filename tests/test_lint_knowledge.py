"""Lint advice comes from the technology table: data dirs and a healthcheck that fits the technology."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.analysis.lint import lint_files


def _lint(tmp_path: Path, text: str) -> pd.DataFrame:
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(text), encoding="utf-8")
    return lint_files([f], environ={})


@pytest.mark.parametrize("image,tool,data_dir", [
    ("confluentinc/cp-kafka:7.6.0", "kafka-broker-api-versions", "/var/lib/kafka/data"),
    ("bitnami/kafka:3.7", "kafka-broker-api-versions.sh", "/bitnami/kafka"),
    ("apache/kafka:3.8.0", "/opt/kafka/bin/kafka-broker-api-versions.sh", "/var/lib/kafka/data"),
    ("wurstmeister/kafka:2.13-2.8.1", "kafka-broker-api-versions", "/var/lib/kafka/data"),
])
def test_kafka_gets_a_kafka_healthcheck_not_http(tmp_path, image, tool, data_dir):
    df = _lint(tmp_path, f"""
        services:
          kafka:
            image: {image}
            restart: unless-stopped
            environment:
              PORT: "9092"
          orders:
            build: .
            image: orders:1.0
            restart: unless-stopped
            depends_on: [kafka]
        """)
    row = df[(df["service"] == "kafka") & (df["category"] == "dependency-without-healthcheck")].iloc[0]
    assert tool in row["fix"] and "--bootstrap-server" in row["fix"]
    assert "http://" not in row["fix"] and "wget" not in row["fix"]
    vol = df[(df["service"] == "kafka") & (df["category"] == "data-volume")].iloc[0]
    assert data_dir in vol["fix"] and "(kafka)" in vol["message"]


def test_known_technology_without_advice_gets_a_tcp_check_and_apps_an_http_one(tmp_path):
    df = _lint(tmp_path, """
        services:
          nats:
            image: nats:2.10
            restart: unless-stopped
          api:
            build: .
            image: api:1.0
            restart: unless-stopped
            environment:
              PORT: "3005"
            depends_on: [nats]
          web:
            image: web:1.0
            restart: unless-stopped
            depends_on: [api]
        """)
    fixes = dict(zip(df.loc[df["category"] == "dependency-without-healthcheck", "service"],
                     df.loc[df["category"] == "dependency-without-healthcheck", "fix"]))
    assert "nc -z 127.0.0.1 4222" in fixes["nats"] and "http://" not in fixes["nats"]
    assert "http://127.0.0.1:3005/health" in fixes["api"]
