"""``${VAR}`` interpolation and ``.env`` files."""
from __future__ import annotations

import textwrap

import pytest

from runbook_lib.compose.catalog import interpolate
from runbook_lib.exceptions import ComposeError

from compose_helpers import dump, load, row, write


# --------------------------------------------------------------- interpolation
@pytest.mark.parametrize("text,env,expected", [
    ("${A}", {"A": "x"}, "x"),
    ("$A-$B", {"A": "x", "B": "y"}, "x-y"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("${A:+r}", {"A": "x"}, "r"),
    ("${A:+r}", {"A": ""}, ""),
    ("${A+r}", {"A": ""}, "r"),
    ("${A:-${B:-deep}}", {}, "deep"),
    ("${A:-${B}}", {"B": "b"}, "b"),
    ("$$A and $${B}", {"A": "no"}, "$A and ${B}"),
    ("cost: 5$", {}, "cost: 5$"),
    ("${A:?must}", {"A": "ok"}, "ok"),
    ("${A?must}", {"A": ""}, ""),
    ("pre-${A:-x:y}-post", {}, "pre-x:y-post"),
])
def test_interpolate(text, env, expected):
    assert interpolate(text, env) == expected


def test_interpolate_unset_plain_is_blank_with_note(tmp_path):
    p = write(tmp_path, """
        services:
          app:
            image: "img:${TAG}"
    """)
    cat = load([p])
    assert row(cat, "app")["image"] == "img:"
    assert any('"TAG" is not set' in n for n in cat.notes)


@pytest.mark.parametrize("expr", ["${DB_PASSWORD:?set the database password}", "${DB_PASSWORD?set it}"])
def test_required_variable_unset_names_file_service_variable_fix(tmp_path, expr):
    p = write(tmp_path, f"""
        services:
          db:
            image: postgres:16
            environment:
              POSTGRES_PASSWORD: "{expr}"
    """)
    with pytest.raises(ComposeError) as err:
        load([p])
    e = err.value
    assert e.file == str(p) and e.service == "db" and "DB_PASSWORD" in str(e) and ".env" in e.fix
    assert "set " in str(e)


def test_invalid_interpolation(tmp_path):
    p = write(tmp_path, """
        services:
          app:
            image: "img:${TAG"
    """)
    with pytest.raises(ComposeError, match="never closed") as err:
        load([p])
    assert err.value.service == "app"


def test_dotenv_next_to_first_file_and_shell_wins(tmp_path):
    (tmp_path / ".env").write_text(textwrap.dedent("""
        # comment
        export TAG=from-dotenv
        PORT=8080   # inline comment
        QUOTED="a b"
        SINGLE='${NOT}'
        DERIVED=${TAG}-x
        COMPOSE_PROJECT_NAME=FromDotEnv
    """))
    p = write(tmp_path, """
        services:
          app:
            image: img:${TAG}
            ports: ["${PORT}:80"]
            environment:
              Q: ${QUOTED}
              S: ${SINGLE}
              D: ${DERIVED}
    """)
    cat = load([p])
    app = row(cat, "app")
    assert app["image"] == "img:from-dotenv" and app["ports"][0]["host_port"] == 8080
    assert app["environment"] == {"Q": "a b", "S": "${NOT}", "D": "from-dotenv-x"}
    assert cat.project == "fromdotenv"
    cat = load([p], environ={"TAG": "shell"})
    assert row(cat, "app")["image"] == "img:shell"
    other = tmp_path / "other.env"
    other.write_text("TAG=explicit\n")
    assert row(load([p], env_file=other), "app")["image"] == "img:explicit"
    with pytest.raises(ComposeError, match="env file not found"):
        load([p], env_file=tmp_path / "missing.env")


def test_bad_dotenv_line(tmp_path):
    (tmp_path / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    p = write(tmp_path, "services: {app: {image: x}}\n")
    with pytest.raises(ComposeError, match="line 2") as err:
        load([p])
    assert err.value.file == str(tmp_path / ".env")


def test_secrets_from_dotenv_and_shell_are_masked_where_interpolated(tmp_path):
    (tmp_path / ".env").write_text("REDIS_PASSWORD=dotenv-canary-11\nPLAIN=ok\n")
    p = write(tmp_path, """
        services:
          ui:
            image: rediscommander/redis-commander
            environment:
              - REDIS_HOSTS=local:redis:6379:0:${REDIS_PASSWORD}
              - API=https://x/?k=${SERVICE_API_KEY}
            healthcheck: {test: ["CMD", "probe", "${REDIS_PASSWORD}"]}
    """)
    cat = load([p], environ={"SERVICE_API_KEY": "shell-canary-12", "UNRELATED_TOKEN": "zz-not-used-zz"})
    text = dump(cat)
    assert "dotenv-canary-11" not in text and "shell-canary-12" not in text
    assert cat.raw["ui"]["environment"]["REDIS_HOSTS"].endswith("dotenv-canary-11")
