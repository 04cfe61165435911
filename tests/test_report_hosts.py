"""health_check and recovery_report over two real extra engines (tests/swarmenv.py), then one stopped.

Every section covers both hosts: tables carry a ``host`` column, figures name a trace (or a
facet) per host, the same project on two hosts stays apart, and the stopped host is an
``unknown`` row with its reason in each section (the report degraded, never failed).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

import dockerenv
import swarmenv
from runbook_lib.engine.hosts import connect_host, parse_host
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL
from runbook_lib.history import debounce as db, store as st, uptime as up
from runbook_lib.reports import runner as report
from runbook_lib.reports.runner import notebook_path
from test_browser import _drawn_plots, _expected_figures, _open_offline, browser  # noqa: F401 - the fixture

XSS = "<script>alert(1)</script>"
PAGES: dict[str, object] = {}  # report results of the two-host test, opened again in a browser below


@pytest.fixture(scope="module")
def two_hosts(docker_client, busybox_image, tmp_path_factory):
    lab = swarmenv.new_lab("extra engines are")
    try:
        a, b = lab.engine(), lab.engine()
        project = f"rbrh{dockerenv.SESSION_ID[:6]}"
        folder = tmp_path_factory.mktemp("stack")
        compose = folder / "docker-compose.yml"
        compose.write_text(f"services:\n  web:\n    image: {dockerenv.BUSYBOX_IMAGE}\n    command: [sleep, '3600']\n"
                           f"  worker:\n    image: {dockerenv.BUSYBOX_IMAGE}\n    depends_on: [web]\n"
                           f"    command: [sh, -c, 'echo boom; exit 3']\n")
        for eng in (a, b):
            client = connect_host(parse_host(f"x={eng.url}"), 30)
            labels = {PROJECT_LABEL: project, dockerenv.TEST_LABEL_KEY: dockerenv.SESSION_ID,
                      "com.docker.compose.project.config_files": str(compose),
                      "com.docker.compose.project.working_dir": str(folder)}
            client.containers.run(dockerenv.BUSYBOX_IMAGE, ["sh", "-c", "sleep 3600", XSS], detach=True, network_mode="none",
                                  labels={**labels, SERVICE_LABEL: "web"}, name=f"{project}-web-1")
            crashed = client.containers.run(dockerenv.BUSYBOX_IMAGE, ["sh", "-c", "echo boom; exit 3"], detach=True,
                                            network_mode="none", labels={**labels, SERVICE_LABEL: "worker"},
                                            name=f"{project}-worker-1")
            crashed.wait(timeout=60)
        yield {"a": a, "b": b, "project": project, "compose": str(compose)}
    finally:
        lab.close()


def _run(kind: str, e: dict, out, **extra):
    params = {"hosts": [f"a={e['a'].url}", f"b={e['b'].url}"], "project": e["project"],
              "compose_files": [e["compose"]], "engine_timeout_s": 3.0, **extra}
    res = report.run_report(kind, params, out, progress=False)
    PAGES[f"{kind}:{out.name}"] = res
    page = res.html.read_text(encoding="utf-8")
    assert "serialization failed" not in page  # no NaN reached the kernel's messages
    return json.loads(res.json.read_text()), page


def _trace_names(html_text: str) -> set[str]:
    return set(re.findall(r'"name":"([^"]*)"', html_text))


def _cells_with(html_text: str, host: str) -> int:
    return len(re.findall(rf"<td[^>]*>\s*{re.escape(host)}\s*</td>", html_text))


def test_health_check_and_recovery_two_hosts_then_one_stopped(two_hosts, tmp_path):
    e = two_hosts
    doc, page = _run("health_check", e, tmp_path / "up")
    assert doc.get("status") != "degraded", doc.get("degraded_reasons")
    assert {r["host"] for r in doc["containers"]} == {"a", "b"}
    assert [r["host"] for r in doc["kpis_by_host"]] == ["a", "b"] and doc["kpis"]["containers"] == 4
    # the same project on two hosts stays apart
    assert sorted((r["host"], r["project"]) for r in doc["by_project"]) == [("a", e["project"]), ("b", e["project"])]
    assert {r["host"] for r in doc["probe_rows"]} == {"a", "b"}
    assert {r["host"] for r in doc["resources"]} == {"a", "b"}
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaping intact
    assert _cells_with(page, "a") >= 4 and _cells_with(page, "b") >= 4  # containers, probes, resources, KPIs
    assert {"a", "b"} <= _trace_names(page)  # uptime / memory / restarts: one trace per host
    assert "host a" in page and "host b" in page  # state chart facets
    assert "a \\u00b7 web" in page and "b \\u00b7 web" in page  # probe grid: rows per host (JSON-escaped "·")

    rdoc, rpage = _run("recovery_report", e, tmp_path / "rup")
    assert [r["host"] for r in rdoc["kpis_by_host"]] == ["a", "b"]
    assert {(f["host"], f["service"]) for f in rdoc["findings"] if f["root_cause"]} >= {("a", "worker"), ("b", "worker")}
    assert {r["host"] for r in rdoc["root_causes"]} == {"a", "b"}
    assert "[a]" in rdoc["headline"] and "[b]" in rdoc["headline"]
    assert rdoc["plan_steps"] >= 2 and "DOCKER_HOST=unix://" in rpage
    assert XSS not in rpage

    e["b"].stop()
    doc, page = _run("health_check", e, tmp_path / "down")
    assert doc["status"] == "degraded" and any(r.startswith("host b:") for r in doc["degraded_reasons"])
    b_rows = [r for r in doc["containers"] if r["host"] == "b"]
    assert len(b_rows) == 1 and b_rows[0]["state"] == "unknown" and "unreachable" in b_rows[0]["last health output"]
    assert [r["state"] for r in doc["probe_rows"] if r["host"] == "b"] == ["unknown"]
    assert [r["error"] for r in doc["resources"] if r["host"] == "b"][0]
    assert [r["host"] for r in doc["warnings"] if r["kind"] == "engine"] == ["b"]
    assert {r["host"]: r["reachable"] for r in doc["kpis_by_host"]} == {"a": True, "b": False}
    assert {r["host"] for r in doc["containers"] if r["state"] != "unknown"} == {"a"}
    assert _cells_with(page, "b") >= 4 and XSS not in page

    rdoc, rpage = _run("recovery_report", e, tmp_path / "rdown")
    assert rdoc["status"] == "degraded" and any(r.startswith("host b:") for r in rdoc["degraded_reasons"])
    assert {r["host"]: r["reachable"] for r in rdoc["kpis_by_host"]} == {"a": True, "b": False}
    assert any(f["host"] == "b" for f in rdoc["findings"])  # the engine finding says why
    assert any(f["host"] == "a" and f["service"] == "worker" for f in rdoc["findings"])


def test_uptime_report_keeps_hosts_apart(tmp_path):
    """The same service collected on two hosts: two rows (host column first), one lane each, escaped."""
    now = up.utcnow()
    start = now.floor("min") - pd.Timedelta(hours=2)
    path = tmp_path / "h.sqlite3"
    with st.open_store(path, thresholds=db.Thresholds(2, 1)) as s:
        for i in range(120):
            rows = [{"host": h, "project": "demo", "service": "api", "latency_ms": 2.0, "error": None,
                     "raw": db.DOWN if h == "b" and 60 <= i < 90 else db.UP, "started_ts": None, "image": "demo/api:1"}
                    for h in ("a", "b")]
            s.write_states(start + pd.Timedelta(minutes=i), rows, interval_s=60)
    res = report.run_report("uptime_report", {"store_path": str(path), "window": "2h"},
                            output_dir=tmp_path / "out", progress=False)
    assert res.status == "ok", res.error
    doc = json.loads(res.json.read_text())
    rows = {r["service"]: r for r in doc["uptime"]}
    assert set(rows) == {"a · api", "b · api"}
    assert rows["a · api"]["incidents"] == 0 and rows["b · api"]["incidents"] == 1
    page = res.html.read_text()
    assert _cells_with(page, "a") >= 1 and _cells_with(page, "b") >= 2  # uptime and incident tables
    assert "a \\u00b7 api" in page and "b \\u00b7 api" in page  # one figure, a lane per host


@pytest.mark.browser
def test_two_host_reports_draw_in_a_browser(browser):
    """The pages of the two-host test in chromium, offline: every figure draws, nothing executes."""
    if len(PAGES) < 4:
        pytest.skip("the two-host reports were not produced (see the test above)")
    for key, res in PAGES.items():
        expected = _expected_figures(res.ipynb)
        page, watch = _open_offline(browser, res.html)
        try:
            assert _drawn_plots(page, expected) == expected, key
            page.wait_for_timeout(300)
            assert watch.errors == [] and watch.dialogs == [] and watch.blocked == [], (key, watch.errors,
                                                                                       watch.dialogs, watch.blocked)
            if key.startswith("health_check"):
                assert XSS in page.inner_text("body")  # shown as text, inert
                titles = page.evaluate("() => [...document.querySelectorAll('.annotation-text')].map(e => e.textContent)")
                assert "host a" in titles and "host b" in titles, titles  # the state chart's facets
        finally:
            page.close()


def test_plain_papermill_hosts_as_text(docker_client, tmp_path):
    """Plain papermill passes ``-p hosts '[a=…, b=…]'`` as text; a host with nothing of the project and a
    host that does not exist still give a complete (degraded) report, no cell failing."""
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", str(notebook_path("health_check")),
                           str(out), "-p", "hosts", "[a=unix:///var/run/docker.sock, b=unix:///nonexistent.sock]",
                           "-p", "project", f"rbnone{dockerenv.SESSION_ID}", "-p", "engine_timeout_s", "3"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    nb = json.loads(out.read_text())
    html = " ".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "host b unreachable" in html and "No Docker engine" in html
