"""Override merge rules, ``!reset``/``!override`` and ``extends``."""
from __future__ import annotations

import pytest

from runbook_lib.exceptions import ComposeError

from compose_helpers import load, row, write


# ------------------------------------------------------------ override merge
def test_override_merge_rules(tmp_path):
    a = write(tmp_path, """
        services:
          api:
            image: api:1
            command: ["serve", "--port", "80"]
            entrypoint: /old
            environment: [A=1, B=2]
            labels: [x=1]
            ports: ["8080:80"]
            expose: ["80"]
            dns: [1.1.1.1]
            volumes: ["data:/data", "./a:/conf"]
            healthcheck: {test: ["CMD", "old"], interval: 5s, retries: 9}
            depends_on: [db]
            networks: [front]
          db: {image: postgres:16}
    """, "a.yml")
    b = write(tmp_path, """
        services:
          api:
            image: api:2
            command: serve --fast
            environment: {B: "3", C: "4"}
            labels: {y: "2"}
            ports: ["8080:80", "9090:90"]
            expose: ["81"]
            dns: 8.8.8.8
            volumes: ["./b:/conf:ro", "/cache"]
            healthcheck: {test: ["CMD", "new"]}
            depends_on: {db: {condition: service_healthy}}
            networks: {back: {}}
          extra: {image: busybox}
    """, "b.yml")
    cat = load([a, b])
    api = row(cat, "api")
    assert api["image"] == "api:2" and api["command"] == "serve --fast"
    assert cat.raw["api"]["entrypoint"] == "/old"
    assert api["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert api["labels"] == {"x": "1", "y": "2"}
    assert [(p["host_port"], p["container_port"]) for p in api["ports"]] == [(8080, 80), (9090, 90)]
    assert cat.raw["api"]["expose"] == ["80", "81"]
    vols = {v["target"]: v for v in api["volumes"]}
    assert set(vols) == {"/data", "/conf", "/cache"} and vols["/conf"]["source"] == "./b" and vols["/conf"]["read_only"]
    assert api["healthcheck"]["test"] == ["CMD", "new"] and api["healthcheck"]["interval_s"] == 5.0
    assert api["healthcheck"]["retries"] == 9
    assert api["depends_on"] == [{"service": "db", "condition": "service_healthy", "required": True, "restart": False}]
    assert api["networks"] == ["front", "back"]
    assert list(cat.frame["service"]) == ["api", "db", "extra"]
    assert row(cat, "extra")["file"] == str(b) and cat.project == tmp_path.name.lower().lstrip("_-").replace(".", "")


def test_reset_and_override_tags(tmp_path):
    a = write(tmp_path, """
        services:
          api:
            image: api:1
            ports: ["8080:80"]
            environment: {A: "1", B: "2"}
            healthcheck: {test: ["CMD", "x"]}
    """, "a.yml")
    b = write(tmp_path, """
        services:
          api:
            ports: !reset []
            environment: !override {C: "3"}
            healthcheck: !reset null
    """, "b.yml")
    api = row(load([a, b]), "api")
    assert api["ports"] == [] and api["environment"] == {"C": "3"} and api["healthcheck"] is None


def test_extends(tmp_path):
    write(tmp_path, """
        services:
          base:
            image: node:20
            environment: {NODE_ENV: production, SHARED: "1"}
            healthcheck: {test: ["CMD", "true"], interval: 7s}
    """, "common.yml")
    p = write(tmp_path, """
        services:
          tmpl:
            image: app:1
            restart: always
            depends_on: [db]
          db: {image: postgres:16}
          api:
            extends: tmpl
            ports: ["80:80"]
          worker:
            extends: {file: common.yml, service: base}
            environment: {NODE_ENV: dev}
    """)
    cat = load([p])
    api = row(cat, "api")
    assert api["image"] == "app:1" and api["restart"] == "always"
    assert [d["service"] for d in api["depends_on"]] == ["db"]  # extends inherits depends_on (compose spec)
    w = row(cat, "worker")
    assert w["image"] == "node:20" and w["environment"] == {"NODE_ENV": "dev", "SHARED": "1"}
    assert w["healthcheck"]["interval_s"] == 7.0
    bad = write(tmp_path, "services:\n  a: {extends: nothere}\n", "bad.yml")
    with pytest.raises(ComposeError, match="nothere") as err:
        load([bad])
    assert err.value.service == "a"
    loop = write(tmp_path, "services:\n  a: {extends: b, image: x}\n  b: {extends: a}\n", "loop.yml")
    with pytest.raises(ComposeError, match="cycle"):
        load([loop])


def test_override_tag_then_third_file_merges_by_key(tmp_path):
    a = write(tmp_path, "services:\n  api: {image: x, environment: [A=1, B=2]}\n", "a.yml")
    b = write(tmp_path, "services:\n  api: {environment: !override [C=3]}\n", "b.yml")
    c = write(tmp_path, "services:\n  api: {environment: {D: '4'}}\n", "c.yml")
    assert row(load([a, b, c]), "api")["environment"] == {"C": "3", "D": "4"}
