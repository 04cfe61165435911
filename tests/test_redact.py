"""Secret masking rules (unit level; the canary tests over reports live in test_report.py)."""
from __future__ import annotations

import pandas as pd
import pytest

from runbook_lib.redact import MASK, Redactor, is_secret_key


@pytest.mark.parametrize("key", ["POSTGRES_PASSWORD", "db_pwd", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN",
                                 "api_key", "GOOGLE_CREDENTIALS", "BASIC_AUTH", "SENTRY_DSN", "passwd"])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["POSTGRES_USER", "PORT", "NODE_ENV", "HOSTNAME"])
def test_plain_keys(key):
    assert not is_secret_key(key)


def test_env_mapping_and_list():
    r = Redactor()
    assert r.mask_env({"POSTGRES_PASSWORD": "s3cr3t!", "POSTGRES_USER": "app"}) == {
        "POSTGRES_PASSWORD": MASK, "POSTGRES_USER": "app"}
    assert r.mask_env(["GITHUB_TOKEN=ghp_abc", "URL=redis://:pw0rd@redis:6379/0", "X=1"]) == [
        f"GITHUB_TOKEN={MASK}", f"URL=redis://:{MASK}@redis:6379/0", "X=1"]


def test_urls_bearer_and_pem():
    r = Redactor()
    assert r.mask_text("postgres://u:p4ss@h/db") == f"postgres://u:{MASK}@h/db"
    assert "abc.def.ghi" not in r.mask_text("Authorization: Bearer abc.def.ghi")
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----"
    assert "MIIabc" not in r.mask_text(f"key:\n{pem}\n")


def test_command_flags():
    r = Redactor()
    assert r.mask_command(["redis-server", "--requirepass", "x1y2z3", "--port", "6379"]) == [
        "redis-server", "--requirepass", MASK, "--port", "6379"]
    assert r.mask_command(["app", "--password=hunter22"]) == ["app", f"--password={MASK}"]
    assert "hunter22" not in r.mask_text("sh -c 'app --db-password hunter22 --v'")


def test_learned_value_masked_everywhere():
    r = Redactor()
    r.learn_env({"POSTGRES_PASSWORD": "c4n4ry-value"})
    r.learn_command(["redis-server", "--requirepass", "other-canary"])
    line = "FATAL: could not connect with c4n4ry-value; redis said other-canary"
    masked = r.mask_text(line)
    assert "c4n4ry-value" not in masked and "other-canary" not in masked and MASK in masked


def test_json_like_and_kv_text():
    r = Redactor()
    assert r.mask_text('{"password": "abc123", "user": "bob"}') == f'{{"password": "{MASK}", "user": "bob"}}'
    assert r.mask_text("PGPASSWORD=abc123 psql -h db") == f"PGPASSWORD={MASK} psql -h db"


def test_host_port_and_plain_words_survive():
    r = Redactor()
    text = "connect ECONNREFUSED 127.0.0.1:3001 calling http://auth:3001/graphql; password authentication failed"
    assert r.mask_text(text) == text


def test_mask_obj_and_frame():
    r = Redactor()
    obj = {"env": {"API_KEY": "zzz111"}, "labels": {"x": "https://u:pw9@h"}}
    assert r.mask_obj(obj) == {"env": {"API_KEY": MASK}, "labels": {"x": f"https://u:{MASK}@h"}}
    df = pd.DataFrame({"text": ["token=abcdef", "ok"], "n": [1, 2]})
    out = r.mask_frame(df)
    assert out["text"].tolist() == [f"token={MASK}", "ok"] and out["n"].tolist() == [1, 2]


def test_learned_values_only_as_whole_tokens_and_weak_ones_not_at_all():
    """issue 14: a dictionary word ("admin") is not learned; real secrets mask whole tokens only."""
    r = Redactor()
    r.learn_env({"PGADMIN_DEFAULT_PASSWORD": "admin", "DB_PASSWORD": "longer-secret-1"})
    assert r.mask_text("image adminer and pgadmin") == "image adminer and pgadmin"
    assert r.mask_text("login admin failed") == "login admin failed"
    assert r.mask_text("xlonger-secret-1x") == "xlonger-secret-1x"
    assert r.mask_text("pw longer-secret-1, then longer-secret-1.") == f"pw {MASK}, then {MASK}."


def test_structures_after_a_secret_looking_key_are_not_values():
    """A service named "auth" in YAML-ish text: `auth: {condition: …}` is structure, not a secret."""
    r = Redactor()
    text = "depends_on: {auth: {condition: service_healthy}}, token: [a, b]"
    assert r.mask_text(text) == text
    assert r.mask_text("auth: hunter22") == f"auth: {MASK}"


@pytest.mark.parametrize("use_automaton", [True, False])
def test_known_values_same_with_and_without_automaton(monkeypatch, use_automaton):
    from runbook_lib import redact
    if not use_automaton:
        monkeypatch.setattr(redact, "_ahocorasick", None)
    r = Redactor()
    r.learn_env({"A_PASSWORD": "admin", "B_TOKEN": "admin-long-token", "C_SECRET": "zz9plural"})
    text = "admin-long-token admin adminer pgadmin xzz9pluralx (zz9plural) admin-long-token-2 'zz9plural'"
    assert r.mask_text(text) == f"{MASK} admin adminer pgadmin xzz9pluralx ({MASK}) admin-long-token-2 '{MASK}'"


def test_benign_words_that_contain_a_secret_word():
    r = Redactor()
    assert not is_secret_key("passing_pct") and not is_secret_key("bypass_cache")
    assert is_secret_key("PASSING_PASSWORD")
    assert r.mask_obj({"kpis": {"passing_pct": 50.0, "db_password": "x1y2z3"}}) == {
        "kpis": {"passing_pct": 50.0, "db_password": MASK}}
    assert r.mask_text("passing_pct: 50.0, password: abc123") == f"passing_pct: 50.0, password: {MASK}"


def test_masked_texts_are_kept_only_until_something_new_is_learned():
    """The redactor keeps a text's masked form, and starts over when it learns a value or an identifier."""
    r = Redactor()
    text = "connecting with s3cr3t-Token-991 to db"
    assert r.mask_text(text) == text
    r.learn_env(["API_TOKEN=s3cr3t-Token-991"])
    assert "s3cr3t-Token-991" not in r.mask_text(text)
    r.learn_env(["API_TOKEN=s3cr3t-Token-991"])  # learned from before: skipped, still masked
    assert "s3cr3t-Token-991" not in r.mask_text(text)
    r.learn_identifiers(["s3cr3t-Token-991"])  # a name of the stack is never masked
    assert r.mask_text(text) == text
    assert "s3cr3t-Token-991" in Redactor().mask_text(text)  # another redactor knows nothing of it
