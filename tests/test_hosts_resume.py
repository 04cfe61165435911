"""`runbook plan --host NAME=URL --apply --resume`: each host resumes past the fix its own last run stopped at."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import dockerenv
from runbook_lib.cli import main
from runbook_lib.engine.actions import last_manual_fix, resume_confirmed
from runbook_lib.engine.audit import read_audit
from runbook_lib.engine.hosts import HostAudit
from runbook_lib.engine.inventory import CONFIG_FILES_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL

SOCKET = "unix:///var/run/docker.sock"


def test_last_manual_fix_per_host(tmp_path):
    log = tmp_path / "audit.jsonl"
    HostAudit("a", log).event("fix", "web", "manual", "fix it", {"service": "web"})
    HostAudit("b", log).event("fix", "db", "manual", "fix it", {"service": "db"})
    HostAudit("a", log).event("fix", "api", "dry-run", "fix it", {"service": "api"}, dry_run=True)
    audit = HostAudit("a", log)
    assert last_manual_fix(audit, host="a") == "web" and last_manual_fix(audit, host="b") == "db"
    assert last_manual_fix(audit) == "db" and last_manual_fix(audit, host="c") is None
    plan = pd.DataFrame({"service": ["db", "web", "web"], "action": ["fix", "fix", "recreate"]})
    assert resume_confirmed(plan, audit, host="a") == ["web"]
    assert resume_confirmed(plan, audit, host="b") == ["db"]


@pytest.fixture
def broken_healthcheck(docker_client, containers, busybox_image, tmp_path):
    """A service whose health check calls curl, which the image lacks: the plan's first step is a manual fix."""
    name = f"rbhres{dockerenv.SESSION_ID[:6]}"
    key, val = dockerenv.TEST_LABEL.split("=", 1)
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(f"services:\n  web:\n    image: {busybox_image}\n    command: [sleep, '3600']\n"
                       f"    network_mode: none\n    labels: {{{key}: '{val}'}}\n"
                       f"    healthcheck: {{test: [CMD, curl, -f, http://127.0.0.1/], interval: 1s, retries: 1}}\n")
    c = containers(["sleep", "3600"], name=f"{name}-web", network_mode="none",
                   healthcheck={"test": ["CMD", "curl", "-f", "http://127.0.0.1/"], "interval": 1_000_000_000,
                                "retries": 1},
                   labels={PROJECT_LABEL: name, SERVICE_LABEL: "web", CONFIG_FILES_LABEL: "docker-compose.yml",
                           WORKDIR_LABEL: str(tmp_path)})

    def unhealthy():
        c.reload()
        return c.attrs["State"].get("Health", {}).get("Status") == "unhealthy"
    dockerenv.wait_for(unhealthy, timeout_s=60)
    yield name, compose
    for made in docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={name}"}):
        made.remove(force=True)  # the one compose recreated on --resume as well


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_plan_hosts_apply_resume_confirms_that_hosts_fix(broken_healthcheck, tmp_path, capsys):
    project, compose = broken_healthcheck
    audit = tmp_path / "audit.jsonl"
    argv = ["plan", "--host", f"a={SOCKET}", "--project", project, "--audit-log", str(audit), "--json",
            "--apply", "--budget", "20"]
    code = main(argv)
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["hosts"]["a"]["stopped_at"] == "web", doc  # the manual fix step
    assert last_manual_fix(HostAudit("a", audit), host="a") == "web"
    compose.write_text(compose.read_text().replace("[CMD, curl, -f, http://127.0.0.1/]", "[CMD, 'true']"))
    code = main(argv + ["--resume"])  # refused before: "--resume goes on with one engine's plan"
    doc = json.loads(capsys.readouterr().out)
    entry = doc["hosts"]["a"]
    assert entry["confirmed"] == ["web"], entry
    fix = [a for a in entry["applied"] if a["service"] == "web" and a["action"] == "fix"][0]
    assert fix["outcome"] == "confirmed"
    records = read_audit(audit)
    confirmed = records[records["outcome"] == "confirmed"]
    assert len(confirmed) and set(confirmed["params"].map(lambda p: p.get("engine_host"))) == {"a"}
