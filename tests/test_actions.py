"""Guarded execution against the real engine: order, stop at the first failure, audit, refusals."""
from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from recovery_helpers import catalog, dep, hc

import dockerenv
from runbook_lib.engine import actions
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.exceptions import ActionRefused
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.analysis.plan import recovery_plan

REPO = Path(__file__).resolve().parents[1]
NS = 1_000_000_000
# PID 1 sh ignores SIGTERM unless trapped; this keeps stops fast
IDLE = "trap 'exit 0' TERM; while true; do sleep 1; done"


@pytest.fixture
def stack(docker_client, busybox_image, test_label):
    """Factory for containers labelled as one compose project (unique name); removed afterwards."""
    project = f"rbt{uuid.uuid4().hex[:8]}"
    key, val = test_label.split("=", 1)
    made = []

    def make(service: str, script: str, start: bool = False, healthcheck: dict | None = None,
             wait_exit: bool = False, config_files: str | None = None):
        labels = {key: val, "com.docker.compose.project": project, "com.docker.compose.service": service,
                  "com.docker.compose.project.config_files":
                      config_files or f"/nonexistent/{project}/docker-compose.yml"}
        c = docker_client.containers.create(busybox_image, ["sh", "-c", script], labels=labels,
                                            name=f"{project}-{service}-1", healthcheck=healthcheck)
        made.append(c)
        if start:
            c.start()
            if wait_exit:
                c.wait(timeout=30)
        return c

    make.project = project
    yield make
    for c in made:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001
            pass


def _hc(test: str, interval_s: float = 0.5, retries: int = 200) -> dict:
    return {"test": ["CMD-SHELL", test], "interval": int(interval_s * NS), "timeout": 2 * NS,
            "retries": retries, "start_period": 0}


def _chain_catalog():
    return catalog({"db": {"healthcheck": hc(interval_s=0.5, retries=200)},
                    "api": {"depends_on": [dep("db", "service_healthy")]},
                    "web": {"depends_on": [dep("api", "service_started")]}})


def _plan_for(client, project, cat, budget_s=None):
    inv = gather_inventory(client, project=project)
    status = expected_vs_actual(cat, inv, project=project)
    return recovery_plan(cat, status, budget_s=budget_s, project=project), status


def _started_at(client, name):
    return client.api.inspect_container(name)["State"]["StartedAt"]


def test_db_healthy_late_then_api_then_web(docker_client, stack, tmp_path):
    stack("db", f"sleep 3; touch /tmp/ready; {IDLE}", healthcheck=_hc("test -f /tmp/ready"))
    stack("api", IDLE)
    stack("web", IDLE)
    plan, status = _plan_for(docker_client, stack.project, _chain_catalog())
    assert set(status["actual"]) == {"created"}
    assert [(r.service, r.action) for r in plan.itertuples()] == [
        ("db", "start"), ("db", "wait"), ("api", "start"), ("api", "wait"), ("web", "start"), ("web", "wait")]
    audit = AuditLog(tmp_path / "audit.log")
    lines: list[str] = []
    log = actions.apply_plan(docker_client, plan, None, audit, budget_s=60, progress=lines.append,
                             poll_interval_s=0.2)
    assert log.attrs["status"] == "complete", log.to_string()
    assert list(log["outcome"]) == ["ok"] * 6
    assert any("wait for db" in m for m in lines)
    # order on the engine: api started only after db was healthy, web after api
    # db cannot pass its healthcheck before /tmp/ready exists, 3 s after it started
    db = docker_client.api.inspect_container(f"{stack.project}-db-1")
    db_at = pd.Timestamp(db["State"]["StartedAt"])
    api_at = pd.Timestamp(_started_at(docker_client, f"{stack.project}-api-1"))
    web_at = pd.Timestamp(_started_at(docker_client, f"{stack.project}-web-1"))
    assert db["State"]["Health"]["Status"] == "healthy"
    assert db_at + pd.Timedelta(seconds=3) <= api_at <= web_at
    # audit: every step has started then outcome, in the same order
    rec = read_audit(audit.path)
    steps = rec[rec["action"] != "apply-plan"]
    assert list(zip(steps["phase"], steps["action"], steps["params"].map(lambda p: p["service"]))) == [
        (ph, a, s) for s, a in [("db", "start"), ("db", "wait"), ("api", "start"), ("api", "wait"),
                                ("web", "start"), ("web", "wait")] for ph in ("started", "outcome")]
    assert set(steps.loc[steps["phase"] == "outcome", "outcome"]) == {"ok"}
    assert not rec["dry_run"].any() and rec["user"].notna().all() and rec["ts"].notna().all()


