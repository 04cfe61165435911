"""The probe kinds registry: every built-in kind registered with its metadata; lookup names what exists."""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

from runbook_lib import knowledge
from runbook_lib.exceptions import RunbookError
from runbook_lib.probes import kinds as kinds_pkg
from runbook_lib.probes import registry
from runbook_lib.probes.kinds import BUILTIN
from runbook_lib.probes.kinds.base import ProbeKind

EXPECTED = {"http", "tcp", "docker", "postgres", "redis", "kafka", "zookeeper", "elasticsearch", "clickhouse",
            "traefik", "minio", "rabbitmq", "eventstore", "temporal", "prometheus", "grafana", "otel"}


def test_every_builtin_kind_is_registered():
    assert EXPECTED <= set(registry.KINDS)
    assert set(BUILTIN) == EXPECTED
    for name in EXPECTED:
        kind = registry.lookup(name)
        assert isinstance(kind, ProbeKind) and kind.name == name and callable(kind)


def test_one_module_per_kind_and_each_module_listed():
    modules = {m.name for m in pkgutil.iter_modules(kinds_pkg.__path__)} - {"base"}
    assert modules == EXPECTED
    for name in modules:
        mod = importlib.import_module(f"runbook_lib.probes.kinds.{name}")
        classes = [v for v in vars(mod).values()
                   if isinstance(v, type) and issubclass(v, ProbeKind) and v.__module__ == mod.__name__]
        assert len(classes) == 1 and classes[0].name == name
        assert BUILTIN[name] == f"{mod.__name__}:{classes[0].__name__}"


def test_kinds_load_on_first_lookup():
    code = ("import sys; from runbook_lib.probes import registry; registry.lookup('tcp'); "
            "print('grpc' in sys.modules, 'redis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_technology_probe_kind_exists():
    used = {t.probe_kind for t in knowledge.technologies() for t in (t, *t.variants) if t.probe_kind}
    used.add(knowledge.application().probe_kind)
    assert used <= set(registry.KINDS)


@pytest.mark.parametrize("name", sorted(EXPECTED - {"http", "tcp", "docker"}))
def test_native_kinds_carry_metadata_from_the_knowledge_table(name):
    kind = registry.lookup(name)
    assert kind.technology is not None
    assert isinstance(kind.default_port, int) and kind.default_port > 0
    assert kind.image_patterns, name
    assert kind.libraries is not None


def test_describe_kinds_lists_the_metadata():
    rows = {r["kind"]: r for r in registry.describe_kinds()}
    assert rows["postgres"]["default_port"] == 5432 and "psycopg" in rows["postgres"]["libraries"]
    assert rows["elasticsearch"]["path"] == "/_cluster/health" and rows["elasticsearch"]["handles_exec"]
    assert rows["docker"]["default_port"] is None


def test_lookup_error_names_the_known_kinds():
    with pytest.raises(RunbookError) as err:
        registry.lookup("no-such-kind")
    text = str(err.value)
    assert "no-such-kind" in text and "postgres" in text and "kafka" in text and "runbook.yaml" in text


def test_register_a_function_and_a_kind_object():
    try:
        registry.register("test-fn", lambda spec: None)
        assert registry.lookup("test-fn").name == "test-fn"

        class Custom(ProbeKind):
            name = "test-custom"

            def check(self, spec):
                return {"state": "up"}
        registry.register(Custom())
        assert isinstance(registry.lookup("test-custom"), Custom)
    finally:
        registry.KINDS.pop("test-fn", None)
        registry.KINDS.pop("test-custom", None)
