"""Each command imports only what it uses (not timed): `runbook --help` imports neither pandas nor
plotly; `catalog`, `lint` and `plan` import no plotly, nbformat or papermill; `catalog --json` and
`lint` of given files import no pandas (records, not frames); the plan's records modules import
neither pandas nor docker; on the local engine `plan`, `diagnose` and `probe` import no docker SDK
and `stack.gather()` no pandas."""
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
    assert "runbook_lib.analysis.plan_records" in mods  # the probe saw the command run
    unwanted = {"croniter", "runbook_lib.maintenance", "runbook_lib.cli.hosts", "runbook_lib.analysis.swarm",
                "runbook_lib.engine.swarm_actions", "runbook_lib.probes.discovery"}
    assert not mods & unwanted, sorted(mods & unwanted)


# -- `runbook diagnose` over records -------------------------------------------------------------
@pytest.mark.parametrize("json_out", [False, True])
def test_diagnose_with_an_engine_imports_no_pandas(json_out):
    """`runbook diagnose` (text and --json) against the answering engine: records from the engine to the output."""
    argv = ["diagnose", "--compose", COMPOSE, "--project", "runbook-lazy-nothing-runs", *(["--json"] if json_out else [])]
    all_mods = _all_modules(*argv)
    assert "runbook_lib.analysis.diagnosis_records" in all_mods  # the probe saw the command run
    mods = {m.split(".")[0] for m in all_mods}
    assert not mods & {"pandas", "numpy", "pyarrow"}, sorted(mods & {"pandas", "numpy", "pyarrow"})
    assert "runbook_lib.analysis.swarm" not in all_mods  # not a Swarm manager: the Swarm layer stays out


RECORDS_DIAGNOSIS = """
import json, sys
from runbook_lib.analysis import diagnosis_core, expected_records, fold_records, blocked_records, lint_records
from runbook_lib.compose.records import load_records
cat = load_records([sys.argv[1]])
status = expected_vs = expected_records.expected_vs_actual_records(list(cat.rows), [])
status = fold_records.crash_loops_records(status, [])
evidence = [{"service": "api", "name": "api-1", "state": "exited", "exit_code": 1, "restart_count": 0,
             "log_lines": ["Error: Cannot find module 'express'", "at Module._resolveFilename"]}]
found = diagnose_core = diagnosis_core.diagnose_records(evidence, cat, status)
found = fold_records.fold_records(found, status, list(cat.rows), columns=diagnosis_core.FINDING_COLUMNS)
status = blocked_records.with_blocked_records(status, list(cat.rows), fold_records.root_services(found))
text = diagnosis_core.format_findings_records(found, lint_records.lint_rows(cat), ["a note"])
json.dumps(diagnosis_core.findings_json(found))
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pandas", "numpy", "pyarrow"})
print(json.dumps({"heavy": heavy, "findings": len(found), "categories": sorted({f["category"] for f in found}),
                  "text": text.splitlines()[0]}))
"""


def test_diagnosis_records_modules_import_no_pandas():
    """The diagnosis's records path (expected vs actual, classify, fold, blocked-by, text, JSON) runs without pandas."""
    proc = subprocess.run([sys.executable, "-c", RECORDS_DIAGNOSIS, COMPOSE], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], out["heavy"]
    assert out["findings"] > 1 and "not-created" in out["categories"] and out["text"].startswith("ROOT CAUSES")


# The plan's records path: the plan, its text form and its dry-run over rows, without pandas.
PLAN_RECORDS_MODULES = ("runbook_lib.analysis.plan_records", "runbook_lib.analysis.remedy",
                        "runbook_lib.engine.plan_run", "runbook_lib.engine.audit_log",
                        "runbook_lib.engine.run_summary")


def _imported_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds after importing ``modules``."""
    code = "import json, sys\n" + "".join(f"import {m}\n" for m in modules) + "print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_plan_records_modules_import_neither_pandas_nor_docker():
    mods = {m.split(".")[0] for m in _imported_by(*PLAN_RECORDS_MODULES)}
    assert not mods & {"pandas", "numpy", "pyarrow", "docker", "requests"}, sorted(mods & {"pandas", "numpy", "docker"})


def test_plan_cli_module_imports_no_pandas():
    mods = {m.split(".")[0] for m in _imported_by("runbook_lib.cli.plan")}
    assert not mods & {"pandas", "numpy", "pyarrow"}, sorted(mods & {"pandas", "numpy", "pyarrow"})


@pytest.mark.parametrize("argv", [("plan", "-f", COMPOSE), ("plan", "--json", "-f", COMPOSE)])
def test_plan_dry_run_imports_no_pandas(argv):
    """`runbook plan` (dry-run, text and --json) plans, prints and audits over records: no pandas."""
    mods = _modules(*argv)
    assert "yaml" in mods  # the probe saw the command run
    assert not mods & {"pandas", "numpy", "pyarrow"}, sorted(mods & {"pandas", "numpy", "pyarrow"})


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


def test_report_prefetch_imports_neither_pandas_nor_docker():
    """The report kernel's prefetch starts the stats read before pandas: it must not pull pandas or the SDK."""
    mods = {m.split(".")[0] for m in _imported_by("runbook_lib.reports.prefetch", "runbook_lib.engine.stats_rows")}
    assert not mods & {"pandas", "numpy", "pyarrow", "docker", "requests"}, sorted(mods & {"pandas", "docker"})
