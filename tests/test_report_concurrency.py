"""Reports that run side by side, killed runs that leave nothing behind, and `-p` values refused
before anything runs (issue 14: concurrency and bad input)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from runbook_lib.reports import archive, site

RUNBOOK = [sys.executable, "-m", "runbook_lib"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_OUTPUT_DIR"}
    env["TMPDIR"] = str(tmp)  # the kernels' private folders are created (and must be removed) here
    return env


@pytest.mark.docker
@pytest.mark.slow
def test_four_reports_at_once_from_one_folder_all_land(tmp_path):
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    cmd = RUNBOOK + ["report", "health_check", "-p", "project", "runbook-test-no-such-project",
                     "-p", "run_probes", "false", "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=work, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    htmls = {Path(out.strip().splitlines()[-1]) for out, _ in results}
    assert len(htmls) == 4 and all(h.is_file() for h in htmls)
    listed = site.list_reports(work / "outputs")
    assert len(listed) == 4 and listed["stem"].nunique() == 4 and set(listed["status"]) == {"ok"}
    index = (work / "outputs" / "index.html").read_text()  # as the last run left it: no rebuild
    assert all(h.name in index for h in htmls)
    assert not list(work.glob("kernel-ipc*")) and not list(work.rglob("*.partial.ipynb"))
    assert not list(tmp.glob("runbook-kernel-*"))


def test_names_reserved_atomically_with_a_suffix_on_a_clash(tmp_path):
    now = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)
    taken = [archive.reserve(tmp_path, "health_check", now) for _ in range(3)]
    assert [stem for _, stem, _ in taken] == ["health_check-100000Z", "health_check-100000Z-1", "health_check-100000Z-2"]
    day, stem, partial = taken[0]
    (day / f"{stem}.json").write_text("{}")  # a finished report keeps its name after its run ends
    partial.unlink()
    _, again, _ = archive.reserve(tmp_path, "health_check", now)
    assert again == "health_check-100000Z-3"
    assert all(archive.REPORT_FILE_RE.match(f"{s}.html") for _, s, _ in taken)


def test_clean_removes_stale_partial_and_tmp_files_older_than_a_day(tmp_path):
    day = tmp_path / "2026-11-27"
    day.mkdir()
    old = [day / ".health_check-100000Z.partial.ipynb", day / ".health_check-100000Z.html.abc123.tmp",
           tmp_path / ".index.html.x1y2.tmp"]
    fresh = day / ".health_check-110000Z.partial.ipynb"
    user = day / "notes.tmp"
    for f in (*old, fresh, user):
        f.write_text("x")
    two_days_ago = time.time() - 2 * 86400
    for f in (*old, user):
        os.utime(f, (two_days_ago, two_days_ago))
    proc = subprocess.run(RUNBOOK + ["reports", "clean", "--keep-days", "1000", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not any(f.exists() for f in old)
    assert fresh.exists() and user.exists()  # a run in progress, and a user's file, survive


@pytest.mark.parametrize("args", [["--keep-days", "nan"], ["--keep-days", "inf"], ["--keep-days", "-1"]])
def test_clean_refuses_bad_numbers(tmp_path, args):
    proc = subprocess.run(RUNBOOK + ["reports", "clean", *args, "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--keep-days" in proc.stderr


@pytest.mark.parametrize("name,value", [("window", "garbage"), ("tail_lines", "-5"), ("engine_timeout_s", "-1"),
                                        ("engine_timeout_s", ".nan"), ("window", "99999999d"),
                                        ("tail_lines", "many")])
def test_bad_parameter_values_refused_before_anything_runs(tmp_path, name, value):
    out = tmp_path / "o"
    proc = subprocess.run(RUNBOOK + ["report", "recovery_report", "-p", name, value, "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert name in proc.stderr and not out.exists()


def _sleeping_notebook(path: Path) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = new_code_cell("seconds: int = 600")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, new_code_cell("import time\nprint('started', flush=True)\ntime.sleep(seconds)")]
    nbformat.write(nb, str(path))
    return path


def test_sigterm_removes_kernel_files_and_the_partial_notebook(tmp_path):
    work, tmp, out = tmp_path / "work", tmp_path / "tmp", tmp_path / "out"
    work.mkdir()
    tmp.mkdir()
    nb = _sleeping_notebook(tmp_path / "sleeper.ipynb")
    proc = subprocess.Popen(RUNBOOK + ["report", str(nb), "--output-dir", str(out)], cwd=work, env=_env(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        # The kernel is up once the private folder holds its sockets (it starts before the parent's
        # imports), and the run is going once the name is reserved.
        while not (any(d.is_dir() and list(d.glob("kernel-ipc*")) for d in tmp.glob("runbook-kernel-*"))
                   and list(out.rglob("*.partial.ipynb"))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "kernel never started or the name was never reserved"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not list(tmp.glob("runbook-kernel-*")), list(tmp.rglob("*"))
    assert not list(work.iterdir())
    assert not list(out.rglob("*.partial.ipynb"))


def test_find_previous_uses_the_one_scan(tmp_path):
    day = tmp_path / "2026-11-27"
    day.mkdir()
    for name in ("recovery_report-010000Z.json", "recovery_report-010000Z-1.json", "health_check-030000Z.json"):
        (day / name).write_text(json.dumps({}))
    assert archive.find_previous(tmp_path, "recovery_report").name == "recovery_report-010000Z-1.json"
    assert archive.find_previous(tmp_path, "uptime_report") is None
