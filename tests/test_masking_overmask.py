"""Over-masking (issue 14): identifiers and settings a reader must see stay readable.

Keys are matched on whole segments, weak or placeholder secrets are not learned, and
identifiers (service, container, image, project, volume, network names, paths) never lose
a learned value.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from runbook_lib import redact
from runbook_lib.redact import MASK, Redactor, is_plaintext_secret, is_secret_key, secret_quality

# Settings that hold no secret: key -> value, as they appear in compose files and labels.
SETTINGS = {
    "AUTHOR": "alice",
    "SORT_KEY": "name",
    "PWD": "/srv/web",
    "MONKEY_COUNT": "3",
    "VALKEY_IMAGE": "valkey/valkey:8",
    "KEYCLOAK_URL": "http://keycloak:8080",
    "NEXTAUTH_URL": "https://app.example.com",
    "POSTGRES_HOST_AUTH_METHOD": "trust",
    "GF_AUTH_ANONYMOUS_ENABLED": "true",
    "DB_PASSWORD_FILE": "/run/secrets/db_password",
    "SSL_KEY_PATH": "/certs/server.key",
    "TOKEN_TYPE": "jwt",
    "AUTH_METHOD": "oauth",
    "org.opencontainers.image.authors": "Alice Example <alice@example.org>",
    "PUBLIC_KEY": "ssh-ed25519-fingerprint",
    "key": "environment.REDIS_PASSWORD",
    "passing_pct": "50.0",
}
SECRET_KEYS = ["API_KEY", "DB_PASSWORD", "X-Auth-Token", "SENTRY_DSN", "SECRET", "TOKEN", "PASSWD", "DB_PWD",
               "apiKey", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "BASIC_AUTH", "requirepass",
               "--password", "--token", "Authorization", "SECRET_KEY_BASE", "GOOGLE_CREDENTIALS"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_on_whole_segments(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", sorted(SETTINGS) + ["--no-auth-warning", "--no-password", "--password-file",
                                                     "KEY", "sortKey", "HOTKEY", "BYPASS_CACHE"])
def test_settings_are_not_secret_keys(key):
    assert not is_secret_key(key) or key == "PWD"


@pytest.mark.parametrize("key,value", sorted(SETTINGS.items()))
def test_settings_stay_readable_everywhere(key, value):
    r = Redactor()
    assert r.mask_env({key: value}) == {key: value}
    assert r.mask_env([f"{key}={value}"]) == [f"{key}={value}"]
    assert r.mask_obj({key: value}) == {key: value}
    assert r.mask_text(f"{key}={value}") == f"{key}={value}"
    assert r.mask_text(f'{{"{key}": "{value}"}}') == f'{{"{key}": "{value}"}}'


def test_pwd_as_a_password_is_still_masked():
    r = Redactor()
    assert r.mask_env({"PWD": "/srv/web", "DB_PWD": "s3cr3t-x9"}) == {"PWD": "/srv/web", "DB_PWD": MASK}


def test_redis_cli_no_auth_warning_is_a_flag_not_a_secret():
    r = Redactor()
    assert r.mask_text("redis-cli --no-auth-warning ping") == "redis-cli --no-auth-warning ping"
    assert r.mask_command(["redis-cli", "--no-auth-warning", "ping"]) == ["redis-cli", "--no-auth-warning", "ping"]
    assert r.mask_command(["psql", "--no-password", "-h", "db"]) == ["psql", "--no-password", "-h", "db"]


def test_runbook_field_names_never_decide_masking():
    r = Redactor()
    entry = {"file": "docker-compose.yml", "service": "cache", "key": "environment.REDIS_PASSWORD",
             "category": "plaintext-secret", "kpis": {"passing_pct": 50.0}}
    assert r.mask_obj(entry) == entry
    assert r.mask_text(json.dumps(entry)) == json.dumps(entry)


@pytest.mark.parametrize("value", ["admin", "postgres", "changeme", "password", "secret", "root", "user", "test",
                                   "replace-me", "disabled", "example", "xxx", "<your-key>", "${DB_PASSWORD}",
                                   "acme", "12345"])
def test_weak_and_placeholder_values_are_not_learned(value):
    r = Redactor()
    r.learn_identifiers(["acme"])
    r.learn_env({"DB_PASSWORD": value, "SECRET_KEY_BASE": value})
    text = f"image library/{value}:16 at /opt/{value}/config for {value} ({value}) flag={value}"
    assert r.mask_text(text) == text
    assert secret_quality("DB_PASSWORD", value, ["acme-db-1"]) in ("weak", "placeholder")


def test_secret_quality_and_plaintext_secret():
    assert secret_quality("REDIS_PASSWORD", "147076913") is None
    assert secret_quality("DB_PASSWORD", "changeme") == "placeholder"
    assert secret_quality("DB_PASSWORD", "admin") == "weak"
    assert secret_quality("DB_PASSWORD", "acme", identifiers=["acme-api-1"]) == "weak"
    assert secret_quality("REDIS_PASSWORD", "redis") == "weak"  # the key's own word
    assert is_plaintext_secret("REDIS_PASSWORD", "147076913")
    assert is_plaintext_secret("DB_PASSWORD", "admin")  # weak, but still a literal in the file
    for key, value in [("REDIS_PASSWORD", '"$$(cat $$REDIS_PASSWORD_FILE)"'), ("DB_PASSWORD", "${DB_PASSWORD}"),
                       ("SSL_KEY", "/certs/server.key"), ("TLS_KEY", "./certs/tls.key"),
                       ("SASL_JAAS_CLASS_KEY", "org.apache.kafka.common.security.plain.PlainLoginModule"),
                       ("AUTHOR", "alice"), ("SORT_KEY", "name"), ("TOKEN_TTL", "3600s"),
                       ("SECRET_KEY_BASE", "replace-me"), ("AUTH_ENABLED", True)]:
        assert not is_plaintext_secret(key, value), (key, value)


def test_learned_values_stay_out_of_identifiers():
    """A real secret that also appears inside a name or a path does not garble it."""
    r = Redactor()
    r.learn_env({"REDIS_PASSWORD": "147076913"})
    for ident in ["app-147076913-1", "/opt/147076913/config", "registry.local/147076913/api:1", "vol_147076913"]:
        assert r.mask_text(f"using {ident} now") == f"using {ident} now"
        assert r.mask_identifier(ident) == ident
    assert r.mask_identifier("redis://:147076913@cache:6379") == f"redis://:{MASK}@cache:6379"
    assert r.mask_text("auth 147076913 failed") == f"auth {MASK} failed"


def test_identifier_fields_in_objects_and_frames_keep_learned_values():
    r = Redactor()
    r.learn_env({"API_TOKEN": "tok-77xy-3391"})
    row = {"service": "tok-77xy-3391", "name": "acme-tok-77xy-3391-1", "image": "tok-77xy-3391:1",
           "project": "tok-77xy-3391", "detail": "leaked tok-77xy-3391 here"}
    masked = r.mask_obj(row)
    assert {k: masked[k] for k in ("service", "name", "image", "project")} == {
        k: row[k] for k in ("service", "name", "image", "project")}
    assert masked["detail"] == f"leaked {MASK} here"
    out = r.mask_frame(pd.DataFrame([row]))
    assert out.loc[0, "service"] == "tok-77xy-3391" and out.loc[0, "detail"] == f"leaked {MASK} here"


def test_values_equal_to_stack_identifiers_are_not_masked():
    r = Redactor()
    r.learn_env({"ADMIN_PASSWORD": "orders-svc-v2"})
    r.learn_identifiers(["orders-svc-v2"])
    text = "docker compose up -d orders-svc-v2"
    assert r.mask_text(text) == text


def test_placeholders_do_not_mask_other_flags():
    r = Redactor()
    r.learn_env({"SECRET_KEY_BASE": "replace-me", "JWT_PRIVATE_KEY": "disabled"})
    text = "FEATURE_X=disabled; docs at https://example.com/replace-me"
    assert r.mask_text(text) == text


COMPOSE = textwrap.dedent("""\
    name: acme
    services:
      postgres:
        image: library/postgres:16
        container_name: acme-postgres
        environment:
          POSTGRES_PASSWORD: postgres
          POSTGRES_HOST_AUTH_METHOD: trust
          PWD: /srv/web
        volumes:
          - /opt/postgres/data:/var/lib/postgresql/data
      admin:
        image: adminer:4
        environment:
          ADMIN_PASSWORD: acme
          ADMINER_DEFAULT_SERVER: postgres
          AUTHOR: alice
          SORT_KEY: name
          MONKEY_COUNT: "3"
          VALKEY_IMAGE: valkey/valkey:8
          KEYCLOAK_URL: http://keycloak:8080
          NEXTAUTH_URL: https://app.example.com
          GF_AUTH_ANONYMOUS_ENABLED: "true"
          DB_PASSWORD_FILE: /run/secrets/db_password
          SECRET_KEY_BASE: replace-me
          FEATURE_FLAG: disabled
        labels:
          org.opencontainers.image.authors: alice
        healthcheck:
          test: ["CMD", "redis-cli", "--no-auth-warning", "ping"]
    """)


def test_catalog_json_keeps_identifiers_and_settings(tmp_path):
    path = tmp_path / "docker-compose.yml"
    path.write_text(COMPOSE)
    code = "import sys; from runbook_lib.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "catalog", "--json", "-f", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["summary"]["project"] == "acme"
    by = {s["service"]: s for s in doc["services"]}
    assert set(by) == {"postgres", "admin"}
    pg, adm = by["postgres"], by["admin"]
    assert pg["image"] == "library/postgres:16" and pg["container_name"] == "acme-postgres"
    assert pg["volumes"][0]["source"] == "/opt/postgres/data"
    assert pg["environment"] == {"POSTGRES_PASSWORD": MASK, "POSTGRES_HOST_AUTH_METHOD": "trust", "PWD": "/srv/web"}
    env = adm["environment"]
    assert env["ADMIN_PASSWORD"] == MASK and env["SECRET_KEY_BASE"] == MASK
    for key in ("ADMINER_DEFAULT_SERVER", "AUTHOR", "SORT_KEY", "MONKEY_COUNT", "VALKEY_IMAGE", "KEYCLOAK_URL",
                "NEXTAUTH_URL", "GF_AUTH_ANONYMOUS_ENABLED", "DB_PASSWORD_FILE", "FEATURE_FLAG"):
        assert MASK not in str(env[key]), key
    assert adm["labels"] == {"org.opencontainers.image.authors": "alice"}
    assert adm["healthcheck"]["test"] == ["CMD", "redis-cli", "--no-auth-warning", "ping"]


def test_process_wide_redactor_keeps_names(monkeypatch):
    """The shortcuts behave as the class does (learn_identifiers included)."""
    fresh = Redactor()
    for name in ("learn_env", "learn_identifiers", "mask_text"):
        monkeypatch.setattr(redact, name, getattr(fresh, name))
    redact.learn_identifiers(["billing-api"])
    redact.learn_env({"BILLING_TOKEN": "billing-api"})
    assert redact.mask_text("restart billing-api") == "restart billing-api"