def test_db_never_healthy_leaves_dependents_untouched(docker_client, stack, tmp_path):
    stack("db", IDLE, healthcheck=_hc("false"))
    stack("api", "exit 1", start=True, wait_exit=True)
    stack("web", "exit 1", start=True, wait_exit=True)
    before = {s: _started_at(docker_client, f"{stack.project}-{s}-1") for s in ("api", "web")}
    plan, status = _plan_for(docker_client, stack.project, _chain_catalog())
    assert set(status.loc[status["service"] != "db", "blocked_by"].map(tuple)) == {("db",)}
    audit = AuditLog(tmp_path / "audit.log")
    log = actions.apply_plan(docker_client, plan, None, audit, budget_s=3, progress=None, poll_interval_s=0.2)
    assert log.attrs["status"] == "stopped" and log.attrs["stopped_at"] == "db"
    assert log.attrs["not_run"] == ["api", "web"]
    assert list(log["outcome"]) == ["ok", "timeout", "not-run", "not-run", "not-run", "not-run"]
    assert "not healthy after 3 s" in log.iloc[1]["detail"]
    after = {s: _started_at(docker_client, f"{stack.project}-{s}-1") for s in ("api", "web")}
    assert after == before
    for s in ("api", "web"):
        assert docker_client.api.inspect_container(f"{stack.project}-{s}-1")["State"]["Status"] == "exited"
    rec = read_audit(audit.path)
    assert not any(isinstance(p, dict) and p.get("service") in ("api", "web") for p in rec["params"])
    final = rec.iloc[-1]
    assert final["action"] == "apply-plan" and final["outcome"] == "stopped"
    assert final["params"]["not_run"] == ["api", "web"] and "stopped at db" in final["detail"]
    assert list(rec.loc[rec["phase"] == "outcome", "outcome"]) == ["ok", "timeout", "stopped"]


