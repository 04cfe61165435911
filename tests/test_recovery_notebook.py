"""notebooks/recovery_plan.ipynb end to end: plain papermill (dry-run) and the report runner (--apply)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockerenv import wait_for
from runbook_lib.reports import runner as report
from runbook_lib.engine.audit import read_audit

REPO = Path(__file__).resolve().parents[1]
XSS = "<script>alert(1)</script>"
IDLE = "trap 'exit 0' TERM; while true; do sleep 1; done"


@pytest.fixture(scope="module")
def broken_stack(docker_client, busybox_image, test_label, tmp_path_factory):
    """db unhealthy (its health output carries a secret and an XSS payload), api exited, web fine."""
    project = f"rbn{uuid.uuid4().hex[:8]}"
    canary = f"cny{uuid.uuid4().hex[:12]}"
    folder = tmp_path_factory.mktemp("stack")
    compose = folder / "docker-compose.yml"
    compose.write_text(
        "services:\n"
        "  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: " + canary + "\n"
        "    healthcheck:\n      test: [CMD-SHELL, 'exit 1']\n      interval: 1s\n      retries: 2\n"
        "  api:\n    image: vextrus/api:1\n    build: .\n    depends_on:\n      db: {condition: service_healthy}\n"
        "  web:\n    image: vextrus/web:1\n    depends_on: [db]\n")
    key, val = test_label.split("=", 1)
    made = []
    for service, script, hc in [
            ("db", IDLE, {"test": ["CMD-SHELL", f"echo 'password={canary} {XSS}'; exit 1"],
                          "interval": 500_000_000, "retries": 1}),
            ("api", "exit 1", None), ("web", IDLE, None)]:
        c = docker_client.containers.run(
            busybox_image, ["sh", "-c", script], detach=True, name=f"{project}-{service}-1", healthcheck=hc,
            labels={key: val, "com.docker.compose.project": project, "com.docker.compose.service": service,
                    "com.docker.compose.project.config_files": str(compose),
                    "com.docker.compose.project.working_dir": str(folder)})
        made.append(c)
    wait_for(lambda: docker_client.api.inspect_container(made[0].id)["State"]["Health"]["Status"] == "unhealthy"
             and docker_client.api.inspect_container(made[1].id)["State"]["Status"] == "exited", timeout_s=60)
    yield project, compose, canary
    for c in made:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001
            pass


def _events(client, since: float, project: str) -> list[str]:
    evs = client.api.events(since=f"{since:.6f}", until=f"{time.time():.6f}", decode=True,
                            filters={"type": "container", "label": f"com.docker.compose.project={project}"})
    return [e.get("Action", "") for e in evs if not str(e.get("Action", "")).startswith("exec_")
            and e.get("Action") != "health_status: unhealthy"]


def test_plain_papermill_dry_run(docker_client, broken_stack, tmp_path):
    project, compose, canary = broken_stack
    out = tmp_path / "out.ipynb"
    t0 = time.time()
    proc = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(REPO / "notebooks" / "recovery_plan.ipynb"),
                           str(out), "-p", "compose_files", f"[{compose}]", "-p", "project", project,
                           "-p", "apply", "false",  # arrives as the string "false": must stay a dry-run
                           "--no-progress-bar"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert canary not in text and "[MASKED]" in text
    nb = json.loads(text)
    summary = [o["data"][report.SUMMARY_MIME] for c in nb["cells"] if c["cell_type"] == "code"
               for o in c.get("outputs", []) if report.SUMMARY_MIME in o.get("data", {})]
    s = {k: v for d in summary for k, v in d.items()}
    assert s["dry_run"] is True and s["root_causes"] == ["db"]
    # web depends on db with service_started: a running (unhealthy) db meets it (issue 11, exact blocked-by)
    assert s["blocked"] == {"api": ["db"]}
    assert [(p["service"], p["action"]) for p in s["plan"]] == [("db", "restart"), ("db", "wait"),
                                                                ("api", "start"), ("api", "wait")]
    assert s["execution"] is None
    assert s["readiness_text"] == "Infrastructure 0/1, Application 1/2"
    assert _events(docker_client, t0, project) == []


def test_report_runner_apply_stops_at_db(docker_client, broken_stack, tmp_path):
    project, compose, canary = broken_stack
    api_started = docker_client.api.inspect_container(f"{project}-api-1")["State"]["StartedAt"]
    audit = tmp_path / "audit.log"
    res = report.run_report("recovery_plan", {"compose_files": [str(compose)], "project": project, "apply": True,
                                              "budget_s": 2, "audit_log": str(audit)}, tmp_path / "outputs",
                            progress=False)
    assert res.status == "ok", res.error
    html, js = res.html.read_text(), res.json.read_text()
    for text in (html, js, res.ipynb.read_text(), audit.read_text()):
        assert canary not in text
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[MASKED]" in html
    summary = json.loads(js)
    assert summary["execution_status"] == "stopped"
    assert [(e["service"], e["action"], e["outcome"]) for e in summary["execution"]] == [
        ("db", "restart", "ok"), ("db", "wait", "timeout"), ("api", "start", "not-run"), ("api", "wait", "not-run")]
    assert docker_client.api.inspect_container(f"{project}-api-1")["State"]["StartedAt"] == api_started
    rec = read_audit(audit)
    assert rec.iloc[-1]["outcome"] == "stopped" and rec.iloc[-1]["params"]["not_run"] == ["api"]
    assert "Execution" in html and "Root causes" in html and res.html.parent.name == time.strftime("%Y-%m-%d", time.gmtime())
