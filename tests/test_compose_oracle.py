"""docker-compose 1.29 (Debian's package) as the oracle: runbook's catalog agrees with ``docker-compose config``.

For every compose fixture the project carries, the merged and interpolated model agrees on
services, images, ports, dependencies with their conditions, healthchecks and environment.
Where 1.29 is older than the compose spec, compose_helpers.SPEC_ONLY_RULES names the rule
and rewrites the copy 1.29 reads. The oracle is skipped only when the binary is absent outside CI.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.exceptions import ComposeError

from compose_helpers import SPEC_ONLY_RULES, compare_with_oracle, load, need_oracle, oracle_config, oracle_copy, write

# Every fixture file alone (overrides with the file they override), and the override combinations.
FIXTURE_SETS = [
    ("docker-compose.yml",),
    ("docker-compose.yml", "docker-compose.prod.yml"),
    ("docker-compose.yml", "docker-compose.monitoring.yml"),
    ("docker-compose.yml", "docker-compose.prod.yml", "docker-compose.monitoring.yml"),
    ("docker-compose.yml", "archive/docker-compose.override.yml"),
    ("archive/docker-compose-complete.yml",),
    ("archive/docker-compose-complete.yml", "archive/docker-compose.override.yml"),
    ("archive/docker-compose-core.yml", "archive/docker-compose.override.yml"),
    ("archive/docker-compose-simple.yml",),
    ("archive/docker-compose-without-temporal.yml",),
    ("common/nestjs-base.yml",),
]


@pytest.fixture(scope="module")
def oracle_dir(fixtures_dir, tmp_path_factory) -> Path:
    """The fixture folder as 1.29 can read it (compose-spec-only syntax rewritten, each rule named)."""
    need_oracle()
    dst = tmp_path_factory.mktemp("oracle") / fixtures_dir.name
    used = oracle_copy(fixtures_dir, dst)
    assert used == [name for name, _, _ in SPEC_ONLY_RULES]  # the fixture exercises every newer rule
    return dst


def test_every_fixture_file_is_in_a_set(fixtures_dir):
    covered = {f for s in FIXTURE_SETS for f in s}
    files = {str(p.relative_to(fixtures_dir)) for p in fixtures_dir.rglob("*.yml")}
    assert files == covered


@pytest.mark.parametrize("names", FIXTURE_SETS, ids=lambda s: "+".join(Path(x).name for x in s))
def test_fixture_agrees_with_docker_compose_config(fixtures_dir, oracle_dir, names):
    compare_with_oracle([fixtures_dir / n for n in names], [oracle_dir / n for n in names])


def test_environ_wins_over_dotenv_in_both(fixtures_dir, oracle_dir):
    environ = {"VERSION": "2.0.1", "TZ": "UTC", "LOG_LEVEL": "warn", "POSTGRES_PASSWORD": "shell-pw-1"}
    model = compare_with_oracle([fixtures_dir / "docker-compose.yml"], [oracle_dir / "docker-compose.yml"], environ)
    assert model["services"]["auth"]["image"] == "ledgerline-erp/auth:2.0.1"
    assert model["services"]["scheduler"]["environment"]["TZ"] == "UTC"


def test_the_rewritten_rules_are_really_refused_by_1_29(tmp_path):
    """Each SPEC_ONLY_RULES entry names a real difference: 1.29 rejects the original syntax."""
    need_oracle()
    f = write(tmp_path, """
        services:
          db: {image: postgres:16}
          api:
            image: api:1
            environment: {FLAG: false}
            depends_on:
              db: {condition: service_started, required: false}
          web:
            image: web:1
            depends_on:
              db: {condition: service_started, restart: true}
    """)
    with pytest.raises(AssertionError) as err:
        oracle_config([f])
    for word in ("FLAG", "required", "restart"):
        assert word in str(err.value)


# ---------------------------------------------------------------- issue 11 defects, against the oracle
def test_mapping_entry_without_value_is_filled_like_list_form(tmp_path):
    """``KEY:`` in mapping form takes the shell / .env value, as ``- KEY`` does; unset stays None."""
    (tmp_path / ".env").write_text("FROM_DOTENV=dot-1\nBOTH=dot-2\n")
    f = write(tmp_path, """
        services:
          api:
            image: api:1
            environment:
              FROM_DOTENV:
              FROM_SHELL:
              BOTH:
              NOWHERE:
              SET: "x"
          worker:
            image: api:1
            environment: [FROM_DOTENV, FROM_SHELL, BOTH, NOWHERE, SET=x]
    """)
    environ = {"FROM_SHELL": "sh-1", "BOTH": "sh-2"}
    want = {"FROM_DOTENV": "dot-1", "FROM_SHELL": "sh-1", "BOTH": "sh-2", "NOWHERE": None, "SET": "x"}
    cat = load([f], environ=environ)
    assert cat.raw["api"]["environment"] == want == cat.raw["worker"]["environment"]
    compare_with_oracle([f], [f], environ)


def test_env_file_of_extended_service_is_read_from_its_own_folder(tmp_path):
    """``extends: file:`` pulls in an ``env_file`` relative to the extended file's folder."""
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "app.env").write_text("SHARED=from-common\n")
    (tmp_path / "app.env").write_text("SHARED=from-project-folder\n")  # the wrong one
    write(tmp_path, """
        services:
          base:
            image: app:1
            env_file: [./app.env]
            environment: {ROLE: base}
    """, "common/base.yml")
    f = write(tmp_path, """
        services:
          api:
            extends: {file: common/base.yml, service: base}
            environment: {ROLE: api}
          worker:
            image: app:1
            env_file: app.env
    """)
    cat = load([f])
    assert cat.raw["api"]["environment"] == {"SHARED": "from-common", "ROLE": "api"}
    assert cat.raw["worker"]["environment"] == {"SHARED": "from-project-folder"}
    assert not cat.notes
    compare_with_oracle([f], [f])