def test_killed_process_leaves_committed_started_record(docker_client, stack, tmp_path):
    stack("db", IDLE, healthcheck=_hc("false"))
    stack("api", IDLE)
    audit_path = tmp_path / "audit.log"
    script = f"""
import sys; sys.path.insert(0, {str(REPO / 'tests')!r})
from recovery_helpers import catalog, dep, hc
from runbook_lib.engine import actions
from runbook_lib.engine.audit import AuditLog
from runbook_lib.engine.connection import connect
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.analysis.plan import recovery_plan
cat = catalog({{"db": {{"healthcheck": hc()}}, "api": {{"depends_on": [dep("db", "service_healthy")]}}}})
client = connect(timeout_s=30)
status = expected_vs_actual(cat, gather_inventory(client, project={stack.project!r}), project={stack.project!r})
plan = recovery_plan(cat, status)
actions.apply_plan(client, plan, None, AuditLog({str(audit_path)!r}), budget_s=600, progress=None)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        def waiting():
            if not audit_path.exists():
                return False
            return any('"action": "wait"' in line and '"phase": "started"' in line
                       for line in audit_path.read_text().splitlines())
        dockerenv.wait_for(waiting, timeout_s=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    raw = audit_path.read_text()
    assert raw.endswith("\n")
    records = [json.loads(line) for line in raw.splitlines()]
    last = records[-1]
    assert last["phase"] == "started" and last["action"] == "wait" and last["target"] == f"{stack.project}-db-1"
    assert not any(r["phase"] == "outcome" and r["id"] == last["id"] for r in records)
    assert [r["action"] for r in records] == ["apply-plan", "start", "start", "wait"]
    assert not any(isinstance(r["params"], dict) and r["params"].get("service") == "api" for r in records)


def _events(client, since: float, until: float, project: str) -> list[str]:
    evs = client.api.events(since=f"{since:.6f}", until=f"{until:.6f}", decode=True,
                            filters={"type": "container", "label": f"com.docker.compose.project={project}"})
    return [e.get("Action", e.get("status", "")) for e in evs]


def test_dry_run_makes_no_mutating_call(docker_client, stack, tmp_path):
    stack("db", IDLE, healthcheck=_hc("true"))
    stack("api", "exit 1", start=True, wait_exit=True)
    cat = catalog({"db": {"healthcheck": hc()}, "api": {"depends_on": [dep("db", "service_healthy")]}})
    plan, _ = _plan_for(docker_client, stack.project, cat)
    assert len(plan) == 4
    before = {s: docker_client.api.inspect_container(f"{stack.project}-{s}-1")["State"] for s in ("db", "api")}
    methods: list[str] = []

    def hook(resp, *a, **kw):
        methods.append(resp.request.method)
    docker_client.api.hooks["response"].append(hook)
    t0 = time.time()
    try:
        log = actions.apply_plan(docker_client, plan, None, AuditLog(tmp_path / "a.log"), dry_run=True,
                                 progress=None)
    finally:
        docker_client.api.hooks["response"].remove(hook)
    assert list(log["outcome"]) == ["dry-run"] * 4
    assert [m for m in methods if m != "GET"] == []
    assert all(r for r in read_audit(tmp_path / "a.log")["dry_run"])
    time.sleep(1.1)
    assert _events(docker_client, t0, time.time(), stack.project) == []
    after = {s: docker_client.api.inspect_container(f"{stack.project}-{s}-1")["State"] for s in ("db", "api")}
    assert after == before


def test_cli_default_is_dry_run(docker_client, stack, tmp_path):
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  db:\n    image: busybox\n  api:\n    image: busybox\n"
                       "    depends_on: [db]\n")
    stack("db", "exit 3", start=True, wait_exit=True)
    stack("api", "exit 1", start=True, wait_exit=True)
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "runbook_lib", "plan", "--compose", str(compose),
                           "--project", stack.project, "--json", "--audit-log", str(tmp_path / "a.log")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dry_run"] is True and out["root_causes"] == ["db"]
    assert [(s["service"], s["action"]) for s in out["plan"]] == [("db", "start"), ("db", "wait"),
                                                                 ("api", "start"), ("api", "wait")]
    time.sleep(1.1)
    assert _events(docker_client, t0, time.time(), stack.project) == []
    rec = read_audit(tmp_path / "a.log")  # the dry-run is audited as one, step by step
    assert len(rec) and rec["dry_run"].all() and set(rec["outcome"].dropna()) <= {"dry-run", "ok", "started"}


def test_cli_finds_compose_files_from_labels_and_applies(docker_client, stack, tmp_path):
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  db:\n    image: busybox\n    healthcheck:\n"
                       "      test: [CMD-SHELL, 'true']\n      interval: 1s\n      retries: 30\n"
                       "  api:\n    image: busybox\n    depends_on:\n      db: {condition: service_healthy}\n"
                       "    environment:\n      API_TOKEN: canaryTok3n99\n")
    stack("db", IDLE, healthcheck=_hc("true"), config_files=str(compose))
    stack("api", IDLE, config_files=str(compose))
    env = {**os.environ, "RUNBOOK_AUDIT_LOG": str(tmp_path / "audit.log")}
    proc = subprocess.run([sys.executable, "-m", "runbook_lib", "plan", "--project", stack.project, "--apply",
                           "--budget", "60"], cwd=REPO, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(compose) in proc.stdout and "wait for db to be healthy" in proc.stdout
    assert "plan complete" in proc.stdout and "canaryTok3n99" not in proc.stdout + proc.stderr
    states = {s: docker_client.api.inspect_container(f"{stack.project}-{s}-1")["State"] for s in ("db", "api")}
    assert states["db"]["Health"]["Status"] == "healthy" and states["api"]["Status"] == "running"
    rec = read_audit(tmp_path / "audit.log")
    assert list(rec.loc[rec["phase"] == "outcome", "outcome"]) == ["ok"] * 4 + ["complete"]
    # now everything is up: the plan is empty
    proc = subprocess.run([sys.executable, "-m", "runbook_lib", "plan", "--project", stack.project],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "Nothing to do" in proc.stdout


def test_destructive_action_is_refused(docker_client, stack, tmp_path):
    stack("db", "exit 1", start=True, wait_exit=True)
    volumes_before = sorted(v["Name"] for v in (docker_client.api.volumes().get("Volumes") or []))
    for bad in ("remove_volume", "prune", "down -v", "remove"):
        plan = pd.DataFrame([
            {"wave": 1, "step": 1, "service": "db", "container": f"{stack.project}-db-1", "action": "start",
             "condition": None, "timeout_s": None, "reason": "", "depends_on": [], "manual": False,
             "command": None},
            {"wave": 1, "step": 2, "service": "db", "container": f"{stack.project}-db-1", "action": bad,
             "condition": None, "timeout_s": None, "reason": "", "depends_on": [], "manual": False,
             "command": None}])
        with pytest.raises(ActionRefused, match="never removes volumes"):
            actions.apply_plan(docker_client, plan, None, AuditLog(tmp_path / "a.log"), progress=None)
        with pytest.raises(ActionRefused):
            actions.guard(bad)
    volumes_after = sorted(v["Name"] for v in (docker_client.api.volumes().get("Volumes") or []))
    assert volumes_after == volumes_before
    # refused before anything ran: the valid 'start' in the same plan was not executed either
    assert docker_client.api.inspect_container(f"{stack.project}-db-1")["State"]["Status"] == "exited"
    rec = read_audit(tmp_path / "a.log")
    assert set(rec["outcome"]) == {"refused"} and set(rec["phase"]) == {"event"}


def test_not_created_service_stops_with_compose_hint(docker_client, stack, tmp_path):
    stack("api", "exit 1", start=True, wait_exit=True)
    before = _started_at(docker_client, f"{stack.project}-api-1")
    cat = catalog({"db": {}, "api": {"depends_on": ["db"]}})
    plan, _ = _plan_for(docker_client, stack.project, cat)
    msgs: list[str] = []
    log = actions.apply_plan(docker_client, plan, None, AuditLog(tmp_path / "a.log"), progress=msgs.append)
    assert log.iloc[0]["outcome"] == "manual" and f"docker compose -p {stack.project} up -d db" in log.iloc[0]["detail"]
    assert log.attrs["stopped_at"] == "db" and _started_at(docker_client, f"{stack.project}-api-1") == before
    assert any("up -d db" in m for m in msgs)


def test_engine_error_stops_the_run_and_is_audited(docker_client, stack, tmp_path):
    db = stack("db", "exit 1", start=True, wait_exit=True)
    api = stack("api", "exit 1", start=True, wait_exit=True)
    before = _started_at(docker_client, api.name)
    plan, _ = _plan_for(docker_client, stack.project, catalog({"db": {}, "api": {"depends_on": ["db"]}}))
    db.remove(force=True)  # gone between planning and applying
    log = actions.apply_plan(docker_client, plan, None, AuditLog(tmp_path / "a.log"), progress=None)
    assert log.iloc[0]["outcome"] == "failed" and "NotFound" in log.iloc[0]["detail"]
    assert log.attrs["stopped_at"] == "db" and _started_at(docker_client, api.name) == before
    rec = read_audit(tmp_path / "a.log")
    assert list(rec["phase"]) == ["started", "started", "outcome", "outcome"]
    assert list(rec["outcome"].dropna()) == ["failed", "stopped"]


def test_audit_masks_secrets_and_is_append_only(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text('{"old": "record"}\n')
    audit = AuditLog(path)
    sid = audit.started("start", "db", {"POSTGRES_PASSWORD": "canaryS3cret", "url": "postgres://u:canaryPw9@h/db"})
    audit.outcome(sid, "start", "db", "failed", "--requirepass canaryRq7 rejected")
    text = path.read_text()
    assert text.startswith('{"old": "record"}\n')
    assert "canaryS3cret" not in text and "canaryPw9" not in text and "canaryRq7" not in text
    assert "[MASKED]" in text
    assert oct(path.stat().st_mode & 0o777) in ("0o600", "0o644")
    recs = read_audit(path)
    assert list(recs["phase"].dropna()) == ["started", "outcome"]
    assert str(recs["ts"].dropna().iloc[0].tz) == "UTC"


def test_empty_plan_needs_no_engine(tmp_path):
    from runbook_lib.analysis.plan import STEP_COLUMNS
    log = actions.apply_plan(None, pd.DataFrame(columns=STEP_COLUMNS), None, AuditLog(tmp_path / "a.log"),
                             progress=None)
    assert len(log) == 0 and log.attrs["status"] == "complete"
    rec = read_audit(tmp_path / "a.log")
    assert list(zip(rec["phase"], rec["outcome"].fillna(""))) == [("started", ""), ("outcome", "complete")]


def test_default_audit_path(monkeypatch, tmp_path):
    from runbook_lib.engine import audit
    monkeypatch.setenv("RUNBOOK_AUDIT_LOG", str(tmp_path / "x.log"))
    assert audit.default_path() == tmp_path / "x.log"
    monkeypatch.delenv("RUNBOOK_AUDIT_LOG")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert audit.default_path() == tmp_path / "runbook" / "audit.log"


# -- no destructive call anywhere ----------------------------------------------------

_BAD_ATTRS = {"remove_volume", "prune", "prune_volumes", "prune_containers", "prune_images", "prune_networks",
              "prune_builds"}
_RUNNERS = {"run", "Popen", "call", "check_call", "check_output", "system", "popen", "exec_run", "exec_create",
            "create_exec", "execv", "execvp", "spawn", "create_subprocess_exec", "create_subprocess_shell",
            "getoutput", "getstatusoutput"}
_BAD_TEXT = re.compile(r"\bdown\b[^\n]*\s(-v|--volumes)\b|\bprune\b|\bvolume\s+(rm|remove)\b")


def _attr_chain(node: ast.AST) -> list[str]:
    out = []
    while isinstance(node, ast.Attribute):
        out.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):
        out.extend(_attr_chain(node.func))
    elif isinstance(node, ast.Name):
        out.append(node.id)
    return out


def destructive_calls(source: str, filename: str = "<src>") -> list[str]:
    """Calls that could remove volumes or prune: attribute names, v=True, `down -v` command text."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        chain = _attr_chain(node.func)
        name = chain[0] if chain else ""
        where = f"{filename}:{node.lineno}"
        if name in _BAD_ATTRS:
            found.append(f"{where} .{name}()")
        if name in ("remove", "delete") and "volumes" in chain[1:]:
            found.append(f"{where} volumes … .{name}()")
        for kw in node.keywords:
            if kw.arg in ("v", "volumes", "remove_volumes") and isinstance(kw.value, ast.Constant) and kw.value.value:
                found.append(f"{where} {kw.arg}={kw.value.value!r}")
        if name not in _RUNNERS:
            continue  # advice text ("… never runs `down -v`") is not a command
        for a in list(node.args) + [kw.value for kw in node.keywords]:
            words = [sub.value for sub in ast.walk(a) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)]
            text = " ".join(words)
            if _BAD_TEXT.search(text):
                found.append(f"{where} command text {text[:40]!r}")
    return found


