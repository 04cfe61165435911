"""Test-side Docker helpers: make sure an engine answers, build the busybox image, clean up.

Every container a test creates carries the label ``runbook.test=<session id>`` and is
removed at the end of the session (and by the ``containers`` fixture after each test),
even when the test fails.
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

TEST_LABEL_KEY = "runbook.test"
SESSION_ID = uuid.uuid4().hex[:10]
TEST_LABEL = f"{TEST_LABEL_KEY}={SESSION_ID}"
BUSYBOX_IMAGE = "runbook-test-busybox:1"
REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def ensure_engine() -> str | None:
    """Start a Docker engine if none answers (scripts/engine.sh); return None or why not."""
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0:
        return None
    script = REPO / "scripts" / "engine.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return (proc.stdout + proc.stderr).strip() or "no Docker engine"
    return None


def build_busybox_image(client, tag: str = BUSYBOX_IMAGE) -> str:
    """The FROM scratch image holding the host's static busybox (no registry needed), built once.

    Same recipe as the demo's image, without the demo's label.
    """
    from runbook_lib.demo import stack as demo
    return demo.ensure_image(client, tag, labels={})


def cleanup(client, label: str = TEST_LABEL) -> int:
    """Remove every container carrying the label (never volumes). Returns how many."""
    n = 0
    for c in client.api.containers(all=True, filters={"label": label}):
        try:
            client.api.remove_container(c["Id"], force=True)
            n += 1
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass
    return n


def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.2):
    """Poll until predicate() is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval_s)
