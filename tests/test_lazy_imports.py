"""Each command imports only what it uses (not timed): `runbook --help` imports neither pandas nor
plotly; `catalog`, `lint` and `plan` import no plotly, nbformat or papermill; `catalog --json` and
`lint` of given files import no pandas (records, not frames); on the local engine `plan`, `diagnose`
and `probe` import no docker SDK and `stack.gather()` no pandas."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COMPOSE = str(Path(__file__).parent / "fixtures" / "ledgerline-erp" / "docker-compose.yml")
# runs the CLI in a fresh interpreter and prints the modules it imported, at exit
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from runbook_lib.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _all_modules(*argv: str) -> set[str]:
    """Every module the command imported (dotted names)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300)
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")]
    assert line, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return set(json.loads(line[-1][len("MODULES "):]))


def _modules(*argv: str) -> set[str]:
    """The top-level packages the command imported."""
    return {m.split(".")[0] for m in _all_modules(*argv)}


def test_help_imports_neither_pandas_nor_plotly():
    mods = _modules("--help")
    assert not mods & {"pandas", "plotly", "numpy", "docker", "nbformat", "papermill"}, mods


@pytest.mark.parametrize("argv", [("catalog", "--json", "-f", COMPOSE), ("lint", "-f", COMPOSE),
                                  ("plan", "-f", COMPOSE)])
def test_compose_commands_import_no_figure_or_notebook_library(argv):
    mods = _modules(*argv)
    assert "yaml" in mods  # the probe saw the command run
    assert not mods & {"plotly", "nbformat", "papermill", "grpc"}, sorted(mods & {"plotly", "nbformat", "papermill", "grpc"})


@pytest.mark.parametrize("argv", [("catalog", "--json", "-f", COMPOSE), ("lint", "-f", COMPOSE)])
def test_compose_file_commands_do_not_import_the_engine_layer(argv):
    """catalog and lint of given compose files read files only: no docker SDK, no HTTP client."""
    mods = _modules(*argv)
    assert "yaml" in mods  # the probe saw the command run
    assert not mods & {"docker", "requests", "httpcore", "httpx"}, sorted(mods & {"docker", "requests", "httpcore", "httpx"})


@pytest.mark.parametrize("argv", [("catalog", "--json", "-f", COMPOSE), ("lint", "-f", COMPOSE),
                                  ("lint", "--json", "-f", COMPOSE)])
def test_compose_file_commands_import_no_pandas(argv):
    """catalog --json and lint of given files work on records: no pandas, numpy or pyarrow."""
    mods = _modules(*argv)
    assert "yaml" in mods  # the probe saw the command run
    assert not mods & {"pandas", "numpy", "pyarrow"}, sorted(mods & {"pandas", "numpy", "pyarrow"})


def test_plan_dry_run_imports_neither_swarm_nor_maintenance_layers():
    """The dry-run of one project needs no Swarm / multi-host layer and no maintenance windows (--apply only)."""
    mods = _all_modules("plan", "-f", COMPOSE)
    assert "runbook_lib.analysis.plan" in mods  # the probe saw the command run
    unwanted = {"croniter", "runbook_lib.maintenance", "runbook_lib.cli.hosts", "runbook_lib.analysis.swarm",
                "runbook_lib.engine.swarm_actions", "runbook_lib.probes.discovery"}
    assert not mods & unwanted, sorted(mods & unwanted)


@pytest.mark.parametrize("argv", [("plan", "-f", COMPOSE), ("diagnose",), ("probe", "-f", COMPOSE)])
def test_engine_commands_import_no_docker_sdk(docker_client, argv):
    """On the local engine (unix socket) the lean client answers: the docker SDK (requests, paramiko)
    is never imported by plan, diagnose or probe."""
    mods = _all_modules(*argv)
    assert "runbook_lib.engine.client" in mods  # the probe saw the command reach the engine
    assert not {m.split(".")[0] for m in mods} & {"docker", "paramiko"}, sorted(
        m for m in mods if m.split(".")[0] in ("docker", "paramiko"))


GATHER = """
import json, sys
from runbook_lib import stack
st = stack.gather()
assert st.engine_ok, st.engine_error
print("MODULES " + json.dumps(sorted(sys.modules)) + " ROWS " + str(len(st.rows)))
"""


def test_gather_imports_neither_pandas_nor_docker(docker_client):
    """stack.gather() on the local engine: rows and catalog records, no pandas, no docker SDK."""
    proc = subprocess.run([sys.executable, "-c", GATHER], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mods = {m.split(".")[0] for m in json.loads(proc.stdout.split("MODULES ", 1)[1].split(" ROWS ")[0])}
    assert "runbook_lib" in mods
    assert not mods & {"pandas", "numpy", "docker"}, sorted(mods & {"pandas", "numpy", "docker"})
