"""Canary secrets across every command (issue 14): none may reach any output, file, store or audit log.

A real labelled project carries canaries of every form in its environment and command line
(numeric password, DSN key, Bearer token, ``--flag=`` value, URL password) and echoes them
in its logs and health output. Then ``diagnose --json``, ``plan --json``, ``probe --json``,
``collect``, ``export`` and the ``recovery_report`` / ``health_check`` reports run through the
real command line, and every stdout, stderr, written file, the store (with its -wal) and the
audit log are searched byte for byte.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from dockerenv import wait_for

_rng = random.Random()
NUMERIC = str(_rng.randrange(10**8, 10**9))
DSN_KEY = uuid.uuid4().hex
BEARER = f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4().hex[:16]}.{uuid.uuid4().hex[:12]}"
FLAG = f"flagCny{uuid.uuid4().hex[:10]}"
URL_PW = f"urlCny{uuid.uuid4().hex[:10]}"
CANARIES = {"numeric": NUMERIC, "dsn": DSN_KEY, "bearer": BEARER, "flag": FLAG, "url": URL_PW}

ENV = {
    "REDIS_PASSWORD": NUMERIC,
    "SENTRY_DSN": f"https://{DSN_KEY}@o1.ingest.example/42",
    "API_TOKEN": BEARER,
    "DATABASE_URL": f"postgres://app:{URL_PW}@db:5432/app",
}
ECHO = "; ".join([
    'echo "redis: AUTH $REDIS_PASSWORD rejected: WRONGPASS"',
    'echo "sentry: sending to $SENTRY_DSN"',
    'echo "GET /api Authorization: Bearer $API_TOKEN failed"',
    f'echo "exec: api --password={FLAG} --verbose"',
    'echo "connecting to $DATABASE_URL: connection refused"',
    'echo "retry with ($REDIS_PASSWORD) and token $API_TOKEN"',
])


def _run(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runbook_lib", *argv], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def canary_run(docker_client, busybox_image, test_label, tmp_path_factory):
    """Run every command against a project full of canaries; yield (outputs, folder)."""
    project = f"cny{uuid.uuid4().hex[:8]}"
    key, val = test_label.split("=", 1)
    tmp = tmp_path_factory.mktemp("canaries")
    (tmp / "project").mkdir()
    compose = tmp / "project" / "docker-compose.yml"  # the input: the only file allowed to hold the canaries
    compose.write_text(yaml.safe_dump({"services": {
        "api": {"image": busybox_image, "environment": ENV, "command": ["sh", "-c", "sleep 1", "api", f"--password={FLAG}"],
                "healthcheck": {"test": ["CMD-SHELL", "exit 1"], "interval": "1s", "retries": 1}},
        "worker": {"image": busybox_image, "environment": ENV, "depends_on": ["api"],
                   "command": ["sh", "-c", "exit 3", "worker", f"--password={FLAG}"]}}}))
    labels = lambda svc: {key: val, "com.docker.compose.project": project,  # noqa: E731
                          "com.docker.compose.service": svc,
                          "com.docker.compose.project.working_dir": str(compose.parent),
                          "com.docker.compose.project.config_files": str(compose)}
    hc = {"test": ["CMD-SHELL", f"{ECHO}; exit 1"], "interval": 500_000_000, "timeout": 2_000_000_000,
          "retries": 1}
    api = docker_client.containers.run(
        busybox_image, ["sh", "-c", f"{ECHO}; while true; do sleep 1; done", "api", f"--password={FLAG}"],
        detach=True, environment=ENV, healthcheck=hc, labels=labels("api"), name=f"{project}-api-1")
    worker = docker_client.containers.run(
        busybox_image, ["sh", "-c", f"{ECHO}; exit 3", "worker", f"--password={FLAG}"],
        detach=True, environment=ENV, labels=labels("worker"), name=f"{project}-worker-1")
    try:
        wait_for(lambda: docker_client.api.inspect_container(api.id)["State"]["Health"]["Status"] == "unhealthy"
                 and docker_client.api.inspect_container(worker.id)["State"]["Status"] == "exited", timeout_s=60)
        store, audit, reports, export = tmp / "history.sqlite3", tmp / "audit.log", tmp / "reports", tmp / "export"
        env = {**os.environ, "RUNBOOK_STORE": str(store), "RUNBOOK_AUDIT_LOG": str(audit)}
        commands = {
            "diagnose": ["diagnose", "--json", "--project", project],
            "plan": ["plan", "--json", "--project", project, "--audit-log", str(audit)],
            "probe": ["probe", "--json", "--project", project],
            "collect": ["collect", "--count", "1", "--interval", "5", "--project", project, "--store", str(store)],
            "export": ["export", "--format", "csv", "--store", str(store), "--output-dir", str(export)],
            "export-parquet": ["export", "--store", str(store), "--output-dir", str(export)],
            "recovery_report": ["report", "recovery_report", "-p", "project", project, "-p", "store_path", str(store),
                                "--output-dir", str(reports), "--quiet"],
            "health_check": ["report", "health_check", "-p", "project", project, "-p", "store_path", str(store),
                             "--output-dir", str(reports), "--quiet"],
        }
        outputs = {name: _run(*argv, cwd=tmp, env=env) for name, argv in commands.items()}
        yield outputs, tmp
    finally:
        for c in (api, worker):
            c.remove(force=True)


def test_every_command_ran(canary_run):
    outputs, tmp = canary_run
    for name, proc in outputs.items():
        assert "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
        assert proc.returncode in (0, 1), (name, proc.returncode, proc.stderr[-2000:])
    assert (tmp / "history.sqlite3").exists() and (tmp / "audit.log").exists()
    assert list((tmp / "export").glob("samples-*.csv")) and list((tmp / "export").glob("samples-*.parquet"))
    kinds = {p.name.split("-")[0] for p in (tmp / "reports").rglob("*.html")}
    assert {"recovery_report", "health_check"} <= {k.split(".")[0] for k in kinds} or \
        len(list((tmp / "reports").rglob("*.json"))) >= 2
    # the canaries really were there to leak: the diagnosis saw the failing services
    assert "api" in outputs["diagnose"].stdout and "worker" in outputs["diagnose"].stdout


@pytest.mark.parametrize("form", sorted(CANARIES))
def test_no_canary_in_any_stream(canary_run, form):
    outputs, _ = canary_run
    canary = CANARIES[form]
    for name, proc in outputs.items():
        assert canary not in proc.stdout, (form, name, "stdout")
        assert canary not in proc.stderr, (form, name, "stderr")


@pytest.mark.parametrize("form", sorted(CANARIES))
def test_no_canary_in_any_file(canary_run, form):
    """Every file written (reports, exports, the store and its -wal, the audit log), read as bytes."""
    _, tmp = canary_run
    canary = CANARIES[form].encode()
    files = [p for p in tmp.rglob("*") if p.is_file() and p.parent.name != "project"]
    assert any(p.name == "audit.log" for p in files) and any(p.suffix == ".html" for p in files)
    for p in files:
        data = p.read_bytes()
        assert canary not in data, (form, str(p))
        if p.suffix == ".parquet":  # compressed pages: read the values back as text
            import pandas as pd
            assert CANARIES[form] not in pd.read_parquet(p).to_csv(), (form, str(p))


def test_mask_marker_is_present(canary_run):
    outputs, tmp = canary_run
    assert "[MASKED]" in outputs["diagnose"].stdout
    assert any("[MASKED]" in p.read_text(errors="replace") for p in (tmp / "reports").rglob("*.html"))
    store = b"".join(p.read_bytes() for p in tmp.glob("history.sqlite3*"))
    assert b"[MASKED]" in store  # the health output with the canaries reached the store, masked
