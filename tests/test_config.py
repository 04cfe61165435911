"""The runbook config file: discovery, schema, errors that name the key."""
from __future__ import annotations

import pytest

from runbook_lib.config import DEFAULT_THRESHOLDS, RunbookConfig, find_config, load_config, parse_config
from runbook_lib.exceptions import ConfigError

FULL = """
tiers:
  postgres: infrastructure
  auth: Core services
  adminer: application
probes:
  auth:
    - {kind: http, port: 3001, path: /api/v1/health}
    - {kind: tcp, port: 3001}
  kafka: {kind: kafka, port: 9092}
thresholds: {failure: 4, success: 1, start_period_s: 30}
"""


def test_defaults_when_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg == RunbookConfig() and cfg.path is None
    assert cfg.thresholds == DEFAULT_THRESHOLDS and cfg.tiers == {} and cfg.probes == {}


def test_full_file(tmp_path):
    p = tmp_path / "runbook.yaml"
    p.write_text(FULL)
    cfg = load_config(p, environ={})
    assert cfg.path == str(p)
    assert cfg.tiers == {"postgres": "infrastructure", "auth": "Core services", "adminer": "application"}
    assert cfg.probes["auth"][0] == {"kind": "http", "port": 3001, "path": "/api/v1/health"}
    assert cfg.probes["kafka"] == [{"kind": "kafka", "port": 9092}]  # a single mapping becomes a list
    assert cfg.thresholds == {"failure": 4, "success": 1, "start_period_s": 30.0}
    assert isinstance(cfg.thresholds["start_period_s"], float)


def test_discovery_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runbook.yaml").write_text("tiers: {a: cwd}\n")
    env_file = tmp_path / "from-env.yaml"
    env_file.write_text("tiers: {a: env}\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("tiers: {a: explicit}\n")
    env = {"RUNBOOK_CONFIG": str(env_file)}
    assert load_config(explicit, environ=env).tiers == {"a": "explicit"}
    assert load_config(None, environ=env).tiers == {"a": "env"}
    assert load_config(None, environ={}).tiers == {"a": "cwd"}
    assert find_config(None, environ={}) == tmp_path / "runbook.yaml"


def test_missing_explicit_or_env_path_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="--config"):
        load_config(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="RUNBOOK_CONFIG"):
        load_config(None, environ={"RUNBOOK_CONFIG": str(tmp_path / "nope.yaml")})


def test_empty_file_is_defaults(tmp_path):
    p = tmp_path / "runbook.yaml"
    p.write_text("# nothing yet\n")
    assert load_config(p, environ={}).thresholds == DEFAULT_THRESHOLDS


@pytest.mark.parametrize("data,match", [
    ({"tier": {"a": "x"}}, "unknown key 'tier'"),
    ({"tiers": {}, "alarms": []}, "unknown key 'alarms'"),
    ([1, 2], "top level must be a mapping"),
    ({"tiers": ["a"]}, "'tiers' must map"),
    ({"tiers": {"a": ""}}, "tiers.a must be a tier name"),
    ({"tiers": {"a": 3}}, "tiers.a must be a tier name"),
    ({"probes": ["a"]}, "'probes' must map"),
    ({"probes": {"a": "http"}}, "probes.a must be a list"),
    ({"probes": {"a": ["http"]}}, r"probes.a\[0\] must be a mapping"),
    ({"probes": {"a": [{"port": 80}]}}, r"probes.a\[0\] has no 'kind'"),
    ({"thresholds": {"failures": 3}}, "unknown key 'thresholds.failures'"),
    ({"thresholds": {"failure": 2.5}}, "thresholds.failure must be an integer"),
    ({"thresholds": {"failure": True}}, "thresholds.failure must be an integer"),
    ({"thresholds": {"success": 0}}, "at least 1"),
    ({"thresholds": {"start_period_s": -1}}, ">= 0"),
    ({"thresholds": {"start_period_s": "1m"}}, "must be a number"),
    ({"thresholds": 5}, "'thresholds' must be a mapping"),
])
def test_invalid(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data, source="runbook.yaml")


def test_bad_yaml_names_line(tmp_path):
    p = tmp_path / "runbook.yaml"
    p.write_text("tiers:\n  a: x\n b: [\n")
    with pytest.raises(ConfigError, match=r"line \d+") as err:
        load_config(p, environ={})
    assert str(p) in str(err.value) and "Fix" in str(err.value)


def test_unknown_key_message_names_allowed_keys(tmp_path):
    p = tmp_path / "runbook.yaml"
    p.write_text("tiers: {}\nthreshold: {failure: 3}\n")
    with pytest.raises(ConfigError) as err:
        load_config(p, environ={})
    msg = str(err.value)
    assert "'threshold'" in msg and "tiers, probes, thresholds" in msg and str(p) in msg
