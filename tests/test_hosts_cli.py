"""`runbook diagnose/probe --host a=... --host b=...` against real extra engines (tests/swarmenv.py).

Both hosts show with a ``host`` column; a stopped host degrades only itself (exit code unchanged).
"""
from __future__ import annotations

import json

import pytest

import dockerenv
import swarmenv
from runbook_lib.cli import main
from runbook_lib.engine.hosts import connect_host, parse_host
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL


@pytest.fixture(scope="module")
def two_engines(docker_client, busybox_image):
    lab = swarmenv.new_lab("extra engines are")
    try:
        a, b = lab.engine(), lab.engine()
        project = f"rbhc{dockerenv.SESSION_ID[:6]}"
        for eng in (a, b):
            client = connect_host(parse_host(f"x={eng.url}"), 30)
            labels = {PROJECT_LABEL: project, dockerenv.TEST_LABEL_KEY: dockerenv.SESSION_ID}
            client.containers.run(dockerenv.BUSYBOX_IMAGE, ["sleep", "3600"], detach=True, network_mode="none",
                                  labels={**labels, SERVICE_LABEL: "web"}, name=f"{project}-web-1")
            crashed = client.containers.run(dockerenv.BUSYBOX_IMAGE, ["sh", "-c", "echo boom; exit 3"], detach=True,
                                            network_mode="none", labels={**labels, SERVICE_LABEL: "worker"},
                                            name=f"{project}-worker-1")
            crashed.wait(timeout=60)
        yield {"a": a, "b": b, "project": project}
    finally:
        lab.close()


def _run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_diagnose_and_probe_two_hosts_then_one_stopped(two_engines, capsys):
    e = two_engines
    hosts = ["--host", f"a={e['a'].url}", "--host", f"b={e['b'].url}"]
    code, doc = _run_json(capsys, "diagnose", *hosts, "--project", e["project"], "--json")
    assert [h["host"] for h in doc["hosts"]] == ["a", "b"] and all(h["reachable"] for h in doc["hosts"])
    assert doc["degraded_reasons"] == []
    worker = [f for f in doc["findings"] if f.get("service") == "worker"]
    assert sorted(f["host"] for f in worker) == ["a", "b"], doc["findings"]
    first_code = code

    main(["diagnose", *hosts, "--project", e["project"]])
    text = capsys.readouterr().out
    assert "== host a" in text and "== host b" in text

    e["b"].stop()
    code, doc = _run_json(capsys, "diagnose", *hosts, "--project", e["project"], "--json", "--engine-timeout", "3")
    by_host = {h["host"]: h for h in doc["hosts"]}
    assert by_host["a"]["reachable"] and not by_host["b"]["reachable"] and by_host["b"]["error"]
    assert len(doc["degraded_reasons"]) == 1 and doc["degraded_reasons"][0].startswith("host b:")
    assert {f["host"] for f in doc["findings"]} == {"a"}
    assert code == first_code  # the stopped host changes nothing for the other

    code, doc = _run_json(capsys, "probe", *hosts, "--project", e["project"], "--json", "--engine-timeout", "3")
    b_rows = [r for r in doc["rows"] if r["host"] == "b"]
    assert b_rows and all(r["state"] == "unknown" for r in b_rows)
    assert {r["host"] for r in doc["rows"]} == {"a", "b"}


def test_health_check_report_with_two_hosts(two_engines, tmp_path):
    """The notebook's `hosts` parameter: KPIs by host, the stopped host shown unreachable (report degraded)."""
    e = two_engines
    hosts = f"[a={e['a'].url}, b={e['b'].url}]"
    code = main(["report", "health_check", "-p", "hosts", hosts, "-p", "project", e["project"],
                 "-p", "run_probes", "false", "-p", "engine_timeout_s", "3", "--output-dir", str(tmp_path), "--quiet"])
    assert code == 0
    doc = json.loads(next(p for p in tmp_path.rglob("health_check-*.json")).read_text())
    by_host = {r["host"]: r for r in doc["hosts"]["by_host"]}
    assert set(by_host) == {"a", "b"}
    assert by_host["a"]["reachable"] and by_host["a"]["containers"] == 2
    assert not by_host["b"]["reachable"] and doc["status"] == "degraded"  # b was stopped by the test above
    assert [r["host"] for r in doc["hosts"]["by_host_project"]] == ["a"]
