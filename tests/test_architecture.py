"""The shape of the code: layer contract, imports at the top, module size, a light --help."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "runbook_lib"
MAX_LINES = 500
HEAVY = ("pandas", "docker", "plotly", "nbformat", "papermill", "nbconvert")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_contract_holds():
    """docs/DESIGN.md's layer rules, as import-linter contracts in pyproject.toml."""
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), "import-linter missing: pip install -r requirements.txt"
    done = subprocess.run([str(exe), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_contract_catches_an_upward_import(tmp_path):
    """The checker is live: an analysis module importing reports breaks the contract."""
    exe = Path(sys.executable).with_name("lint-imports")
    bad = PACKAGE / "analysis" / "_contract_probe_tmp.py"
    bad.write_text("import runbook_lib.reports.archive  # noqa\n")
    try:
        done = subprocess.run([str(exe), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        bad.unlink()
    assert done.returncode != 0
    assert "_contract_probe_tmp" in done.stdout


def _inner_imports(tree: ast.AST) -> list[int]:
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    lines.append(inner.lineno)
    return sorted(set(lines))


# The documented lazy imports (docs/DESIGN.md): the docker-py gateway imports the docker SDK only when
# docker-py is used, and the gathered Stack builds its two DataFrames (inventory, catalog frame) on
# first read, so that gathering imports neither docker-py nor pandas. Each deferred import needs a comment.
LAZY_IMPORT_MODULES = {"runbook_lib/engine/dockerpy.py", "runbook_lib/stack.py"}


def test_imports_sit_at_the_top():
    """Only cli/ defers imports (to keep --help fast) and LAZY_IMPORT_MODULES, each with a comment saying so."""
    offenders = []
    for path in _modules():
        rel = path.relative_to(REPO)
        text = path.read_text()
        lines = _inner_imports(ast.parse(text))
        if not lines:
            continue
        if rel.parts[1] == "cli" or rel.as_posix() in LAZY_IMPORT_MODULES:
            src = text.splitlines()
            for n in lines:
                near = " ".join(src[max(0, n - 3):n])
                if "#" not in near:
                    offenders.append(f"{rel}:{n} (deferred import without a comment)")
            continue
        offenders += [f"{rel}:{n}" for n in lines]
    assert not offenders, "imports inside functions:\n" + "\n".join(offenders)


def test_no_import_error_guards():
    """Modules that always ship are imported plainly, never behind try/except ImportError."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                    for h in node.handlers):
                body = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
                if any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("runbook_lib")
                       or isinstance(n, ast.ImportFrom) and n.level for n in body):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


def test_no_module_over_500_lines():
    big = [f"{p.relative_to(REPO)}: {n}" for p in _modules()
           if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not big, "modules over 500 lines (move tables to data files, split by concern):\n" + "\n".join(big)


def _imported_after(argv: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys\n"
        "from runbook_lib.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.flush()\n"
        "print('\\n@@' + ' '.join(sorted(sys.modules)))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)
    tail = done.stdout.rsplit("@@", 1)
    assert len(tail) == 2, done.stdout[-2000:] + done.stderr[-2000:]
    return {m.split(".")[0] for m in tail[1].split()}


def test_help_imports_nothing_heavy(tmp_path):
    loaded = _imported_after(["--help"], tmp_path)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("argv", [["catalog", "--json"], ["lint"], ["plan", "--json"]])
def test_compose_commands_import_no_notebook_stack(argv, tmp_path):
    """catalog, lint and plan make no figure and no notebook: no plotly, nbformat, papermill."""
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: postgres:16\n  api:\n    image: node:20\n"
        "    depends_on: [db]\n")
    loaded = _imported_after([*argv, "--compose", str(tmp_path / "docker-compose.yml")], tmp_path)
    assert not loaded & {"plotly", "nbformat", "papermill", "nbconvert"}, sorted(loaded)


def test_design_map_names_every_module():
    """docs/DESIGN.md's map matches the tree: every package and module is named there."""
    design = (REPO / "docs" / "DESIGN.md").read_text()
    missing = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        if rel.parts[:2] == ("probes", "kinds"):  # one module per probe kind: the map names the folder
            if "`kinds/`" not in design:
                missing.append("probes/kinds/")
            continue
        if path.name in ("__init__.py", "__main__.py"):
            if len(rel.parts) > 1 and f"`{rel.parent.as_posix()}/`" not in design:
                missing.append(f"{rel.parent.as_posix()}/")
            continue
        if f"`{path.stem}`" not in design and f"`{rel.as_posix()}`" not in design \
                and f"`{path.stem}.py`" not in design:
            missing.append(rel.as_posix())
    assert not missing, "docs/DESIGN.md does not name:\n" + "\n".join(missing)
