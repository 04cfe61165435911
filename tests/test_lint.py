"""Compose lint over the ledgerline-erp fixture files (including archive/) and small hand-written cases."""
from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.analysis import lint
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.exceptions import ConfigError
from runbook_lib.analysis.lint import LINT_COLUMNS, lint_catalog, lint_files

FIXTURE_SECRETS = ("ledgerline_pg_2025", "ledgerline_redis_2025", "ledgerline_jwt_access_2025",
                   "ledgerline_jwt_refresh_2025", "ledgerline_minio_2025", "ledgerline_grafana_2025",
                   "ledgerline_rabbit_2025", "ledgerline_pgadmin_2025", "ledgerline_elastic_2025")


def _lint_yaml(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> pd.DataFrame:
    f = tmp_path / name
    f.write_text(textwrap.dedent(text), encoding="utf-8")
    return lint_files([f], environ={})


def _rows(df: pd.DataFrame, category: str, service: str | None = None) -> pd.DataFrame:
    out = df[df["category"] == category]
    return out[out["service"] == service] if service else out


def _assert_well_formed(df: pd.DataFrame) -> None:
    assert list(df.columns) == LINT_COLUMNS
    for r in df.itertuples():
        assert r.file and r.service and r.key and r.message and r.fix, r
        assert r.severity in lint.SEVERITY_RANK
    text = df.to_json()
    for secret in FIXTURE_SECRETS:
        assert secret not in text, secret


# -- the fixture stack ------------------------------------------------------------------

@pytest.fixture(scope="module")
def main_findings(fixtures_dir) -> pd.DataFrame:
    return lint_files([fixtures_dir / "docker-compose.yml"], environ={})


def test_fixture_localhost_findings(main_findings):
    rows = _rows(main_findings, "localhost-reference")
    by_key = {(r.service, r.key): r for r in rows.itertuples()}
    api = by_key[("web", "environment.NEXT_PUBLIC_API_URL")]
    assert api.severity == "medium" and "traefik:80" in api.message and "server-side" in api.message
    cors = by_key[("temporal-ui", "environment.TEMPORAL_CORS_ORIGINS")]
    assert cors.severity == "low" and "web:3000" in cors.message
    # a service's own port (kafka's advertised OUTSIDE://localhost:9092, grafana's root URL) is not a finding
    assert not {"kafka", "grafana", "verdaccio"} & set(rows["service"])


def test_fixture_healthcheck_findings(main_findings):
    missing = _rows(main_findings, "dependency-without-healthcheck")
    assert {"zookeeper", "auth", "workflow", "rules-engine", "mailhog", "signoz-otel-collector"} <= \
        set(missing["service"])
    assert not {"postgres", "kafka", "traefik", "temporal", "master-data"} & set(missing["service"])  # they have one
    # a one-shot job awaited with service_completed_successfully has no readiness to check
    assert "db-migrate" not in set(missing["service"])
    zk = missing[missing["service"] == "zookeeper"].iloc[0]
    assert "kafka depends on it" in zk["message"] and "zookeeper-shell" in zk["fix"]  # cp-zookeeper has no nc for "ruok"
    otel = missing[missing["service"] == "signoz-otel-collector"].iloc[0]
    assert otel["severity"] == "high"  # every app of the x-nest-app anchor waits on it
    assert missing[missing["service"] == "auth"].iloc[0]["severity"] == "medium"  # only api-gateway waits
    loose = _rows(main_findings, "depends-on-not-healthy")
    keys = set(zip(loose["service"], loose["key"]))
    assert ("auth", "depends_on.postgres") in keys and ("adminer", "depends_on.postgres") in keys
    # finance and kafka-ui already wait with condition: service_healthy
    assert not {("finance", "depends_on.postgres"), ("finance", "depends_on.eventstore"),
                ("kafka-ui", "depends_on.kafka")} & keys
    assert "condition: service_healthy" in loose.iloc[0]["fix"]


def test_fixture_secret_findings_are_masked(main_findings):
    secrets = _rows(main_findings, "plaintext-secret")
    keys = set(zip(secrets["service"], secrets["key"]))
    assert {("redis", "command"), ("temporal", "environment.POSTGRES_PWD"),
            ("redis-commander", "environment.REDIS_HOSTS")} <= keys
    assert all("[MASKED]" in m for m in secrets["message"])
    assert (secrets["severity"] == "high").all()
    # variables that are only referenced (${ALPHA_SMS_API_KEY:-}) are not plaintext
    assert not any("ALPHA_SMS_API_KEY" in k for k in secrets["key"])
    _assert_well_formed(main_findings)


def test_fixture_images_and_restart(main_findings):
    latest = _rows(main_findings, "latest-image")
    sev = dict(zip(latest["service"], latest["severity"]))
    assert sev["kafka-ui"] == "medium" and sev["minio"] == "medium"
    assert sev["auth"] == "low"  # ${VERSION:-latest}, built locally
    auth = latest[latest["service"] == "auth"].iloc[0]
    assert "${VERSION:-latest}" in auth["message"]
    assert "traefik" not in sev and "postgres" not in sev
    restart = _rows(main_findings, "no-restart-policy")
    assert {"postgres", "redis", "kafka", "zookeeper"} <= set(restart["service"])
    assert "auth" not in set(restart["service"])
    pg = restart[restart["service"] == "postgres"].iloc[0]
    assert pg["severity"] == "medium" and pg["fix"] == "restart: unless-stopped"
    # data lives on named volumes in the main file
    assert _rows(main_findings, "data-volume").empty


def test_only_secret_findings_show_the_mask(fixtures_dir, monkeypatch):
    """Our own prose must not trip the masker ("passes: it" would read "passes: [MASKED]").

    Pattern rules only: values learned process-wide (e.g. a password "admin") are masked
    everywhere by design and would hide what this test is about.
    """
    from runbook_lib import redact
    monkeypatch.setattr(redact, "mask_text", redact.Redactor().mask_text)
    files = [fixtures_dir / "docker-compose.yml", fixtures_dir / "archive" / "docker-compose.override.yml"]
    df = lint_files(files, environ={}, profiles=["dev-tools", "seed"])
    other = df[df["category"] != "plaintext-secret"]
    assert not other["message"].str.contains("[MASKED]", regex=False).any()
    assert not df["fix"].str.contains("[MASKED]", regex=False).any()


def test_findings_are_ordered_worst_first(main_findings):
    ranks = main_findings["severity"].map(lint.SEVERITY_RANK).tolist()
    assert ranks == sorted(ranks)


ARCHIVE = ["docker-compose-complete.yml", "docker-compose-core.yml", "docker-compose-simple.yml",
           "docker-compose-without-temporal.yml", "docker-compose.override.yml"]


@pytest.mark.parametrize("name", ARCHIVE + ["../docker-compose.monitoring.yml", "../docker-compose.prod.yml"])
def test_every_fixture_file_lints_without_leaking(fixtures_dir, name):
    df = lint_files([fixtures_dir / "archive" / name], environ={})
    _assert_well_formed(df)


def test_archive_findings(fixtures_dir):
    complete = lint_files([fixtures_dir / "archive" / "docker-compose-complete.yml"], environ={})
    keys = set(zip(*[complete[c] for c in ("service", "key", "category")]))
    assert ("postgres", "environment.POSTGRES_PASSWORD", "plaintext-secret") in keys
    assert ("auth", "environment.JWT_ACCESS_SECRET", "plaintext-secret") in keys
    assert ("redis", "healthcheck.test", "plaintext-secret") in keys
    assert ("redis-commander", "environment.REDIS_HOSTS", "plaintext-secret") in keys
    simple = lint_files([fixtures_dir / "archive" / "docker-compose-simple.yml"], environ={})
    vol = _rows(simple, "data-volume")
    assert {"kafka", "zookeeper"} <= set(vol["service"])
    assert "kafka_data:/var/lib/kafka/data" in vol[vol["service"] == "kafka"].iloc[0]["fix"]
    no_temporal = lint_files([fixtures_dir / "archive" / "docker-compose-without-temporal.yml"], environ={})
    unpublished = _rows(no_temporal, "health-port-unpublished", "workflow")
    assert len(unpublished) == 1 and "3011" in unpublished.iloc[0]["message"]
    assert "127.0.0.1:3011:3011" in unpublished.iloc[0]["fix"]


def test_override_pair_names_the_file_that_writes_the_key(fixtures_dir):
    main = fixtures_dir / "docker-compose.yml"
    over = fixtures_dir / "archive" / "docker-compose.override.yml"
    df = lint_files([main, over], environ={}, profiles=["dev-tools", "seed"])
    _assert_well_formed(df)
    redis_cmd = df[(df["service"] == "redis") & (df["key"] == "command")]
    assert set(redis_cmd["file"]) == {str(main), str(over)}  # both files write the password
    pgadmin = df[(df["service"] == "pgadmin") & (df["category"] == "plaintext-secret")]
    assert set(pgadmin["file"]) == {str(over)}
    # the prod override gives finance `restart: always`
    prod = lint_files([main, fixtures_dir / "docker-compose.prod.yml"], environ={})
    assert "finance" not in set(_rows(prod, "no-restart-policy")["service"])


# -- hand-written cases ----------------------------------------------------------------------

def test_localhost_by_url_and_by_host_port_pair(tmp_path):
    canary = "cn" + uuid.uuid4().hex[:10]
    df = _lint_yaml(tmp_path, f"""
        services:
          postgres: {{image: "postgres:16", restart: always, volumes: ["pg:/var/lib/postgresql/data"]}}
          redis: {{image: "redis:7", restart: always, volumes: ["r:/data"]}}
          api:
            image: api:1.0
            restart: always
            ports: ["3000:3000"]
            environment:
              DATABASE_HOST: localhost
              DATABASE_PORT: "5432"
              REDIS_URL: redis://:{canary}@127.0.0.1:6379/0
              SELF_URL: http://localhost:3000/health
              LISTEN: 0.0.0.0:3000
        volumes: {{pg: {{}}, r: {{}}}}
        """)
    local = _rows(df, "localhost-reference", "api")
    msgs = dict(zip(local["key"], local["message"]))
    assert set(msgs) == {"environment.DATABASE_HOST", "environment.REDIS_URL"}
    assert "postgres:5432" in msgs["environment.DATABASE_HOST"]
    assert "redis:6379" in msgs["environment.REDIS_URL"]
    assert (local["severity"] == "high").all()
    secret = _rows(df, "plaintext-secret", "api")
    assert list(secret["key"]) == ["environment.REDIS_URL"]
    assert canary not in df.to_json() and "[MASKED]" in secret.iloc[0]["message"]


def test_references_are_not_plaintext_secrets(tmp_path):
    canary = "cn" + uuid.uuid4().hex[:10]
    df = _lint_yaml(tmp_path, f"""
        services:
          redis:
            image: redis:7.2
            restart: always
            command: redis-server --requirepass ${{REDIS_PASSWORD}}
            volumes: ["r:/data"]
          app:
            image: app:2
            restart: always
            environment:
              DB_PASSWORD: ${{DB_PASSWORD}}
              DB_PASSWORD_FILE: /run/secrets/db
              JWT_EXPIRES_IN: 15m
              AUTH_SERVICE_URL: http://auth:3001
              API_KEY: ""
              TOKEN_TTL: "3600"
              SESSION_SECRET: {canary}
        volumes: {{r: {{}}}}
        """)
    secret = _rows(df, "plaintext-secret")
    assert list(zip(secret["service"], secret["key"])) == [("app", "environment.SESSION_SECRET")]
    assert canary not in df.to_json()


def test_data_volumes(tmp_path):
    df = _lint_yaml(tmp_path, """
        services:
          pg-anon: {image: "postgres:16-alpine", restart: always, volumes: ["/var/lib/postgresql/data"]}
          pg-named: {image: "postgres:16-alpine", restart: always, volumes: ["pg:/var/lib/postgresql/data"]}
          pg-pgdata:
            image: postgres:16
            restart: always
            environment: {PGDATA: /pgdata/16}
            volumes: ["pg2:/pgdata"]
          redis-none: {image: "redis:7-alpine", restart: always}
          minio-export: {image: "minio/minio:RELEASE.2024-01-01", restart: always, command: "server /export",
                         volumes: ["minio_data:/export"]}
          es-bind: {image: "elasticsearch:8.11.1", restart: always, volumes: ["./esdata:/usr/share/elasticsearch/data"]}
          api: {image: "node:20", restart: always}
        volumes: {pg: {}, pg2: {}, minio_data: {}}
        """)
    vol = _rows(df, "data-volume")
    assert set(vol["service"]) == {"pg-anon", "redis-none"}
    anon = vol[vol["service"] == "pg-anon"].iloc[0]
    assert "anonymous volume" in anon["message"] and "prune" in anon["message"] and anon["severity"] == "high"
    assert "pg_anon_data:/var/lib/postgresql/data" in anon["fix"]
    assert "no volume" in vol[vol["service"] == "redis-none"].iloc[0]["message"]


def test_health_port_depends_on_restart_and_latest(tmp_path):
    df = _lint_yaml(tmp_path, """
        services:
          db:
            image: postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            restart: always
            volumes: ["pg:/var/lib/postgresql/data"]
            healthcheck: {test: ["CMD-SHELL", "pg_isready"], interval: 5s}
          hidden:
            image: app:1
            restart: always
            healthcheck: {test: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:8080/health"]}
            depends_on: [db]
          shown:
            image: app:1
            restart: always
            ports: ["127.0.0.1:8080:8080"]
            healthcheck: {test: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:8080/health"]}
            depends_on: {db: {condition: service_healthy}}
          web:
            image: nginx
            depends_on: [shown]
          db-seed:
            image: postgres:16
            command: psql -f /seed.sql
            depends_on: {db: {condition: service_healthy}}
        volumes: {pg: {}}
        """)
    unpublished = _rows(df, "health-port-unpublished")
    assert list(unpublished["service"]) == ["hidden"]
    loose = _rows(df, "depends-on-not-healthy")
    assert list(zip(loose["service"], loose["key"])) == [("hidden", "depends_on.db"), ("web", "depends_on.shown")]
    assert _rows(df, "dependency-without-healthcheck").empty
    restart = _rows(df, "no-restart-policy")
    assert list(restart["service"]) == ["web"]  # db-seed is a one-shot job
    latest = _rows(df, "latest-image")
    assert list(latest["service"]) == ["web"] and "implicit" in latest.iloc[0]["message"]


def test_lint_catalog_takes_a_loaded_catalog_and_rule_subset(fixtures_dir):
    cat = load_catalog([fixtures_dir / "docker-compose.yml"], environ={})
    df = lint_catalog(cat, rules=["plaintext-secret"])
    assert set(df["category"]) == {"plaintext-secret"}
    with pytest.raises(ConfigError, match="known: localhost-reference"):
        lint_catalog(cat, rules=["nope"])


def test_adding_a_rule_is_one_entry(monkeypatch, fixtures_dir):
    def rule_no_container_name(ctx):
        for svc, spec in ctx.raw.items():
            if not spec.get("container_name"):
                yield lint._finding(ctx.where(svc), svc, "container_name", "no-container-name", "low",
                                    f"{svc} has no container_name", "fine: compose names it")

    monkeypatch.setitem(lint.RULES, "no-container-name", rule_no_container_name)
    df = lint_files([fixtures_dir / "archive" / "docker-compose.override.yml"], environ={})
    assert "no-container-name" in set(df["category"])


def test_summary_counts(main_findings):
    summary = lint.lint_summary(main_findings)
    assert summary["findings"].sum() == len(main_findings)
    assert summary.iloc[0]["severity"] == "high"
    assert lint.lint_summary(main_findings.iloc[0:0]).empty


def test_cli_lint_json_and_exit_code(fixtures_dir, capsys):
    import json

    from runbook_lib.cli import main
    rc = main(["lint", "-f", str(fixtures_dir / "docker-compose.yml"), "--json", "--min-severity", "medium"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 1  # high findings present
    cats = {f["category"] for f in data["findings"]}
    assert {"plaintext-secret", "localhost-reference", "dependency-without-healthcheck"} <= cats
    assert all(f["severity"] != "low" for f in data["findings"])
    for secret in FIXTURE_SECRETS:
        assert secret not in out
    rc = main(["lint", "-f", str(fixtures_dir / "docker-compose.yml")])
    text = capsys.readouterr().out
    assert rc == 1 and "fix: " in text and "[high] redis command (plaintext-secret)" in text
