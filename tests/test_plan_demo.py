"""Issue 11 on the real demo stack: the plan follows the diagnosis (fix first, then recreate or
rebuild), one root cause per service, the crash-looping workflow counted down, `--apply` stops
at the first manual step and `--apply --resume` recreates and checks that the fix took."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_diagnose import demo_run  # noqa: F401 - the module-scoped demo fixture

from runbook_lib.analysis.plan import plan_stack
from runbook_lib.engine.actions import compose_binary
from runbook_lib.engine.audit import read_audit
from runbook_lib.reports.recovery import down_services
from runbook_lib.stack import gather

REPO = Path(__file__).resolve().parents[1]
NOT_RESTART = {"auth": "rebuild", "workflow": "rebuild", "api-gateway": "recreate", "notification": "recreate",
               "rules-engine": "recreate"}


@pytest.fixture(scope="module")
def demo_plan(demo_run):
    """The demo (test_diagnose's module fixture: its own project, torn down after), planned once."""
    planned = plan_stack(gather(project=demo_run["project"], compose_files=[str(demo_run["cfg"])],
                                engine_timeout_s=30))
    return {"project": demo_run["project"], "cfg": demo_run["cfg"], "planned": planned}


def test_every_service_a_restart_cannot_fix_gets_a_fix_step_first(demo_plan):
    plan = demo_plan["planned"].plan
    for svc, remedy in NOT_RESTART.items():
        steps = plan[plan["service"] == svc]
        actions = list(steps["action"])
        assert actions[0] == "fix", (svc, actions)
        assert set(steps["remedy"]) == {remedy}, (svc, set(steps["remedy"]))
        assert "recreate" in actions and not {"start", "restart"} & set(actions), (svc, actions)
        assert steps.iloc[0]["manual"] and steps.iloc[0]["finding"].startswith(f"{svc}:")
    gw = plan[(plan["service"] == "api-gateway") & (plan["action"] == "recreate")].iloc[0]
    assert gw["command"].endswith(f"-f {demo_plan['cfg']} up -d --no-deps api-gateway")
    assert f"-p {demo_plan['project']}" in gw["command"]


def test_plan_root_causes_are_the_diagnosis_root_causes_one_each(demo_plan):
    planned = demo_plan["planned"]
    roots = planned.diagnosis.root_causes
    assert roots["service"].is_unique, roots[["service", "category"]]
    assert planned.root_causes == sorted(roots["service"]) == sorted(NOT_RESTART)
    f = planned.diagnosis.findings
    assert f["service"].is_unique  # symptoms folded into their cause
    wf = f[f["service"] == "workflow"].iloc[0]
    assert wf["category"] == "typescript-compile-error" and wf["root_cause"]  # a crash loop, if seen, folds in


def test_headline_down_count_includes_the_crash_looping_workflow(demo_plan):
    planned = demo_plan["planned"]
    down = down_services(planned.status, planned.diagnosis.inventory)
    assert "workflow" in down
    assert set(NOT_RESTART) <= set(down)
    gw = planned.status.set_index("service").loc["api-gateway"]
    assert "auth" in gw["blocked_by"] and "rules-engine" not in gw["blocked_by"]  # service_started, running


def _plan_cli(project: str, audit: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runbook_lib", "plan", "--project", project, "--audit-log",
                           str(audit), "--json", "--apply", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_apply_stops_at_the_first_manual_step_and_resume_checks_the_fix(demo_plan, tmp_path):
    project, cfg = demo_plan["project"], demo_plan["cfg"]
    audit = tmp_path / "audit.log"
    proc = _plan_cli(project, audit)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    first = out["stopped_at"]
    assert first in NOT_RESTART and "runbook plan --apply --resume" in proc.stderr
    assert [a["outcome"] for a in out["applied"] if a["service"] == first][0] == "manual"
    assert first == "rules-engine"  # wave 1, first in dependency order among the services needing a person
    # the person fixes the healthcheck in the compose file, then resumes
    text = cfg.read_text()
    cfg.write_text(text.replace("curl -fsS http://localhost:3012/health", "wget -q -O /dev/null "
                                                                          "http://127.0.0.1:3012/health"))
    proc = _plan_cli(project, audit, "--resume")
    out = json.loads(proc.stdout)
    assert out["confirmed"] == ["rules-engine"]
    steps = {(a["service"], a["action"]): a for a in out["applied"]}
    if compose_binary() is None:  # no compose on this machine: the recreate is a manual step, not a skip
        assert steps[("rules-engine", "recreate")]["outcome"] == "manual"
        return
    assert steps[("rules-engine", "recreate")]["outcome"] == "ok", steps[("rules-engine", "recreate")]
    wait = steps[("rules-engine", "wait")]
    assert wait["outcome"] == "ok" and "the fix took" in wait["detail"]
    assert out["stopped_at"] in NOT_RESTART and out["stopped_at"] != "rules-engine"
    rec = read_audit(audit)
    assert "recreate" in set(rec["action"]) and not rec["params"].map(
        lambda p: any(w in (p or {}).get("argv", []) for w in ("down", "rm", "-v", "--volumes"))).any()


def test_plan_profile_enables_profiled_services(docker_client, tmp_path):
    """`runbook plan --profile` as catalog and lint have it: a profiled service is planned only when enabled."""
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  db:\n    image: busybox\n  worker:\n    image: busybox\n"
                       "    profiles: [jobs]\n    depends_on: [db]\n")
    project = f"rbtprof{Path(tmp_path).name[-6:].lower()}"

    def services(*extra: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-m", "runbook_lib", "plan", "-f", str(compose), "--project",
                               project, "--json", "--audit-log", str(tmp_path / "a.log"), *extra],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        plan = json.loads(proc.stdout)["plan"]
        assert {s["action"] for s in plan} <= {"recreate", "wait"}  # never created: compose creates them
        return {s["service"] for s in plan}

    assert services() == {"db"}
    assert services("--profile", "jobs") == {"db", "worker"}
