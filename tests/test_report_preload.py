"""The report kernel's preload: the notebook's own imports, run while the kernel starts (not timed)."""
from __future__ import annotations

import json
import sys

from runbook_lib.reports import kernel


def _notebook(tmp_path, *cells: tuple[str, str, list[str]]):
    nb = {"cells": [{"cell_type": kind, "metadata": {"tags": tags}, "source": src} for kind, src, tags in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_preload_runs_the_notebooks_imports_in_a_throwaway_namespace(tmp_path, monkeypatch):
    path = _notebook(tmp_path, ("code", "import colorsys as never_here", ["parameters"]),
                     ("markdown", "import this_is_text", []),
                     ("code", "import json as j\nfrom textwrap import dedent\nx = 1", []),
                     ("code", "%matplotlib inline\nimport wave", []),  # magics: not Python, skipped
                     ("code", "import no_such_module_runbook_test\nimport json as j", []))
    code = kernel.preload_code(path)
    assert code is not None and "\n" not in code  # one line for the kernel's exec_lines
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.delitem(sys.modules, "wave", raising=False)
    namespace: dict = {}
    exec(code, namespace)  # the missing module is left for its cell to report
    assert "textwrap" in sys.modules
    assert "colorsys" not in sys.modules and "wave" not in sys.modules  # parameters cell, magics cell
    assert set(namespace) <= {"__builtins__"}  # no names leak into the notebook's namespace


def test_preload_of_the_health_check_notebook(tmp_path):
    code = kernel.preload_code(kernel.notebook_path("health_check"))
    assert "runbook_lib.reports" in code and "gather_engines" in code
    assert kernel.preload_code(tmp_path / "missing.ipynb") is None
    assert kernel.preload_code(_notebook(tmp_path, ("code", "x = 1", []))) is None
