"""`runbook catalog/lint --host ...`: compose files found from each host's container labels, grouped by host.

The real local engine is named twice (a, b); host c is unreachable. A project whose labels name
a file that is not on this machine (as a remote host's would) is reported per project, no traceback.
"""
from __future__ import annotations

import json

import pytest

import dockerenv
from runbook_lib.cli import main
from runbook_lib.engine.inventory import CONFIG_FILES_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL

SOCKET = "unix:///var/run/docker.sock"
HOSTS = ["--host", f"a={SOCKET}", "--host", f"b={SOCKET}", "--host", "c=unix:///nonexistent/docker.sock"]


@pytest.fixture
def projects(containers, tmp_path) -> dict[str, str]:
    (tmp_path / "docker-compose.yml").write_text("services:\n  web:\n    image: busybox:1\n    command: sleep 3600\n")
    here, away = f"rbhcat{dockerenv.SESSION_ID[:6]}", f"rbhfar{dockerenv.SESSION_ID[:6]}"
    for name, workdir in ((here, str(tmp_path)), (away, "/srv/elsewhere/app")):
        containers(["sleep", "3600"], name=f"{name}-web", network_mode="none",
                   labels={PROJECT_LABEL: name, SERVICE_LABEL: "web", CONFIG_FILES_LABEL: "docker-compose.yml",
                           WORKDIR_LABEL: workdir})
    return {"here": here, "away": away}


@pytest.mark.docker
def test_catalog_hosts_groups_by_host(projects, capsys):
    code = main(["catalog", *HOSTS, "--project", projects["here"], "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [h["host"] for h in doc["hosts"]] == ["a", "b", "c"]
    by_host = {p["host"]: p for p in doc["projects"]}
    for host in "ab":
        assert by_host[host]["error"] is None and by_host[host]["project"] == projects["here"]
        assert [(s["host"], s["service"]) for s in by_host[host]["services"]] == [(host, "web")]
    assert "host unreachable" in by_host["c"]["error"]

    main(["catalog", "--host", f"a={SOCKET}", "--project", projects["here"]])
    text = capsys.readouterr().out
    assert f"== host a, project {projects['here']}" in text and "web" in text


@pytest.mark.docker
def test_lint_hosts_unreadable_remote_file_is_reported_per_project(projects, capsys):
    code = main(["lint", *HOSTS[:4], "--project", projects["away"], "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["findings"] == []
    errors = {p["host"]: p["error"] for p in doc["projects"]}
    assert set(errors) == {"a", "b"}
    assert all("not readable on this machine" in e and "/srv/elsewhere/app/docker-compose.yml" in e
               for e in errors.values())

    main(["lint", *HOSTS[:4], "--project", projects["here"], "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert {f["host"] for f in doc["findings"]} == {"a", "b"}
    assert {f["project"] for f in doc["findings"]} == {projects["here"]}

    main(["lint", "--host", f"a={SOCKET}", "--project", projects["away"]])
    captured = capsys.readouterr()
    assert "not read: " in captured.out and "Traceback" not in captured.out + captured.err
