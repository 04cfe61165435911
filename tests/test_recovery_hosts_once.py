"""recovery_report over several hosts diagnoses each host once: the Hosts section reuses build_engines' findings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import dockerenv
from runbook_lib.analysis import diagnosis
from runbook_lib.engine.connection import resolve_engine
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL
from runbook_lib.reports import hosts as hosts_report, recovery
from runbook_lib.reports.engines import gather_engines
from runbook_lib.reports.recovery_hosts import build_engines

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_each_host_is_diagnosed_once(docker_client, containers, monkeypatch, tmp_path):
    project = f"rbonce{dockerenv.SESSION_ID[:6]}"
    c = containers(["sh", "-c", "echo 'the flux capacitor is out of sync'; exit 5"], name="once-worker",
                   labels={PROJECT_LABEL: project, SERVICE_LABEL: "worker"})
    c.wait(timeout=60)
    calls: list[str] = []
    real = diagnosis.run_diagnosis

    def counting(stack, **kw):
        calls.append(str(stack.project))
        return real(stack, **kw)
    monkeypatch.setattr(recovery, "run_diagnosis", counting)
    monkeypatch.setattr(hosts_report, "run_diagnosis", counting)
    url = resolve_engine().url
    hosts = [f"a={url}", f"b={url}"]  # two names for the one test engine
    eng = gather_engines(None, hosts, project=project, engine_timeout_s=30.0, include_stopped=True, all_projects=False)
    r = build_engines(eng, project=project, window="1h", store_path=str(tmp_path / "s.sqlite3"),
                      output_dir=str(tmp_path))
    view = hosts_report.hosts_overview(hosts, project=project, diagnose=True, multi=eng.multi, findings=r.findings)
    assert len(calls) == 2  # one per host, none again for the Hosts section
    assert set(view.findings["host"]) == {"a", "b"} and "unclassified" in set(view.findings["category"])
    assert len(view.findings) == len(r.findings)


def test_recovery_notebook_hands_its_findings_to_the_hosts_section():
    nb = json.loads((REPO / "notebooks" / "recovery_report.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "hosts_overview(" in "".join(c["source"]))
    assert "findings=r.findings" in cell