def test_quoted_dotenv_value_followed_by_a_comment_with_quotes(tmp_path):
    (tmp_path / ".env").write_text(
        'BASE_PATH="" # use "" or "/sub"\n'
        "SINGLE='a b' # it's \"quoted\"\n"
        'ESCAPED="say \\"hi\\"" # "c"\n'
        "PLAIN=value # a comment\n"
        'HASH="a#b"\n')
    f = write(tmp_path, """
        services:
          web:
            image: web:1
            environment:
              BASE_PATH: ${BASE_PATH}
              SINGLE: ${SINGLE}
              ESCAPED: ${ESCAPED}
              PLAIN: ${PLAIN}
              HASH: ${HASH}
    """)
    env = load([f]).raw["web"]["environment"]
    assert env == {"BASE_PATH": "", "SINGLE": "a b", "ESCAPED": 'say "hi"', "PLAIN": "value", "HASH": "a#b"}
    compare_with_oracle([f], [f])


@pytest.mark.parametrize("fragment,match", [
    ("ports: ['web:80']", "cannot be parsed"),
    ("healthcheck: {interval: soon}", "not a duration"),
    ("healthcheck: {test: [EXEC, x]}", "CMD, CMD-SHELL or NONE"),
    ("depends_on: [nothere]", "unknown service 'nothere'"),
    ("depends_on: {db: {condition: service_ready}}", "unknown condition"),
])
def test_error_in_an_override_names_the_override(tmp_path, fragment, match):
    base = write(tmp_path, """
        services:
          db: {image: postgres:16}
          api: {image: api:1, ports: ["8080:80"], healthcheck: {test: [CMD, "true"], interval: 5s}}
    """, "compose.yml")
    over = write(tmp_path, "services:\n  api:\n    " + fragment + "\n", "compose.override.yml")
    with pytest.raises(ComposeError, match=match) as err:
        load([base, over])
    assert err.value.file == str(over) and err.value.service == "api"
    assert str(over) in str(err.value) and str(base) not in str(err.value)


# ---------------------------------------------------------------- build.args, extends + depends_on, error files
def test_build_args_override_merges_with_the_base(tmp_path):
    """An override's ``build.args`` merges by key with the base's, in list or mapping form (1.29 agrees)."""
    for d in ("web", "job"):
        (tmp_path / d).mkdir()  # 1.29 checks that a build context exists
    base = write(tmp_path, """
        services:
          api:
            image: api:1
            build:
              context: .
              args: {NODE_VERSION: "20", APP_ENV: dev, KEEP: "1"}
          web:
            image: web:1
            build:
              context: ./web
              args: [NODE_VERSION=20, APP_ENV=dev, KEEP=1]
          job:
            image: job:1
            build: ./job
    """, "compose.yml")
    over = write(tmp_path, """
        services:
          api:
            build:
              args: [APP_ENV=prod, EXTRA=x]
          web:
            build:
              args: {APP_ENV: prod, EXTRA: x}
          job:
            build:
              args: {EXTRA: x}
    """, "compose.prod.yml")
    want = {"NODE_VERSION": "20", "APP_ENV": "prod", "KEEP": "1", "EXTRA": "x"}
    cat = load([base, over])
    assert cat.raw["api"]["spec"]["build"] == {"context": ".", "args": want}
    assert cat.raw["web"]["spec"]["build"] == {"context": "./web", "args": want}
    assert cat.raw["job"]["spec"]["build"] == {"context": "./job", "args": {"EXTRA": "x"}}
    model = compare_with_oracle([base, over], [base, over])
    for svc in ("api", "web"):
        args = model["services"][svc]["build"]["args"]
        assert {k: str(v) for k, v in args.items()} == want
    assert model["services"]["job"]["build"]["args"] == {"EXTRA": "x"}


