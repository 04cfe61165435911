"""Shared fixtures: a real Docker engine, the busybox test image, labelled containers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dockerenv  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "ledgerline-erp"


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
