"""The plaintext-secret lint: real literals flagged, weak and placeholder secrets named, the rest left alone."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from runbook_lib.analysis.lint import lint_files

COMPOSE = """
services:
  shop-db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: postgres
      POSTGRES_HOST_AUTH_METHOD: trust
      POSTGRES_PASSWORD_FILE: /run/secrets/pg
  api:
    image: node:20
    environment:
      SECRET_KEY_BASE: replace-me
      JWT_SECRET: 9f2c1e7ab44d0c55e1f3a8b2
      REDIS_PASSWORD: shop-db
      AUTHOR: alice
      SORT_KEY: name
      SASL_MECHANISM_CLASS: org.apache.kafka.common.security.plain.PlainLoginModule
      TLS_KEY_PATH: /etc/ssl/private/api.key
  cache:
    image: redis:7
    command: ["sh", "-c", "redis-server --requirepass \\"$$(cat $$REDIS_PASSWORD_FILE)\\""]
"""


def _lint(tmp_path: Path) -> pd.DataFrame:
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(COMPOSE))
    return lint_files([f], environ={})


def test_real_literal_is_plaintext_secret(tmp_path):
    df = _lint(tmp_path)
    plain = df[df["category"] == "plaintext-secret"]
    assert list(plain["key"]) == ["environment.JWT_SECRET"]
    assert "9f2c1e7ab44d0c55e1f3a8b2" not in df.to_json()


def test_weak_and_placeholder_secrets_are_their_own_finding(tmp_path):
    df = _lint(tmp_path)
    weak = df[df["category"] == "weak-secret"].set_index("key")
    assert set(weak.index) == {"environment.POSTGRES_PASSWORD", "environment.SECRET_KEY_BASE",
                               "environment.REDIS_PASSWORD"}
    assert "placeholder" in weak.loc["environment.SECRET_KEY_BASE", "message"]
    assert "name of this stack" in weak.loc["environment.REDIS_PASSWORD", "message"]
    assert (weak["severity"] == "high").all()


def test_settings_paths_class_names_and_secret_files_are_not_secrets(tmp_path):
    df = _lint(tmp_path)
    flagged = set(df.loc[df["category"].isin(["plaintext-secret", "weak-secret"]), "key"])
    for key in ("AUTHOR", "SORT_KEY", "SASL_MECHANISM_CLASS", "TLS_KEY_PATH", "POSTGRES_HOST_AUTH_METHOD",
                "POSTGRES_PASSWORD_FILE"):
        assert f"environment.{key}" not in flagged
    assert not ((df["service"] == "cache") & (df["category"] == "plaintext-secret")).any()
    # identifiers are never masked in the findings
    assert "shop-db" in set(df["service"])
