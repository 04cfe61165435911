"""Install as users install: the wheel carries the notebooks and templates, and a report runs
from another folder with a non-editable install (offline: dependencies come from this venv)."""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
TEMPLATES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "runbook_lib" / "reports" / "templates").rglob("*")
                   if p.is_file())
SKIP_COPY = shutil.ignore_patterns(".venv", ".git", "outputs", "build", "dist", "*.egg-info", "__pycache__",
                                   "test-artifacts", ".data", "node_modules")

pytestmark = pytest.mark.slow


def _build_wheel(dest: Path) -> Path:
    """Build from a copy of the tree (the build leaves nothing in the working tree)."""
    src = dest / "src"
    shutil.copytree(REPO, src, ignore=SKIP_COPY)
    out = dest / "wheels"
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    proc = subprocess.run(base, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:  # no index reachable for the isolated build: use this venv's setuptools
        proc = subprocess.run(base[:4] + ["--no-build-isolation"] + base[4:], capture_output=True, text=True,
                              timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(out.glob("runbook-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_carries_notebooks_and_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert NOTEBOOKS and {f"runbook_lib/notebooks/{n}" for n in NOTEBOOKS} <= names
    assert TEMPLATES and set(TEMPLATES) <= names
    assert "runbook_lib/knowledge/technologies.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "tools/"))]


def test_package_data_names_only_files_that_exist():
    """Every package-data pattern in pyproject.toml matches at least one file."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    mapped = {"runbook_lib.notebooks": REPO / "notebooks"}
    for line in section.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pkg, patterns = line.split("=", 1)
        pkg = pkg.strip().strip('"')
        folder = mapped.get(pkg, REPO.joinpath(*pkg.split(".")))
        for pattern in json.loads(patterns):
            assert list(folder.glob(pattern)), f"package data {pkg}: {pattern} matches no file"


def test_non_editable_install_runs_a_report_from_another_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    py = env_dir / "bin" / "python"
    target = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    # The wheel goes into the new venv (not editable); its dependencies are this venv's (offline).
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (target / "zz_runbook_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    entry = env_dir / "bin" / "runbook"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RUNBOOK_NOTEBOOKS", "RUNBOOK_OUTPUT_DIR")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")  # the dependencies' data (nbconvert's templates)
    where = subprocess.run([str(py), "-c", "import runbook_lib; print(runbook_lib.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(target), where  # the installed copy, not the source tree
    proc = subprocess.run([str(entry), "report", "health_check", "-p", "run_probes", "false", "--quiet"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = Path(proc.stdout.strip().splitlines()[-1])
    assert html.is_file() and html.is_relative_to(work / "outputs")
    doc = json.loads(html.with_suffix(".json").read_text())
    assert doc["kind"] == "health_check" and doc["status"] in ("ok", "degraded")
    assert not list(work.glob("kernel-ipc*")) and not list(work.rglob("*.partial.ipynb"))