def test_scanner_catches_destructive_calls():
    bad = ("client.volumes.prune()\nclient.api.remove_volume('x')\nclient.volumes.get('x').remove()\n"
           "api.remove_container(c, v=True)\nsubprocess.run(['docker', 'compose', 'down', '-v'])\n"
           "subprocess.run('docker system prune -a --volumes -f', shell=True)\n")
    assert len(destructive_calls(bad)) == 6
    assert destructive_calls("api.start(c)\napi.restart(c, timeout=10)\nos.remove(path)\n") == []


def test_no_code_path_removes_volumes_or_prunes():
    found = []
    for path in sorted((REPO / "runbook_lib").rglob("*.py")):
        found += destructive_calls(path.read_text(), str(path.relative_to(REPO)))
    assert found == [], "destructive calls found:\n" + "\n".join(found)


def test_actions_module_calls_only_allowed_docker_endpoints():
    """actions.py's API calls are start/restart/unpause/inspect only."""
    tree = ast.parse((REPO / "runbook_lib" / "engine" / "actions.py").read_text())
    calls = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
             and node.func.value.id == "api"}
    calls |= {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Attribute)
              and node.func.value.attr == "api"}
    assert calls <= {"start", "restart", "unpause", "inspect_container"}, calls
    assert os.path.exists(REPO / "runbook_lib" / "engine" / "actions.py")
    # its engine calls (engine/action_calls.py, each within a deadline): only these endpoints
    text = (REPO / "runbook_lib" / "engine" / "action_calls.py").read_text()
    paths = set(re.findall(r'"(GET|POST|DELETE|PUT)", f"(/[^"]*)"', text))
    assert paths == {("POST", "/containers/{container}/start"), ("POST", "/containers/{container}/restart"),
                     ("POST", "/containers/{container}/unpause"), ("GET", "/containers/{container}/json"),
                     ("GET", "/services/{service}"), ("POST", "/services/{info['ID']}/update")}, paths


