"""`runbook plan --host ...` for a compose project: a plan per host, steps and commands name the host,
--apply acts on that host's engine, the audit log records it. The real local engine is host a."""
from __future__ import annotations

import json

import pytest

import dockerenv
from runbook_lib.cli import main
from runbook_lib.engine.audit import read_audit
from runbook_lib.engine.inventory import CONFIG_FILES_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL

SOCKET = "unix:///var/run/docker.sock"


@pytest.fixture
def stopped_project(containers, busybox_image, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  web:\n    image: {busybox_image}\n    command: [sleep, '3600']\n    network_mode: none\n")
    name = f"rbhplan{dockerenv.SESSION_ID[:6]}"
    c = containers(["sleep", "3600"], name=f"{name}-web", network_mode="none",
                   labels={PROJECT_LABEL: name, SERVICE_LABEL: "web", CONFIG_FILES_LABEL: "docker-compose.yml",
                           WORKDIR_LABEL: str(tmp_path)})
    c.stop(timeout=1)
    return name, c


@pytest.mark.docker
def test_plan_hosts_dry_run_then_apply_names_the_host(stopped_project, tmp_path, capsys):
    project, container = stopped_project
    audit = tmp_path / "audit.jsonl"
    argv = ["plan", "--host", f"a={SOCKET}", "--host", "gone=unix:///nonexistent/docker.sock",
            "--project", project, "--audit-log", str(audit), "--json"]
    code = main(argv)
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["dry_run"]
    assert doc["hosts"]["gone"]["status"] == "unknown"
    steps = doc["hosts"]["a"]["plan"]
    assert steps and {s["host"] for s in steps} == {"a"}
    start = [s for s in steps if s["action"] == "start"]
    assert start and start[0]["command"].startswith(f"docker --host {SOCKET} start ")
    container.reload()
    assert container.status == "exited"  # dry-run changed nothing
    records = read_audit(audit)
    assert len(records) and set(records["params"].map(lambda p: p.get("engine_host"))) == {"a"}

    code = main(argv[:-1] + ["--apply", "--budget", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    container.reload()
    assert container.status == "running"
    records = read_audit(audit)
    applied = records[~records["dry_run"].astype(bool)]
    assert len(applied) and set(applied["params"].map(lambda p: p.get("engine_host"))) == {"a"}
    assert set(applied["params"].map(lambda p: p.get("engine_url"))) == {SOCKET}


def test_plan_hosts_masks_credentials_in_urls(capsys):
    code = main(["plan", "--host", "gone=tcp://ops:s3cretpw@127.0.0.1:1", "--project", "nothing", "--engine-timeout", "2"])
    captured = capsys.readouterr()
    assert code == 0 and "gone" in captured.out
    assert "s3cretpw" not in captured.out + captured.err
