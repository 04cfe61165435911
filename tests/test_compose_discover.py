"""Compose files found from running containers' labels (working_dir)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from runbook_lib.compose.catalog import find_compose_files
from runbook_lib.exceptions import ComposeError

from compose_helpers import load, row, write


# ------------------------------------------------------ find_compose_files
def _inv(rows: list[dict]) -> pd.DataFrame:
    from runbook_lib.engine.inventory import COLUMNS
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)


def test_find_compose_files_pure(tmp_path):
    a = write(tmp_path, "services: {a: {image: x}}\n", "a.yml")
    write(tmp_path, "services: {a: {restart: always}}\n", "b.yml")
    inv = _inv([{"project": "shop", "service": "a", "config_files": f"{a},b.yml", "working_dir": str(tmp_path)},
                {"project": "shop", "service": "b", "config_files": f"{a},b.yml", "working_dir": str(tmp_path)},
                {"project": None, "service": "loose", "config_files": None}])
    files, project = find_compose_files(inv)
    assert files == [str(a), str(tmp_path / "b.yml")] and project == "shop"
    assert row(load(files), "a")["restart"] == "always"
    two = pd.concat([inv, _inv([{"project": "blog", "service": "w", "config_files": str(a)}])])
    with pytest.raises(ComposeError, match="several compose projects") as err:
        find_compose_files(two)
    assert "--project" in err.value.fix
    assert find_compose_files(two, project="blog") == ([str(a)], "blog")
    with pytest.raises(ComposeError, match="--compose"):
        find_compose_files(_inv([{"project": "x", "config_files": "/nowhere/docker-compose.yml"}]))
    with pytest.raises(ComposeError, match="--compose"):
        find_compose_files(_inv([]))
    with pytest.raises(ComposeError, match="project 'other'"):
        find_compose_files(inv, project="other")


@pytest.mark.docker
def test_find_compose_files_from_real_containers(tmp_path, docker_client, containers):
    from runbook_lib.engine.inventory import gather_inventory
    f = write(tmp_path, """
        services:
          web: {image: busybox, depends_on: [db]}
          db: {image: postgres:16}
    """)
    project = f"rbt-find-{tmp_path.name[-8:].lower().replace('_', '')}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web",
              "com.docker.compose.project.config_files": str(f),
              "com.docker.compose.project.working_dir": str(tmp_path)}
    containers("sleep 60", name=f"find-{tmp_path.name[-6:]}", labels=labels)
    inv = gather_inventory(docker_client, project=project)
    files, found = find_compose_files(inv)
    assert files == [str(f)] and found == project
    cat = load(files, project_name=found)
    assert cat.project == project and cat.graph == {"web": {"db"}, "db": set()}



@pytest.mark.docker
def test_cli_catalog_from_running_containers(tmp_path, docker_client, containers, capsys, monkeypatch):
    from runbook_lib.cli import main
    monkeypatch.chdir(tmp_path)
    f = write(tmp_path, "services:\n  web: {image: busybox, healthcheck: {test: [CMD, 'true']}}\n")
    project = f"rbt-cli-{tmp_path.name[-8:].lower().replace('_', '')}"
    containers("sleep 60", name=f"cli-{tmp_path.name[-6:]}", labels={
        "com.docker.compose.project": project, "com.docker.compose.service": "web",
        "com.docker.compose.project.config_files": "docker-compose.yml",
        "com.docker.compose.project.working_dir": str(tmp_path)})
    rc = main(["catalog", "--project", project, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["summary"]["project"] == project and data["summary"]["files"] == [str(f)]