def test_report_parameters_are_strict():
    from runbook_lib.exceptions import ParameterError
    assert actions.report_parameters("[a.yml, b.yml]", "false", "None") == (["a.yml", "b.yml"], False, None)
    assert actions.report_parameters("a.yml", "true", "120") == (["a.yml"], True, 120.0)
    assert actions.report_parameters([], False, None) == ([], False, None)
    assert actions.report_parameters("[]", "False", 5) == ([], False, 5.0)
    for bad in ("maybe", "fals", "2"):
        with pytest.raises(ParameterError):
            actions.strict_bool(bad)
    with pytest.raises(ParameterError):
        actions.report_parameters("{a: 1}", False, None)
    with pytest.raises(ParameterError):
        actions.report_parameters([], False, "-3")


def test_summary_says_exactly_what_ran_and_what_was_skipped():
    """A wave that restarted api and started cache, then timed out waiting for api: api and cache were
    touched (started, not checked); only web was not touched."""
    from runbook_lib.engine.run_summary import format_summary, run_summary
    rows = [("api", "restart", "ok"), ("cache", "start", "ok"), ("api", "wait", "timeout"),
            ("cache", "wait", "not-run"), ("web", "start", "not-run"), ("web", "wait", "not-run")]
    log = pd.DataFrame([{"service": s, "action": a, "outcome": o} for s, a, o in rows])
    s = run_summary(log, "api")
    assert s["ran"] == ["restart api: ok", "start cache: ok", "wait api: timeout"]
    assert s["skipped"] == ["wait cache", "start web", "wait web"]
    assert s["not_run"] == ["web"] and s["unchecked"] == ["cache"] and s["stop_step"] == "wait api: timeout"
    text = format_summary("stopped", s)
    assert "not touched: web" in text and "not touched: api" not in text and "cache" not in text.split("not touched")[1]
    assert text.startswith("plan stopped at api (wait api: timeout); ran: restart api: ok, start cache: ok")


