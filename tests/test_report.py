"""The report runner end to end through papermill: outputs, redaction, XSS, failures, degraded runs."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from dockerenv import wait_for
from runbook_lib.engine import inventory
from runbook_lib.reports import archive, params, runner as report
from runbook_lib.exceptions import ParameterError, ReportError
from runbook_lib.redact import MASK

REPO = Path(__file__).resolve().parents[1]
XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


def _outputs(result):
    return {p: p.read_text(encoding="utf-8") for p in (result.ipynb, result.html, result.json)}


@pytest.fixture(scope="module")
def canary_project(docker_client, busybox_image, test_label):
    """A project whose containers carry secret canaries and XSS payloads everywhere."""
    project = f"rep-{uuid.uuid4().hex[:8]}"
    canaries = {k: f"cny{uuid.uuid4().hex[:12]}" for k in "ABCDEFG"}
    key, val = test_label.split("=", 1)
    env = {"POSTGRES_PASSWORD": canaries["A"], "AWS_SECRET_ACCESS_KEY": canaries["B"],
           "GITHUB_TOKEN": canaries["C"], "DATABASE_URL": f"postgres://app:{canaries['D']}@db:5432/app"}
    hc = {"test": ["CMD-SHELL", f"echo 'pw='$POSTGRES_PASSWORD' {XSS[0]} {XSS[1]}'; exit 1"],
          "interval": 500_000_000, "retries": 1}
    c1 = docker_client.containers.run(
        busybox_image, ["sh", "-c", "sleep 600", "x", "--requirepass", canaries["E"], f"--password={canaries['F']}"],
        detach=True, environment=env, healthcheck=hc,
        labels={key: val, "com.docker.compose.project": project, "com.docker.compose.service": XSS[1],
                "db.password": canaries["G"], "evil": XSS[0]})
    c2 = docker_client.containers.run(busybox_image, ["sh", "-c", "exit 2"], detach=True,
                                      labels={key: val, "com.docker.compose.project": project,
                                              "com.docker.compose.service": "worker"})
    wait_for(lambda: docker_client.api.inspect_container(c1.id)["State"]["Health"]["Status"] == "unhealthy"
             and docker_client.api.inspect_container(c2.id)["State"]["Status"] == "exited", timeout_s=60)
    yield project, canaries
    for c in (c1, c2):
        c.remove(force=True)


@pytest.fixture(scope="module")
def health_report(canary_project, tmp_path_factory):
    project, _ = canary_project
    out = tmp_path_factory.mktemp("outputs")
    return report.run_report("health_check", {"project": project}, out, progress=False), out


def test_dated_outputs_and_site(health_report):
    result, out = health_report
    assert result.status == "ok"
    for p in (result.ipynb, result.html, result.json):
        assert p.exists() and p.parent.parent == out and p.parent.name.count("-") == 2
        assert archive.REPORT_FILE_RE.match(p.name)
    assert (out / "index.html").exists() and (out / "latest.html").exists()
    assert not [p for p in out.rglob("*") if "partial" in p.name]


def test_json_summary(health_report, canary_project):
    result, _ = health_report
    doc = json.loads(result.json.read_text())
    assert doc["kind"] == "health_check" and doc["status"] == "ok"
    assert doc["kpis"]["containers"] == 2 and doc["kpis"]["with_healthcheck"] == 1
    assert doc["kpis"]["healthy"] == 0 and doc["kpis"]["exited_nonzero"] == 1
    assert doc["kpis"]["running_pct"] == 50.0 and doc["kpis"]["passing_pct"] == 0.0  # numbers, not masked
    assert len(doc["containers"]) == 2 and doc["parameters"] == {"project": canary_project[0]}


def test_canaries_absent_mask_present(health_report, canary_project):
    result, _ = health_report
    _, canaries = canary_project
    for path, text in _outputs(result).items():
        for name, canary in canaries.items():
            assert canary not in text, f"canary {name} leaked into {path.name}"
        assert MASK in text, f"mask marker missing from {path.name}"


def test_html_has_no_code_and_no_cdn(health_report):
    result, _ = health_report
    html = result.html.read_text()
    assert "gather_inventory" not in html and "import" not in html.split("<body", 1)[1][:2000]
    assert 'src="http' not in html and "cdnjs" not in html and "require.min.js" not in html
    assert html.count("Plotly.newPlot") >= 3  # state, uptime, restarts
    assert len(html.encode()) <= 5_200_000


def test_table_stylesheet_once_per_page(health_report):
    result, _ = health_report
    html, ipynb = result.html.read_text(), result.ipynb.read_text()
    assert html.count(".rb-table{") == 1 and html.count("rb-table") > 3  # many tables, one stylesheet
    assert ipynb.count(".rb-table{") > 1  # each notebook output keeps its own copy (JupyterLab)


def test_export_keeps_one_stylesheet_and_escapes_text():
    import pandas as pd
    from nbformat.v4 import new_output
    from runbook_lib.view import render
    frame = pd.DataFrame({"service": XSS, "state": ["up", "down"]})
    cells = [new_code_cell("x", outputs=[new_output("display_data", data={"text/html": markup})])
             for markup in (render.table_html(frame, state_col="state"), render.banner_html(XSS[0]),
                            render.table_html(frame.head(0)), render.kpis_html({"up": 1}))]
    html = report.export_html(new_notebook(cells=cells))
    assert html.count(".rb-table{") == 1 and html.count('<table class="rb-table">') == 1
    assert html.index(".rb-table{") < html.index('<table class="rb-table">')  # styled before the first table
    for payload in XSS:
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert render.table_html(frame).count(".rb-table{") == 1  # a single output is still styled on its own


def test_xss_payloads_inert(health_report):
    result, _ = health_report
    html = result.html.read_text()
    for payload in XSS:
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_unreachable_engine_gives_degraded_report(tmp_path):
    result = report.run_report("health_check", {"engine_url": f"unix://{tmp_path}/no-docker.sock"}, tmp_path / "o",
                               progress=False)
    assert result.status == "degraded" and result.html.exists()
    doc = json.loads(result.json.read_text())
    assert doc["engine"]["ok"] is False and doc["engine"]["cause"] == "not-running"
    assert any("socket" in r for r in doc["degraded_reasons"])
    assert "Degraded report" in result.html.read_text()


def _failing_notebook(path: Path) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = new_code_cell("x: int = 1")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, new_code_cell("print('before the failure')"), new_code_cell("raise RuntimeError('boom ' + str(x))")]
    nbformat.write(nb, str(path))
    return path


def test_failing_cell_still_writes_html_and_exits_nonzero(tmp_path):
    nb = _failing_notebook(tmp_path / "broken.ipynb")
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "runbook_lib", "report", str(nb), "-p", "x", "7",
                           "--output-dir", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    html_path = Path(proc.stdout.strip().splitlines()[-1])
    assert html_path.exists() and html_path.suffix == ".html"
    html = html_path.read_text()
    assert "boom 7" in html and "before the failure" in html
    doc = json.loads(html_path.with_suffix(".json").read_text())
    assert doc["status"] == "failed" and "RuntimeError" in doc["error"]
    assert not [p for p in out.rglob("*") if "partial" in p.name]


def test_unknown_parameter_rejected_before_running(tmp_path):
    with pytest.raises(ParameterError) as err:
        report.run_report("health_check", {"projekt": "x"}, tmp_path)
    assert "projekt" in str(err.value) and "project" in str(err.value)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name,value", [("include_stopped", [1, 2]), ("engine_timeout_s", "soon"),
                                        ("compose_files", "a.yml")])
def test_wrong_type_rejected(tmp_path, name, value):
    with pytest.raises(ParameterError) as err:
        report.run_report("health_check", {name: value}, tmp_path)
    assert name in str(err.value)


def test_parameter_parsing_and_coercion():
    declared = params.declared_parameters(report.notebook_path("health_check"))
    assert declared["include_stopped"].type_name == "bool" and declared["project"].optional
    given = {k: params.parse_value(v) for k, v in [("project", "2024"), ("include_stopped", "false"),
                                                     ("compose_files", "[a.yml, b.yml]"), ("engine_timeout_s", "3")]}
    assert params.validate_parameters(declared, given) == {
        "project": "2024", "include_stopped": False, "compose_files": ["a.yml", "b.yml"], "engine_timeout_s": 3}


def test_unknown_report_name():
    with pytest.raises(ReportError) as err:
        report.notebook_path("nope")
    assert "health_check" in str(err.value)


def test_plain_papermill_runs_the_notebook_unchanged(tmp_path):
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(REPO / "notebooks" / "health_check.ipynb"),
                           str(out), "-p", "project", "demo", "--no-progress-bar"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.exists()
