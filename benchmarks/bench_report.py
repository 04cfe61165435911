"""Report end to end: `runbook report health_check` vs papermill + `jupyter nbconvert --to html`
of a trivial 2-cell notebook (imports pandas and plotly, draws one figure). One run, side by side.

    .venv/bin/python benchmarks/bench_report.py --repeat 3 [--project demo] [--before OTHER/.venv/bin/runbook]

``--before``: another checkout's runbook, run interleaved too (before/after in the same run).

Also prints the HTML sizes (goal: ours <= 5.2 MB whatever the number of figures).
"""
from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

VENV_BIN = Path(sys.executable).parent


def trivial_notebook(path: Path) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_code_cell("import pandas as pd\nimport plotly.express as px"),
                new_code_cell("px.bar(pd.DataFrame({'x': ['a', 'b'], 'y': [1, 2]}), x='x', y='y').show()")]
    nbformat.write(nb, str(path))


def compile_package() -> None:
    """Byte-compile runbook_lib as an installed package is: with PYTHONDONTWRITEBYTECODE=1 (set in
    this environment) an editable checkout is otherwise compiled from source by every process
    (~0.3-0.7 s of each run), while the reference's packages are compiled at install."""
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "runbook_lib"), quiet=1)


def run(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--project", default=None, help="compose project for the health check (default: all)")
    ap.add_argument("--before", default=None, help="another runbook executable, run interleaved (A/B)")
    args = ap.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        trivial_notebook(d / "trivial.ipynb")
        base_cmds = [[str(VENV_BIN / "papermill"), "trivial.ipynb", "trivial-out.ipynb", "--no-progress-bar"],
                     [str(VENV_BIN / "jupyter"), "nbconvert", "--to", "html", "trivial-out.ipynb"]]
        ours_cmd = [str(VENV_BIN / "runbook"), "report", "health_check", "--output-dir", str(d / "out"), "--quiet"]
        if args.project:
            ours_cmd += ["-p", "project", args.project]
        base, ours, before = [], [], []
        for _ in range(args.repeat):  # interleaved so load affects both alike
            base.append(sum(run(c, d) for c in base_cmds))
            ours.append(run(ours_cmd, d))
            if args.before:
                before.append(run([args.before, *ours_cmd[1:]], d))
        html = sorted((d / "out").rglob("health_check-*.html"))[-1]
        base_html = d / "trivial-out.html"
        b, o = statistics.median(base), statistics.median(ours)
        print(f"{'':28} {'median s':>9} {'runs':>24}")
        print(f"{'papermill + nbconvert':28} {b:>9.2f} {' '.join(f'{x:.2f}' for x in base):>24}")
        print(f"{'runbook report health_check':28} {o:>9.2f} {' '.join(f'{x:.2f}' for x in ours):>24}")
        if before:
            m = statistics.median(before)
            print(f"{'runbook (--before)':28} {m:>9.2f} {' '.join(f'{x:.2f}' for x in before):>24}   "
                  f"ratio {m / b:.2f}x")
        print(f"ratio runbook/baseline: {o / b:.2f}x; load {Path('/proc/loadavg').read_text().split()[:3]}")
        print(f"HTML size: runbook {html.stat().st_size / 1e6:.2f} MB "
              f"({html.read_text().count('Plotly.newPlot')} figures), baseline {base_html.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