def test_apply_audits_the_exact_summary(docker_client, stack, tmp_path):
    """Real engine: db and cache (same wave) are started, db never becomes healthy. The screen and the
    audit log list both starts as ran, cache's wait and api as skipped, and only api as not touched."""
    stack("db", IDLE, healthcheck=_hc("false"))
    stack("cache", IDLE)
    stack("api", "exit 1", start=True, wait_exit=True)
    plan = pd.DataFrame([
        {"wave": 0, "step": 0, "service": "db", "container": f"{stack.project}-db-1", "action": "start",
         "condition": None, "timeout_s": None, "reason": "", "manual": False},
        {"wave": 0, "step": 1, "service": "cache", "container": f"{stack.project}-cache-1", "action": "start",
         "condition": None, "timeout_s": None, "reason": "", "manual": False},
        {"wave": 0, "step": 2, "service": "db", "container": f"{stack.project}-db-1", "action": "wait",
         "condition": "healthy", "timeout_s": 2.0, "reason": "", "manual": False},
        {"wave": 0, "step": 3, "service": "cache", "container": f"{stack.project}-cache-1", "action": "wait",
         "condition": "started", "timeout_s": 2.0, "reason": "", "manual": False},
        {"wave": 1, "step": 4, "service": "api", "container": f"{stack.project}-api-1", "action": "start",
         "condition": None, "timeout_s": None, "reason": "", "manual": False}])
    audit = AuditLog(tmp_path / "audit.log")
    lines: list[str] = []
    log = actions.apply_plan(docker_client, plan, None, audit, budget_s=2, progress=lines.append,
                             poll_interval_s=0.2)
    assert log.attrs["status"] == "stopped" and log.attrs["stopped_at"] == "db"
    assert log.attrs["not_run"] == ["api"] and log.attrs["unchecked"] == ["cache"]
    assert log.attrs["ran"] == ["start db: ok", "start cache: ok", "wait db: timeout"]
    assert log.attrs["skipped"] == ["wait cache", "start api"]
    final = read_audit(audit.path).iloc[-1]
    assert final["action"] == "apply-plan" and final["outcome"] == "stopped"
    assert final["params"]["ran"] == log.attrs["ran"] and final["params"]["not_run"] == ["api"]
    assert "not touched: api" in final["detail"] and "start cache: ok" in final["detail"]
    assert lines[-1] == final["detail"]


def test_real_records_are_fsynced_and_dry_run_records_are_not(tmp_path, monkeypatch):
    """Write-ahead: a real step's 'started' record is on disk before the Docker call; a dry-run
    executes nothing, so its records are appended without an fsync each (both are read back)."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    log = AuditLog(tmp_path / "audit.jsonl")
    sid = log.started("start", "db", dry_run=False)
    log.outcome(sid, "start", "db", "ok")
    assert len(synced) == 2
    sid = log.started("start", "api", dry_run=True)
    log.outcome(sid, "start", "api", "dry-run", dry_run=True)
    log.event("restart", "web", "refused", dry_run=True)
    assert len(synced) == 2
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(x)["target"] for x in lines] == ["db", "db", "api", "api", "web"]
