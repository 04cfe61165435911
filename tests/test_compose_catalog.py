"""The catalog frame: project name, masking, inert rendering."""
from __future__ import annotations

import pytest

from compose_helpers import dump, load, write


# ------------------------------------------------------------------ project
@pytest.mark.parametrize("kw,environ,expected", [
    ({"project_name": "Explicit_One"}, {"COMPOSE_PROJECT_NAME": "env"}, "explicit_one"),
    ({}, {"COMPOSE_PROJECT_NAME": "from-env"}, "from-env"),
    ({}, {}, "named-in-file"),
])
def test_project_name(tmp_path, kw, environ, expected):
    p = write(tmp_path, "name: named-in-file\nservices: {a: {image: x}}\n")
    assert load([p], environ=environ, **kw).project == expected


def test_project_name_from_directory(tmp_path):
    p = write(tmp_path / "My Stack.v2", "services: {a: {image: x}}\n")
    assert load([p]).project == "mystackv2"


def test_catalog_frame_is_masked_against_known_canaries(tmp_path):
    canaries = {"POSTGRES_PASSWORD": "pg-canary-1", "AWS_SECRET_ACCESS_KEY": "aws-canary-2",
                "GITHUB_TOKEN": "gh-canary-3"}
    env_lines = "\n".join(f"      {k}: {v}" for k, v in canaries.items())
    p = write(tmp_path, "services:\n  app:\n    image: x\n    command: [\"--password=cmd-canary-4\"]\n"
                        "    environment:\n" + env_lines + "\n"
                        "    healthcheck: {test: [\"CMD\", \"check\", \"pg-canary-1\"]}\n")
    cat = load([p])
    text = dump(cat)
    for value in [*canaries.values(), "cmd-canary-4"]:
        assert value not in text
    assert cat.raw["app"]["environment"]["GITHUB_TOKEN"] == "gh-canary-3"


def test_untrusted_text_renders_inert(tmp_path):
    from runbook_lib.view import render
    from runbook_lib.compose.catalog import catalog_table
    p = write(tmp_path, """
        services:
          web:
            image: "acme/x:1"
            labels: {note: "<script>alert(1)</script>"}
            command: ["echo", "\\"><img src=x onerror=alert(1)>"]
            environment: {GREETING: "<script>alert(1)</script>"}
    """)
    cat = load([p])
    html = render.table_html(cat.frame[["service", "labels", "command", "environment"]])
    html += render.table_html(catalog_table(cat))
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
