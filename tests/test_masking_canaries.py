"""Canary secrets of every form (issue 14): numeric, DSN, Bearer, --flag=, URL password, learned.

Each canary must be absent from every output and the mask marker present, through each of
redact's entry points and through the commands that turn frames into text and JSON
(``catalog --json``, ``lint --json``, diagnose records and text).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from runbook_lib import redact
from runbook_lib.analysis import diagnosis
from runbook_lib.redact import MASK, Redactor

NUMERIC = "147076913"
DSN_KEY = "0123456789abcdef0123456789abcdef"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWNhbmFyeQ.Zm9vYmFy"
FLAG = "flagCanary-5521"
URL_PW = "urlPw-8832"
LEARNED = "lrn-Canary-4471"
TOKEN = "tkn-Canary-9913"
CANARIES = (NUMERIC, DSN_KEY, BEARER, FLAG, URL_PW, LEARNED, TOKEN)

ENV = {
    "REDIS_PASSWORD": NUMERIC,
    "SENTRY_DSN": f"https://{DSN_KEY}@o1.ingest.example/42",
    "DATABASE_URL": f"postgres://app:{URL_PW}@postgres:5432/app",
    "API_KEY": LEARNED,
    "X-Auth-Token": TOKEN,
}
# Free text in which the canaries appear without their keys (logs, health output, commands).
LINES = [
    f"redis: AUTH {NUMERIC} rejected: WRONGPASS",
    f"sentry: sending to https://{DSN_KEY}@o1.ingest.example/42",
    f"GET /api -H 'Authorization: Bearer {BEARER}'",
    f"exec: api --password={FLAG} --verbose",
    f"connecting to postgres://app:{URL_PW}@postgres:5432/app",
    f"FATAL: key {LEARNED} is not valid",
    f"token {TOKEN} expired",
    f"redis-cli --no-auth-warning -a {NUMERIC} ping",
    f"retry with ({NUMERIC}), then '{LEARNED}'.",
]


def learned() -> Redactor:
    r = Redactor()
    r.learn_env(ENV)
    r.learn_command(["api", f"--password={FLAG}"])
    return r


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary} leaked in: {text[:300]}"
    assert MASK in text


@pytest.mark.parametrize("line", LINES)
def test_mask_text_hides_every_form(line):
    assert_clean(learned().mask_text(line))


def test_structural_forms_need_no_learning():
    """Without any learned value, the shapes alone give the secret away."""
    r = Redactor()
    assert r.mask_text(f"REDIS_PASSWORD={NUMERIC}") == f"REDIS_PASSWORD={MASK}"
    assert r.mask_text(f"dsn https://{DSN_KEY}@o1.ingest.example/42") == f"dsn https://{MASK}@o1.ingest.example/42"
    assert r.mask_text(f"Authorization: Bearer {BEARER}") == f"Authorization: Bearer {MASK}"
    assert r.mask_text(f"curl -H 'Authorization: Bearer x' h") == f"curl -H 'Authorization: Bearer {MASK}' h"
    assert r.mask_text(f"api --password={FLAG} -v") == f"api --password={MASK} -v"
    assert r.mask_text("app --password=x") == f"app --password={MASK}"
    assert r.mask_text("app --token x --v") == f"app --token {MASK} --v"
    assert r.mask_text("redis-cli -a x ping") == f"redis-cli -a {MASK} ping"
    assert r.mask_text("valkey-cli -h cache -a 'x y' ping") == f"valkey-cli -h cache -a '{MASK}' ping"
    assert r.mask_command(["valkey-cli", "-a", "x", "ping"]) == ["valkey-cli", "-a", MASK, "ping"]
    assert r.mask_text("docker ps -a x") == "docker ps -a x"  # -a is a password only for redis-cli
    assert r.mask_text(f"postgres://app:{URL_PW}@db/app") == f"postgres://app:{MASK}@db/app"
    assert r.mask_text(f'{{"X-Auth-Token": "{TOKEN}"}}') == f'{{"X-Auth-Token": "{MASK}"}}'


def test_numeric_values_are_learned():
    r = Redactor()
    r.learn_env({"REDIS_PASSWORD": NUMERIC})
    r.learn_env(["PIN_SECRET=90817263"])
    r.learn_env({"DB_PASSWORD": 55512345})  # a YAML integer
    assert r.mask_text(f"auth {NUMERIC} / 90817263 / 55512345 failed") == f"auth {MASK} / {MASK} / {MASK} failed"


def test_mask_env_value_command_obj_and_frame():
    r = learned()
    masked_env = r.mask_env(ENV)
    assert_clean(json.dumps(masked_env))
    assert masked_env["DATABASE_URL"] == f"postgres://app:{MASK}@postgres:5432/app"
    assert_clean(json.dumps(r.mask_env([f"{k}={v}" for k, v in ENV.items()])))
    assert r.mask_value("REDIS_PASSWORD", NUMERIC) == MASK
    assert r.mask_command(["redis-cli", "-a", NUMERIC, "ping"]) == ["redis-cli", "-a", MASK, "ping"]
    assert r.mask_command(["api", f"--password={FLAG}"]) == ["api", f"--password={MASK}"]
    assert r.mask_command(["sh", "-c", f"app --token {TOKEN}"]) == ["sh", "-c", f"app --token {MASK}"]
    assert r.mask_command(["mysql", f"-p{LEARNED}"]) == ["mysql", f"-p{MASK}"]
    obj = {"env": ENV, "log": LINES, "detail": [{"line": x} for x in LINES], "n": 3}
    assert_clean(json.dumps(r.mask_obj(obj)))
    df = pd.DataFrame({"service": ["api"] * len(LINES), "line": LINES, "n": range(len(LINES))})
    out = r.mask_frame(df)
    assert_clean(out.to_json())
    assert out["service"].tolist() == ["api"] * len(LINES) and out["n"].tolist() == list(range(len(LINES)))


def test_process_wide_shortcuts(monkeypatch):
    fresh = Redactor()
    for name in ("learn_env", "learn_command", "mask_text", "mask_obj"):
        monkeypatch.setattr(redact, name, getattr(fresh, name))
    redact.learn_env(ENV)
    redact.learn_command(["api", f"--password={FLAG}"])
    assert_clean(redact.mask_text("\n".join(LINES)))
    assert_clean(json.dumps(redact.mask_obj({"lines": LINES})))


def test_learned_values_with_and_without_the_automaton(monkeypatch):
    text = "\n".join(LINES)
    with_ac = learned().mask_text(text)
    monkeypatch.setattr(redact, "_ahocorasick", None)
    assert learned().mask_text(text) == with_ac


def test_diagnose_records_and_text(monkeypatch):
    """Diagnose findings (JSON records and the text) over log and health lines with canaries."""
    fresh = learned()
    monkeypatch.setattr(redact, "mask_text", fresh.mask_text)
    lines = [f"FATAL: password authentication failed for user \"app\" password={NUMERIC}",
             f"Error: connect ECONNREFUSED postgres://app:{URL_PW}@postgres:5432/app",
             f"redis.exceptions.AuthenticationError: invalid password {NUMERIC}",
             f"sentry https://{DSN_KEY}@o1.ingest.example/42 Authorization: Bearer {BEARER}",
             f"out of memory: killed while running api --password={FLAG} key {LEARNED}"]
    evidence = [{"service": "api", "container": "acme-api-1", "state": "exited", "exit_code": 1,
                 "log_lines": lines, "health_outputs": [f"redis-cli -a {NUMERIC}: NOAUTH {TOKEN}"]}]
    found = diagnosis.diagnose(evidence)
    assert len(found)
    records = json.dumps(diagnosis.findings_records(found), default=str)
    text = diagnosis.format_findings(found)
    for out in (records, text):
        for canary in CANARIES:
            assert canary not in out
    assert MASK in records and MASK in text
    assert "acme-api-1" in records or "api" in records


COMPOSE = textwrap.dedent(f"""\
    name: acme
    services:
      cache:
        image: valkey/valkey:8
        command: ["valkey-server", "--requirepass", "{NUMERIC}"]
        environment:
          REDIS_PASSWORD: "{NUMERIC}"
        healthcheck:
          test: ["CMD", "redis-cli", "--no-auth-warning", "-a", "{NUMERIC}", "ping"]
      api:
        image: ghcr.io/acme/api:1.2
        command: ["api", "--password={FLAG}"]
        environment:
          SENTRY_DSN: https://{DSN_KEY}@o1.ingest.example/42
          DATABASE_URL: postgres://app:{URL_PW}@cache:5432/app
          API_KEY: {LEARNED}
          X-Auth-Token: {TOKEN}
        healthcheck:
          test: "curl -fsS -H 'Authorization: Bearer {BEARER}' http://localhost/health || exit 1"
        labels:
          com.acme.note: "started with key {LEARNED} and {NUMERIC}"
    """)


@pytest.fixture(scope="module")
def compose_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("canaries") / "docker-compose.yml"
    path.write_text(COMPOSE)
    return path


def _runbook(*args: str) -> subprocess.CompletedProcess:
    """A fresh process: its process-wide redactor knows only what this command learns."""
    code = "import sys; from runbook_lib.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["catalog", "--json"], ["catalog"], ["lint", "--json"], ["lint"]])
def test_commands_over_a_compose_file(compose_file, command):
    proc = _runbook(*command, "-f", str(compose_file))
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out[-2000:]
    for canary in CANARIES:
        assert canary not in out, f"{canary} leaked by {command}"
    if command != ["catalog"]:  # the plain table shows no environment at all
        assert MASK in out
    if command == ["catalog", "--json"]:
        doc = json.loads(proc.stdout)
        api = next(s for s in doc["services"] if s["service"] == "api")
        assert api["environment"]["DATABASE_URL"] == f"postgres://app:{MASK}@cache:5432/app"
        assert api["image"] == "ghcr.io/acme/api:1.2"


def test_masking_twice_changes_nothing_more():
    r = learned()
    for line in LINES + [f"-----BEGIN RSA PRIVATE KEY-----\nMII{LEARNED}\n-----END RSA PRIVATE KEY-----"]:
        once = r.mask_text(line)
        assert r.mask_text(once) == once
        assert_clean(once)


def test_password_like_paths_are_not_mistaken_for_folders():
    """PWD=/srv/web is a folder; DB_PASSWORD=/Zq9x7 is a password that starts with a slash."""
    r = Redactor()
    assert r.mask_env({"PWD": "/srv/web", "DB_PASSWORD": "/Zq9x7"}) == {"PWD": "/srv/web", "DB_PASSWORD": MASK}


def test_private_key_blocks_even_inside_a_quoted_value():
    r = Redactor()
    pem = f"-----BEGIN PRIVATE KEY-----\nMII{LEARNED}\n-----END PRIVATE KEY-----"
    assert r.mask_text(f'SSL_KEY="{pem}" next') == f'SSL_KEY="{MASK}" next'
    assert r.mask_text(f"log: {pem} and more") == f"log: {MASK} and more"
    assert r.mask_text("-----BEGIN CERTIFICATE-----\nMIIpub\n-----END CERTIFICATE-----").startswith("-----BEGIN CERT")


def test_secret_values_for_the_lint():
    text = f"redis-server --requirepass {NUMERIC} --port 6379 DB_PASSWORD=${{DB_PASSWORD}} --password={FLAG}"
    assert redact.secret_values(text) == [NUMERIC, FLAG]
    assert redact.secret_values('sh -c "redis-cli -a $$(cat $$REDIS_PASSWORD_FILE) ping"') == []
