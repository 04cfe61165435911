"""Docker Swarm on a real, private Swarm: frames, KPIs, diagnosis, recovery (never the shared engine).

The Swarm is made of extra dockerd instances in their own network namespaces
(tests/swarmenv.py); the fixture's finalizer stops them by pid and removes what they left.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

import dockerenv
import swarmenv
from runbook_lib.analysis.swarm import (classify_task_error, compose_replicas, diagnose_swarm, format_swarm,
                                        kpis_by_stack, swarm_kpis, swarm_recovery_plan)
from runbook_lib.cli import main
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.engine.connection import connect
from runbook_lib.engine.swarm import gather_swarm, require_manager
from runbook_lib.engine.swarm_actions import apply_swarm_plan, swarm_guard
from runbook_lib.exceptions import ActionRefused, EngineError

STACK = "rbt"
COMPOSE = f"""
services:
  db:
    image: {dockerenv.BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    networks: [hostnet]
  web:
    image: {dockerenv.BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo 'FATAL:  password authentication failed for user \\"app\\"'; exit 3"]
    depends_on: [db]
    networks: [hostnet]
    deploy:
      restart_policy: {{condition: on-failure, delay: 1s, max_attempts: 2}}
  pinned:
    image: {dockerenv.BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    networks: [hostnet]
    deploy:
      placement:
        constraints: ["node.labels.zone == nowhere"]
  mounty:
    image: {dockerenv.BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    networks: [hostnet]
    volumes:
      - type: bind
        source: /nonexistent/runbook/path
        target: /data
  scaled:
    image: {dockerenv.BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    depends_on: [db]
    networks: [hostnet]
    deploy:
      replicas: 2
networks:
  hostnet:
    external: true
    name: host
"""


@pytest.fixture(scope="module")
def swarm(tmp_path_factory, docker_client, busybox_image):
    """A 2-node Swarm (manager + drained worker) running the stack above with its failures."""
    lab = swarmenv.new_lab("a private Swarm is")
    try:
        mgr = lab.engine()
        mgr.docker("swarm", "init", "--advertise-addr", mgr.address)
        token = mgr.docker("swarm", "join-token", "-q", "worker").stdout.strip()
        worker = lab.engine()
        worker.docker("swarm", "join", "--token", token, f"{mgr.address}:2377")
        for n in mgr.docker("node", "ls", "-q").stdout.split():
            role = mgr.docker("node", "inspect", "-f", "{{.Spec.Role}}", n).stdout.strip()
            if role == "worker":
                mgr.docker("node", "update", "--availability", "drain", n)
        folder = tmp_path_factory.mktemp("stack")
        (folder / "compose.yml").write_text(COMPOSE)
        mgr.docker("stack", "deploy", "-c", str(folder / "compose.yml"), STACK)
        mgr.docker("service", "scale", "-d", f"{STACK}_scaled=0")
        client = connect(mgr.url, timeout_s=30)

        def settled():
            f = gather_swarm(client, STACK)
            web = f.tasks[(f.tasks["service"] == f"{STACK}_web") & (f.tasks["state"] == "failed")]
            db = f.services[f.services["service"] == f"{STACK}_db"]
            mounty = f.tasks[(f.tasks["service"] == f"{STACK}_mounty") & (f.tasks["state"] == "rejected")]
            return f if len(web) and len(mounty) and int(db["running_replicas"].iloc[0]) == 1 else None
        frames = dockerenv.wait_for(settled, timeout_s=90, interval_s=1)
        yield {"lab": lab, "manager": mgr, "worker": worker, "client": client, "frames": frames,
               "compose": folder / "compose.yml"}
    finally:
        lab.close()


def test_frames_nodes_services_tasks(swarm):
    f = swarm["frames"]
    assert f.is_manager and f.error is None
    assert set(f.nodes["role"]) == {"manager", "worker"}
    assert set(f.nodes["availability"]) == {"active", "drain"}
    mgr = f.nodes[f.nodes["role"] == "manager"].iloc[0]
    assert mgr["manager_reachability"] == "reachable" and mgr["leader"] and mgr["engine_version"]
    svcs = f.services.set_index("service")
    assert set(svcs["stack"]) == {STACK}
    assert svcs.loc[f"{STACK}_db", "mode"] == "replicated"
    assert svcs.loc[f"{STACK}_db", "desired_replicas"] == 1 and svcs.loc[f"{STACK}_db", "running_replicas"] == 1
    assert svcs.loc[f"{STACK}_pinned", "running_replicas"] == 0
    assert svcs.loc[f"{STACK}_db", "image"] == dockerenv.BUSYBOX_IMAGE
    web = f.tasks[(f.tasks["service"] == f"{STACK}_web") & (f.tasks["state"] == "failed")].iloc[0]
    assert web["exit_code"] == 3 and "non-zero exit" in web["error"] and web["node"]
    for col in ("created_at", "updated_at"):
        assert str(web[col].tz) == "UTC"
    assert "password authentication failed" in " ".join(f.logs[f"{STACK}_web"])


def test_kpis(swarm):
    k = swarm_kpis(swarm["frames"].services)
    # db converged; scaled (0 wanted) converged; web, pinned, mounty not
    assert (k["services_converged"], k["services_total"]) == (2, 5)
    assert k["replicas_running"] == 1 and k["replicas_desired"] == 4
    assert k["headline"] == "services converged 2/5, replicas running 1/4"
    assert kpis_by_stack(swarm["frames"].services).iloc[0]["stack"] == STACK


def test_diagnosis_names_swarm_failures(swarm):
    f = swarm["frames"]
    d = diagnose_swarm(f.nodes, f.services, f.tasks, f.logs)
    by = {(None if pd.isna(r["service"]) else r["service"], r["category"]) for r in d.to_dict("records")}
    assert (f"{STACK}_pinned", "swarm_no_suitable_node") in by
    assert (f"{STACK}_mounty", "swarm_bad_mount") in by
    assert (f"{STACK}_web", "swarm_task_exiting") in by
    assert (f"{STACK}_web", "db-auth-failure") in by  # the log signature, from the service's logs
    assert (None, "swarm_node_drained") in by
    pinned = d[d["category"] == "swarm_no_suitable_node"].iloc[0]
    assert "constraints" in pinned["cause"] and "placement" in pinned["fix"]
    assert (f"{STACK}_db", "swarm_task_exiting") not in by
    text = format_swarm(d, swarm_kpis(f.services), host="lab")
    assert text.startswith("Swarm on lab: services converged 2/5") and f"{STACK}_pinned: No suitable node" in text


def test_cli_diagnose_and_plan_stack_on_manager(swarm, tmp_path, capsys):
    """`runbook diagnose --host` includes the Swarm diagnosis; `plan --stack` is a dry-run naming the host."""
    host = f"lab={swarm['manager'].url}"
    main(["diagnose", "--host", host, "--json"])
    doc = json.loads(capsys.readouterr().out)
    cats = {f["category"] for f in doc["swarm"]["lab"]["findings"]}
    assert {"swarm_no_suitable_node", "swarm_task_exiting"} <= cats
    assert doc["swarm"]["lab"]["kpis"]["services_total"] == 5
    main(["diagnose", "--engine-url", swarm["manager"].url, "--json"])  # one engine: Swarm's findings too
    assert {"swarm_no_suitable_node"} <= {f["category"] for f in json.loads(capsys.readouterr().out)["swarm"]["findings"]}
    audit = tmp_path / "audit.log"
    code = main(["plan", "--stack", STACK, "--host", host, "--compose", str(swarm["compose"]), "--json",
                 "--audit-log", str(audit)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["dry_run"]
    steps = {s["service"]: s for s in doc["hosts"]["lab"]["plan"]}
    assert steps[f"{STACK}_scaled"]["replicas"] == 2 and {r["outcome"] for r in doc["hosts"]["lab"]["log"]} == {"dry-run"}
    assert all(p.get("engine_host") == "lab" for p in read_audit(audit)["params"])
    spec = swarm["client"].services.get(f"{STACK}_scaled").attrs["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 0  # dry-run changed nothing


def test_recovery_plan_orders_and_scales_back(swarm, tmp_path):
    f = swarm["frames"]
    cat = load_catalog([swarm["compose"]], project_name=STACK)
    plan = swarm_recovery_plan(f.services, STACK, cat.frame, compose_replicas(cat.raw, STACK))
    steps = {r["service"]: r for r in plan.to_dict("records")}
    assert steps[f"{STACK}_scaled"]["action"] == "service-scale" and steps[f"{STACK}_scaled"]["replicas"] == 2
    assert steps[f"{STACK}_web"]["action"] == "service-update-force"
    assert f"{STACK}_db" not in steps
    assert plan.attrs["order"].index(f"{STACK}_db") < plan.attrs["order"].index(f"{STACK}_web")
    audit = tmp_path / "audit.log"
    dry = apply_swarm_plan(swarm["client"], plan, AuditLog(audit), dry_run=True, host="swarm1", progress=None)
    assert set(dry["outcome"]) == {"dry-run"}
    assert int(swarm["client"].services.get(f"{STACK}_scaled").attrs["Spec"]["Mode"]["Replicated"]["Replicas"]) == 0
    one = plan[plan["service"] == f"{STACK}_scaled"]
    log = apply_swarm_plan(swarm["client"], one, AuditLog(audit), dry_run=False, host="swarm1", progress=None)
    assert list(log["outcome"]) == ["ok"]
    spec = swarm["client"].services.get(f"{STACK}_scaled").attrs["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    rec = read_audit(audit)
    assert {"service-scale", "apply-swarm-plan"} <= set(rec["action"])
    assert all(p.get("engine_host") == "swarm1" for p in rec["params"])


def test_stopped_node_reads_down(swarm):
    """Last test of the module: it stops the worker's daemon."""
    swarm["worker"].stop()

    def down():
        f = gather_swarm(swarm["client"], STACK, with_logs=False)
        d = diagnose_swarm(f.nodes, f.services, f.tasks)
        rows = d[d["category"] == "swarm_node_down"].to_dict("records")
        return rows[0] if rows else None
    row = dockerenv.wait_for(down, timeout_s=90, interval_s=2)
    assert row["severity"] == "critical" and row["node"] and "start dockerd" in row["fix"]


def test_destructive_actions_refused(tmp_path):
    for bad in ("service-rm", "stack-rm", "volume-rm", "restart"):
        with pytest.raises(ActionRefused):
            swarm_guard(bad)
    plan = pd.DataFrame([{"wave": 1, "step": 1, "service": "x", "stack": "s", "action": "stack-rm",
                          "replicas": None, "depends_on": [], "reason": "", "command": ""}])
    with pytest.raises(ActionRefused):
        apply_swarm_plan(None, plan, AuditLog(tmp_path / "a.log"), dry_run=False, progress=None)
    assert read_audit(tmp_path / "a.log")["outcome"].tolist() == ["refused"]


def test_shared_engine_is_no_manager(docker_client):
    f = gather_swarm(docker_client)
    assert not f.is_manager and f.services.empty and "not a Swarm manager" in f.notes[0]
    with pytest.raises(EngineError):
        require_manager(docker_client)


def test_task_error_rules():
    assert classify_task_error("no suitable node (insufficient resources on 3 nodes)").category == \
        "swarm_no_suitable_node_resources"
    assert classify_task_error("No such image: app:1").category == "swarm_image_missing"
    assert classify_task_error("host-mode port already in use on 1 node").category == "swarm_port_conflict"
    assert classify_task_error("task: non-zero exit (1)").category == "swarm_task_exiting"
    assert classify_task_error("") is None
