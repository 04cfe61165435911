"""YAML loading: anchors, merge keys, YAML 1.2 scalars, duplicate keys, alias bombs, structural errors."""
from __future__ import annotations

import pytest

from runbook_lib import redact
from runbook_lib.exceptions import ComposeError

from compose_helpers import dump, load, row, write


# --------------------------------------------------------------- YAML features
def test_extensions_anchors_merge_keys(tmp_path):
    p = write(tmp_path, """
        x-common: &common
          restart: unless-stopped
          environment: &env
            LOG_LEVEL: info
            API_TOKEN: tok-canary-123
          healthcheck:
            test: ["CMD", "true"]
            interval: 1m30s
        x-deps: &deps
          depends_on: [db]
        services:
          db:
            image: postgres:16
          api:
            <<: [*common, *deps]
            image: registry.local:5000/acme/api:1
            x-owner: team-a
          worker:
            <<: *common
            build: ./worker
            environment:
              <<: *env
              LOG_LEVEL: debug
    """)
    cat = load([p])
    api = row(cat, "api")
    assert api["restart"] == "unless-stopped" and api["depends_on"][0]["service"] == "db"
    assert api["healthcheck"]["interval_s"] == 90.0 and api["healthcheck"]["timeout_s"] == 30.0
    assert api["environment"]["API_TOKEN"] == redact.MASK
    assert cat.raw["api"]["extensions"] == {"x-owner": "team-a"}
    worker = row(cat, "worker")
    assert worker["environment"]["LOG_LEVEL"] == "debug" and worker["build"] is True
    assert worker["tier"] == "application" and api["tier"] == "application"
    assert "tok-canary-123" not in dump(cat)


def test_yaml_12_scalars(tmp_path):
    p = write(tmp_path, """
        services:
          ssh:
            image: sshd
            ports:
              - 22:22
              - 2222:22
            environment:
              ENABLED: yes
              FLAG: on
              REAL: true
              OCTAL: 0755
              WHEN: 2024-01-02
    """)
    ssh = row(load([p]), "ssh")
    assert [(x["host_port"], x["container_port"]) for x in ssh["ports"]] == [(22, 22), (2222, 22)]
    assert ssh["environment"] == {"ENABLED": "yes", "FLAG": "on", "REAL": "true", "OCTAL": "755",
                                  "WHEN": "2024-01-02"}


def test_bad_yaml_names_file_and_line(tmp_path):
    p = write(tmp_path, "services:\n  app:\n    image: x\n   ports: [1\n")
    with pytest.raises(ComposeError) as err:
        load([p])
    assert err.value.file == str(p) and "line " in str(err.value) and err.value.fix


@pytest.mark.parametrize("text,match", [
    ("- just\n- a list\n", "top level"),
    ("services: [a, b]\n", "'services' must be a mapping"),
    ("services:\n  app: image-only-string\n", "must be a mapping"),
])
def test_structural_errors(tmp_path, text, match):
    p = write(tmp_path, text)
    with pytest.raises(ComposeError, match=match) as err:
        load([p])
    assert err.value.file == str(p) and err.value.fix


def test_missing_file(tmp_path):
    with pytest.raises(ComposeError, match="not found") as err:
        load([tmp_path / "nope.yml"])
    assert "--compose" in err.value.fix
    with pytest.raises(ComposeError, match="no compose file"):
        load([])


def test_duplicate_key_is_refused_with_line(tmp_path):
    p = write(tmp_path, "services:\n  app:\n    image: a\n    image: b\n")
    with pytest.raises(ComposeError, match="line 4: key 'image' is defined twice") as err:
        load([p])
    assert err.value.file == str(p)


def test_merge_key_precedence_and_unknown_tags(tmp_path):
    p = write(tmp_path, """
        x-a: &a {restart: always, image: from-a}
        x-b: &b {restart: "no", image: from-b, container_name: from-b}
        services:
          s1:
            <<: [*a, *b]
            container_name: explicit
          s2:
            <<: *b
    """)
    cat = load([p])
    s1 = row(cat, "s1")
    assert (s1["restart"], s1["image"], s1["container_name"]) == ("always", "from-a", "explicit")
    assert row(cat, "s2")["restart"] == "no"
    bad = write(tmp_path, "services:\n  app: {image: !custom x}\n", "bad.yml")
    with pytest.raises(ComposeError, match="not valid YAML"):
        load([bad])
    merge_scalar = write(tmp_path, "x: &x 1\nservices:\n  app: {<<: *x, image: y}\n", "m.yml")
    with pytest.raises(ComposeError, match="merge key"):
        load([merge_scalar])


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("services:\n  app: {image: x, command: *a8}")
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ComposeError, match="excessive aliasing"):
        load([p])


@pytest.mark.parametrize("text,line", [
    ("services:\n  a: &x\n    image: busybox\n    extra: *x\n", 2),
    ("services:\n  a: &x\n    image: busybox\n    <<: *x\n", 2),
    ("services:\n  a:\n    image: busybox\n    labels: &l [*l]\n", 4),
    ("x: &l [1, [2, *l]]\nservices:\n  a:\n    image: busybox\n", 1),
])
def test_recursive_alias_is_refused_with_line(tmp_path, text, line):
    """An anchor used inside its own value has no finite document: one ComposeError naming the
    anchor's line, never a RecursionError further down."""
    p = write(tmp_path, text)
    with pytest.raises(ComposeError, match="recursive alias") as err:
        load([p])
    assert err.value.file == str(p) and f"line {line}," in str(err.value) and err.value.fix
