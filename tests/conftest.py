"""Shared fixtures: a real Docker engine, the busybox test image, labelled containers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dockerenv  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "ledgerline-erp"
# Every default path runbook derives from the environment or from HOME (XDG folders). Tests pin them
# all under one temporary folder so that a command run without --store/--audit-log/--output-dir never
# writes the user's own store, audit log, alerts or maintenance database, demo files or reports.
# The alerts and maintenance databases follow XDG_DATA_HOME (alerts.sqlite also sits beside --store),
# so RUNBOOK_ALERTS_DB and RUNBOOK_MAINTENANCE_DB are unset rather than pinned.
PINNED_FILES = {"RUNBOOK_STORE": "data/runbook/history.sqlite3", "RUNBOOK_AUDIT_LOG": "data/runbook/audit.log",
                "RUNBOOK_OUTPUT_DIR": "outputs", "XDG_DATA_HOME": "data", "XDG_STATE_HOME": "state",
                "XDG_CONFIG_HOME": "config"}
UNSET = ("RUNBOOK_ALERTS_DB", "RUNBOOK_MAINTENANCE_DB",  # the user's own settings must not leak in either
         "RUNBOOK_CONFIG", "RUNBOOK_HOSTS", "RUNBOOK_NOTIFY")


@pytest.fixture(scope="session", autouse=True)
def pinned_user_paths(tmp_path_factory) -> Path:
    """Point every default runbook path at a session tmp folder (inherited by subprocesses via os.environ)."""
    root = tmp_path_factory.mktemp("runbook-user")
    saved = {k: os.environ.get(k) for k in (*PINNED_FILES, *UNSET)}
    for key, rel in PINNED_FILES.items():
        os.environ[key] = str(root / rel)
    for key in UNSET:
        os.environ.pop(key, None)
    yield root
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The project's own compose fixture (tests/fixtures/ledgerline-erp, see its README)."""
    if not FIXTURES.is_dir():
        pytest.fail(f"fixture folder {FIXTURES} missing: it ships with the repository")
    return FIXTURES


@pytest.fixture(scope="session")
def docker_client():
    """A docker-py client to a real engine; started if none answers. Never skips in CI."""
    why = dockerenv.ensure_engine()
    if why:
        if dockerenv.in_ci():
            pytest.fail(f"Docker engine required in CI: {why}")
        pytest.skip(f"no Docker engine: {why}")
    from runbook_lib.engine.connection import connect
    client = connect(timeout_s=30)
    yield client
    dockerenv.cleanup(client)


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """Tag of a FROM scratch image with the host's static busybox."""
    return dockerenv.build_busybox_image(docker_client)


@pytest.fixture(scope="session")
def test_label() -> str:
    """``runbook.test=<session id>``: put it on everything a test creates."""
    return dockerenv.TEST_LABEL


@pytest.fixture
def containers(docker_client, busybox_image, test_label):
    """Factory: containers(name_suffix, command, labels=..., **run_kwargs) -> Container.

    Adds the test label, publishes nothing unless asked, removes them after the test.
    """
    made = []
    key, val = test_label.split("=", 1)

    def make(command, name: str | None = None, labels: dict | None = None, **kw):
        lab = {key: val, **(labels or {})}
        kw.setdefault("detach", True)
        c = docker_client.containers.run(busybox_image, command, labels=lab,
                                         name=(f"rbt-{dockerenv.SESSION_ID}-{name}" if name else None), **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001
            pass
