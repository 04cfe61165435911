"""Diagnosis end to end on the real engine: the demo's failure kinds, real busybox failures,
root causes over symptoms, `runbook diagnose --json`, engine unreachable."""
from __future__ import annotations

import json

from runbook_lib import cli
import types
import uuid

import pandas as pd
import pytest

import dockerenv
from runbook_lib.demo import stack as demo
from runbook_lib.analysis import diagnosis as diagnose
from runbook_lib.engine import evidence_frame, logs
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.stack import gather
from test_demo import free_port_base


@pytest.fixture(scope="module")
def demo_run(docker_client, test_label, tmp_path_factory):
    """The demo stack under a unique project, diagnosed once; torn down even on failure."""
    key, val = test_label.split("=", 1)
    project = f"demo-{uuid.uuid4().hex[:8]}"
    cfg = tmp_path_factory.mktemp("demo") / "docker-compose.yml"
    try:
        demo.demo_up(docker_client, project=project, port_base=free_port_base(), compose_file=cfg,
                     extra_labels={key: val}, settle_s=40)
        out = diagnose.run_diagnosis(gather(project=project, compose_files=[str(cfg)], engine_timeout_s=30))
        yield {"project": project, "cfg": cfg, **vars(out)}
    finally:
        demo.demo_down(docker_client, project=project)


def finding(df: pd.DataFrame, service: str, category: str) -> dict:
    rows = df[(df["service"] == service) & (df["category"] == category)]
    assert len(rows), f"no {category} finding for {service}:\n{df[['service', 'category']].to_string()}"
    return rows.iloc[0].to_dict()


def test_demo_each_failure_kind_is_diagnosed(demo_run):
    f = demo_run["findings"]
    mm = finding(f, "auth", "missing-module")
    assert "@opentelemetry/api" in mm["cause"] and any("Cannot find module" in e for e in mm["evidence"])
    ts = finding(f, "workflow", "typescript-compile-error")
    assert "TS2339" in ts["cause"] and "src/activities/index.ts" in ts["cause"]
    lh = finding(f, "api-gateway", "localhost-connection-refused")
    assert "auth:3001" in lh["fix"]  # names the service it should call, from the catalog's ports
    oom = finding(f, "notification", "oom")
    assert oom["severity"] == "critical"
    hc = finding(f, "rules-engine", "healthcheck-command-missing")
    assert any("curl: not found" in e for e in hc["evidence"])
    assert {"master-data", "postgres", "redis"}.isdisjoint(set(f["service"]))


def test_root_causes_lead_and_name_what_they_block(demo_run):
    f = demo_run["findings"]
    flags = list(f["root_cause"])
    assert flags == sorted(flags, reverse=True), "root causes first"
    auth = finding(f, "auth", "missing-module")
    assert auth["root_cause"] and "api-gateway" in auth["blocks"]
    gw = finding(f, "api-gateway", "localhost-connection-refused")  # its symptoms fold into it (issue 11)
    assert gw["root_cause"] and {"healthcheck-failing", "connection-refused"} <= set(gw["folded"])
    assert "auth" in gw["blocked_by"] and "rules-engine" not in gw["blocked_by"]  # service_started: running
    assert f["service"].is_unique and (f["root_cause"].sum() == 5)
    summary = diagnose.root_cause_summary(f)
    assert [s["service"] for s in summary][:1] in (["auth"], ["workflow"], ["notification"])


def test_demo_lint_and_masking(demo_run):
    lint = demo_run["lint"]
    cats = set(lint["category"])
    assert {"localhost-reference", "plaintext-secret", "dependency-without-healthcheck"} <= cats
    text = diagnose.format_findings(demo_run["findings"], lint, demo_run["notes"])
    blob = text + json.dumps(diagnose.findings_records(demo_run["findings"]), default=str)
    assert demo.DEMO_PG_PASSWORD not in blob and demo.DEMO_JWT_SECRET not in blob
    assert "ROOT CAUSES" in text and "COMPOSE LINT" in text