# Where runbook (compose spec) and 1.29 differ on extends: named, as for SPEC_ONLY_RULES.
EXTENDS_DEPENDS_ON_RULE = ("extends inherits depends_on (compose spec, Compose v2, docker/compose#12360); "
                           "1.29 refuses to extend a service with depends_on")


def test_extends_inherits_depends_on(tmp_path):
    """The extending service keeps the extended one's depends_on, conditions included, and adds its own."""
    write(tmp_path, """
        services:
          base:
            image: app:1
            depends_on:
              db: {condition: service_healthy}
    """, "common/base.yml")
    f = write(tmp_path, """
        services:
          db:
            image: postgres:16
            healthcheck: {test: [CMD, pg_isready], interval: 5s}
          cache: {image: redis:7}
          tmpl:
            image: app:1
            depends_on: [cache]
          api:
            extends: tmpl
            depends_on:
              db: {condition: service_healthy}
          worker:
            extends: {file: common/base.yml, service: base}
            depends_on: [cache]
    """)
    cat = load([f])
    deps = {s: {d["service"]: d["condition"] for d in cat.raw[s]["depends_on"]} for s in ("api", "worker")}
    assert deps["api"] == {"cache": "service_started", "db": "service_healthy"}
    assert deps["worker"] == {"db": "service_healthy", "cache": "service_started"}
    need_oracle()
    with pytest.raises(AssertionError, match="depends_on' cannot be extended"):
        oracle_config([f])
    # 1.29 agrees on everything else once the inherited depends_on is written on the child.
    g = write(tmp_path, """
        services:
          db:
            image: postgres:16
            healthcheck: {test: [CMD, pg_isready], interval: 5s}
          cache: {image: redis:7}
          tmpl: {image: app:1}
          api:
            extends: tmpl
            depends_on:
              cache: {condition: service_started}
              db: {condition: service_healthy}
          worker:
            image: app:1
            depends_on:
              db: {condition: service_healthy}
              cache: {condition: service_started}
    """, "oracle.yml")
    compare_with_oracle([f], [g], skip={"tmpl": EXTENDS_DEPENDS_ON_RULE})


EXTENDED_FILE = """
services:
  base: {image: app:1, ports: ["web:80"]}
  dep: {image: app:1, depends_on: [nothere]}
  cond: {image: app:1, depends_on: {x: {condition: service_ready}}}
"""


@pytest.mark.parametrize("extends,match,blamed,service", [
    ("{file: common/base.yml, service: base}", "cannot be parsed", "common", "base"),
    ("{file: common/base.yml, service: dep}", "unknown service 'nothere'", "common", "api"),
    ("{file: common/base.yml, service: cond}", "unknown condition", "common", "cond"),
    ("{file: common/var.yml, service: var}", "MUST_BE_SET", "var", None),
    ("{file: common/base.yml, service: nothere}", "does not define", "self", "api"),
    ("{file: common/missing.yml, service: base}", "does not exist", "self", "api"),
])
def test_error_in_an_extended_file_names_that_file(tmp_path, extends, match, blamed, service):
    """A bad entry inherited through ``extends: file:`` is blamed on the file that holds it;
    a bad ``extends`` itself on the file that writes it."""
    common = write(tmp_path, EXTENDED_FILE, "common/base.yml")
    var = write(tmp_path, 'services:\n  var: {image: "app:${MUST_BE_SET:?set it}"}\n', "common/var.yml")
    f = write(tmp_path, f"services:\n  api:\n    extends: {extends}\n")
    with pytest.raises(ComposeError, match=match) as err:
        load([f])
    assert err.value.file == {"common": str(common.resolve()), "var": str(var.resolve()), "self": str(f)}[blamed]
    if service is not None:
        assert err.value.service == service