def test_cmd_diagnose_json(demo_run, capsys):
    rc = cli.main(["diagnose", "--engine-timeout", "30", "--project", demo_run["project"],
                   "--compose", str(demo_run["cfg"]), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    keys = {"service", "category", "cause", "fix", "evidence", "severity", "blocked_by", "blocks"}
    assert doc["findings"] and all(keys <= set(x) for x in doc["findings"])
    assert {"missing-module", "oom", "typescript-compile-error"} <= {x["category"] for x in doc["findings"]}
    assert demo.DEMO_PG_PASSWORD not in json.dumps(doc)


def test_compose_files_found_from_labels(demo_run):
    out = diagnose.run_diagnosis(gather(project=demo_run["project"], engine_timeout_s=30))
    assert out.compose_files == [str(demo_run["cfg"])]
    assert out.lint is not None and len(out.lint)


# -- real busybox failures, one container each ---------------------------------------------
REAL_FAILURES = {
    "dns-failure": (["sh", "-c", "wget -q -O- http://orders-service:3000/health; exit 1"], {}),
    "port-in-use": (["sh", "-c", "httpd -p 8080 && httpd -f -p 8080; exit 1"], {}),
    "permission-denied": (["sh", "-c", "echo x > /etc/app.conf; exit 1"], {"user": "65534"}),
    "unclassified": (["sh", "-c", "echo 'the flux capacitor is out of sync'; exit 5"], {}),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("category", sorted(REAL_FAILURES))
def test_real_failures_are_classified(docker_client, containers, test_label, category):
    cmd, kw = REAL_FAILURES[category]
    c = containers(cmd, name=f"diag-{category}", **kw)

    def exited():
        c.reload()
        return c.status == "exited"
    dockerenv.wait_for(exited, timeout_s=60)
    inv = gather_inventory(docker_client, label=test_label)
    inv = inv[inv["name"] == c.name]
    f = diagnose.diagnose(evidence_frame.gather_evidence(docker_client, inv))
    assert category in set(f["category"]), f[["category", "cause", "evidence"]].to_string()
    if category == "unclassified":
        row = finding(f, c.name, "unclassified") if c.name in set(f["service"]) else f.iloc[0].to_dict()
        assert any("flux capacitor" in e for e in row["evidence"])


def test_engine_unreachable_is_one_finding_and_lint_still_runs(tmp_path):
    cfg = demo.write_compose(tmp_path / "docker-compose.yml", 27000)
    out = diagnose.run_diagnosis(gather(f"unix://{tmp_path}/no-such.sock", compose_files=[str(cfg)]))
    f = out.findings
    assert list(f["category"]) == ["engine-unreachable"]
    assert "engine" in out.degraded_reasons
    assert out.lint is not None and "localhost-reference" in set(out.lint["category"])


def test_diagnose_pure_blocked_by_from_catalog_frame():
    catalog = pd.DataFrame({"service": ["db", "api", "web"],
                            "depends_on": [[], [{"service": "db", "condition": "service_healthy"}],
                                           [{"service": "api", "condition": "service_started"}]]})
    ev = pd.DataFrame([
        {"service": "web", "name": "web-1", "state": "exited", "exit_code": 1, "health": "none",
         "log_lines": ["Error: connect ECONNREFUSED 10.0.0.7:8080"], "failing": True},
        {"service": "db", "name": "db-1", "state": "exited", "exit_code": 1, "health": "none",
         "log_lines": ['FATAL:  password authentication failed for user "app"'], "failing": True},
    ])
    f = diagnose.diagnose(ev, catalog=catalog)
    assert f.iloc[0]["service"] == "db" and f.iloc[0]["root_cause"]
    assert f.iloc[0]["blocks"] == ["web"] or "web" in f.iloc[0]["blocks"]
    web = f[f["service"] == "web"].iloc[0]
    assert not web["root_cause"] and web["blocked_by"] == ["db"]


def test_diagnose_empty_evidence_is_empty_frame():
    f = diagnose.diagnose(evidence_frame.empty_evidence())
    assert list(f.columns) == diagnose.FINDING_COLUMNS and len(f) == 0
    assert "No findings" in diagnose.format_findings(f)


# -- the recovery report ---------------------------------------------------------------------
def test_recovery_report_build_on_demo(demo_run, tmp_path):
    from runbook_lib.reports import recovery as rr
    r = rr.build(project=demo_run["project"], compose_files=[str(demo_run["cfg"])], output_dir=str(tmp_path))
    assert r.degraded_reasons == []
    assert "auth (missing-module)" in r.headline and "down since" in r.headline
    assert r.kpis["root_causes"] >= 4 and r.kpis["services_up"] >= 3
    assert r.kpis["containers"] == 9 and 0 < r.kpis["running_pct"] < 100 and r.kpis["with_healthcheck"] >= 5
    assert r.plan is not None and set(r.plan["service"]) >= {"auth", "notification"}
    assert {"state change", "error burst"} <= set(r.timeline["kind"])
    assert list(r.readiness["tier"]) == ["infrastructure", "application"]
    s = r.summary()
    assert s["status"] == "ok" and json.dumps(s, default=str)
    assert demo.DEMO_PG_PASSWORD not in json.dumps(s, default=str)


@pytest.mark.timeout(300)
def test_recovery_report_notebook_on_demo(demo_run, tmp_path, monkeypatch):
    from runbook_lib.reports import runner as report
    monkeypatch.setenv("RUNBOOK_OUTPUT_DIR", str(tmp_path))
    first = report.run_report("recovery_report", {"project": demo_run["project"],
                                                  "compose_files": [str(demo_run["cfg"])]},
                              output_dir=tmp_path, progress=False)
    assert first.status == "ok", first.error
    second = report.run_report("recovery_report", {"project": demo_run["project"]}, output_dir=tmp_path,
                               progress=False)
    doc = json.loads(second.json.read_text())
    assert doc["previous_report"] and doc["previous_report"].endswith(first.json.name)
    assert doc["kpis"]["running_pct"] is not None  # the report site's trend reads it
    assert "running_pct" in (tmp_path / "index.html").read_text() or "Plotly" in (tmp_path / "index.html").read_text()
    html = second.html.read_text()
    assert "Cannot find module" in html and "TS2339" in html and "OOMKilled" in html
    for path in (first.html, first.json, first.ipynb, second.html, second.json):
        assert demo.DEMO_PG_PASSWORD not in path.read_text()


def test_recovery_report_engine_down_is_degraded(tmp_path):
    from runbook_lib.reports import recovery as rr
    cfg = demo.write_compose(tmp_path / "docker-compose.yml", 27000)
    r = rr.build(compose_files=[str(cfg)], engine_url=f"unix://{tmp_path}/none.sock", output_dir=str(tmp_path))
    assert r.summary()["status"] == "degraded"
    assert list(r.findings["category"]) == ["engine-unreachable"]
    assert r.lint is not None and len(r.lint)


def test_kpi_changes_and_previous_report_lookup(tmp_path):
    from runbook_lib.reports import recovery as rr
    assert rr.kpi_changes({"a": 3, "b": 1}, {"a": 1, "b": 1}) == {"a": "+2 since previous", "b": "no change"}
    assert rr.kpi_changes({"a": 3}, None) == {"a": "no previous report"}
    day = tmp_path / "2026-11-27"
    day.mkdir()
    for name in ("recovery_report-010000Z.json", "recovery_report-020000Z.json", "health_check-030000Z.json"):
        (day / name).write_text("{}")
    before = pd.Timestamp("2026-11-27T02:30:00Z")
    assert rr.find_previous_report(tmp_path, before=before).name == "recovery_report-020000Z.json"
    assert rr.find_previous_report(tmp_path, before=pd.Timestamp("2026-11-27T01:30:00Z")).name == \
        "recovery_report-010000Z.json"


def test_error_bursts_and_xss_in_timeline():
    from runbook_lib.view import plots
    from runbook_lib.reports import recovery as rr
    ev = pd.DataFrame([{"service": "<script>alert(1)</script>", "events": [
        {"time": "2026-11-27T01:00:05+00:00", "action": "die", "exit_code": 1, "detail": ""}],
        "log_lines": ["ERROR boom", "fine", "Error: x <img src=x onerror=alert(1)>"],
        "log_times": ["2026-11-27T01:00:01Z", "2026-11-27T01:00:02Z", "2026-11-27T01:00:40Z"]}])
    t = rr.timeline_frame(ev, None)
    burst = t[t["kind"] == "error burst"].iloc[0]
    assert burst["count"] == 2
    fig = plots.incident_timeline(t)
    text = fig.to_json()
    assert "<script>" not in text and "<img" not in text
