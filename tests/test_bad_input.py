"""Bad input is refused before anything runs: numbers, durations, store locations; damaged and read-only stores.

Every refusal goes through the real command line (``python -m runbook_lib``): exit status 2,
one line on stderr, no traceback.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib.exceptions import StoreCorrupt
from runbook_lib.history import uptime
from runbook_lib.history.store import open_store
from runbook_lib.reports import runner as report, uptime as uptime_report

BAD = [
    "collect --interval 0", "collect --interval nan", "collect --interval inf", "collect --interval -1",
    "collect --interval 1e400", "collect --interval abc", "collect --count 0", "collect --count -3",
    "collect --count 2.5", "export --since 99999999d", "export --since 99999-01-01", "export --until 2026-13-45",
    "export --since ''", "diagnose --engine-timeout -1", "diagnose --engine-timeout nan", "diagnose --engine-timeout 0",
    "probe --engine-timeout inf", "probe --timeout 0", "probe --timeout -5", "plan --budget -1", "plan --budget nan",
    "plan --engine-timeout 99999999", "demo status --port-base 0", "demo status --port-base 70000",
    "reports clean --keep-days nan", "reports clean --keep-days -1", "reports clean --keep-last -2",
    "schedule --collect --timeout 0", "schedule --collect --every 0m", "lint --engine-timeout -1",
    "catalog --engine-timeout 0", "collect --store mysql://u@h/db --count 1", "export --store ftp://h/x",
    "export --store sqlite://relative", "report health_check -p tail_lines -5", "collect --bogus-flag",
    "demo sideways", "schedule --collect --every 99999999999999999999d", "schedule --collect --every nan",
]


def _run(*argv: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "RUNBOOK_STORE": kw.pop("store", os.environ.get("RUNBOOK_STORE", "/nonexistent/x.sqlite3"))}
    return subprocess.run([sys.executable, "-m", "runbook_lib", *argv], capture_output=True, text=True, timeout=120,
                          env=env, **kw)


@pytest.mark.parametrize("line", BAD)
def test_bad_value_is_one_line_exit_2(line, tmp_path):
    import shlex
    proc = _run(*shlex.split(line), cwd=tmp_path)
    err_lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (line, proc.stderr)
    assert "Traceback" not in proc.stderr and len(err_lines) == 1, (line, proc.stderr)
    assert proc.stdout == ""  # nothing ran


def test_unknown_scheme_in_runbook_store_is_refused(tmp_path):
    proc = _run("export", "--output-dir", str(tmp_path), store="mysql://u:s3cretPw99@h/db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "s3cretPw99" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "mysql://" in proc.stderr


def test_postgresql_url_is_a_store_scheme(tmp_path):
    """postgresql:// passes the parser (the PostgreSQL backend serves it); an unknown scheme does not."""
    from runbook_lib.cli.parser import build_parser
    args = build_parser().parse_args(["export", "--store", "postgresql://runbook@127.0.0.1/history"])
    assert args.store.startswith("postgresql://")
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["export", "--store", "mysql://runbook@127.0.0.1/history"])
    assert err.value.code == 2


def _good_store(path: Path) -> Path:
    with open_store(path) as s:
        s.write_states(pd.Timestamp.now(tz="UTC").floor("s"),
                       pd.DataFrame([{"project": "p", "service": "api", "raw": 1, "latency_ms": 2.0, "error": None}]))
    return path


def _damaged(tmp_path: Path) -> dict[str, Path]:
    rand = tmp_path / "random.sqlite3"
    rand.write_bytes(os.urandom(40_000))
    trunc = _good_store(tmp_path / "trunc.sqlite3")
    with open(trunc, "r+b") as f:
        f.truncate(trunc.stat().st_size // 2)
    return {"random": rand, "truncated": trunc}


def test_damaged_store_gives_a_clear_message(tmp_path):
    for kind, path in _damaged(tmp_path).items():
        for readonly in (True, False):
            with pytest.raises(StoreCorrupt, match="damaged or is not a runbook store"):
                open_store(path, readonly=readonly)
        for argv in (["export", "--store", str(path), "--output-dir", str(tmp_path / "out")],
                     ["collect", "--count", "1", "--interval", "5", "--store", str(path),
                      "--engine-url", f"unix://{tmp_path}/none.sock"]):
            proc = _run(*argv)
            assert proc.returncode == 2 and "Traceback" not in proc.stderr, (kind, proc.stderr)
            assert "damaged or is not a runbook store" in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_damaged_store_degrades_the_uptime_sections(tmp_path):
    path = _damaged(tmp_path)["random"]
    table, note = uptime.with_uptime_24h(pd.DataFrame({"service": ["api"]}), str(path))
    assert "damaged" in table.attrs["degraded_reason"] and "unavailable" in note
    up = uptime_report.build("24h", store_path=str(path))
    assert up.degraded_reasons and not up.has_data
    # a missing store is "no data", not degraded
    table, _ = uptime.with_uptime_24h(pd.DataFrame({"service": ["api"]}), str(tmp_path / "missing.sqlite3"))
    assert "degraded_reason" not in table.attrs
    assert not uptime_report.build("24h", store_path=str(tmp_path / "missing.sqlite3")).degraded_reasons


@pytest.mark.parametrize("kind", ["health_check", "recovery_report"])
def test_damaged_store_report_is_degraded_not_failed(kind, tmp_path, docker_client):
    path = _damaged(tmp_path)["truncated"]
    result = report.run_report(kind, {"store_path": str(path), "project": "no-such-project-14b"}, tmp_path / "o",
                               progress=False)
    assert result.status == "degraded", result.error
    doc = json.loads(result.json.read_text())
    assert any("damaged" in r for r in doc["degraded_reasons"])


def _readonly_folder_cmd(folder: Path, argv: list[str]) -> list[str]:
    """Run argv with ``folder`` read-only: a read-only bind mount as root, file modes otherwise."""
    inner = " ".join(map(str, argv))
    return ["unshare", "-m", "sh", "-c",
            f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec {inner}"]


def test_store_in_read_only_folder_can_be_exported(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = _good_store(folder / "history.sqlite3")
    assert not Path(str(store) + "-shm").exists()  # closed cleanly: WAL must build -shm on open
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "runbook_lib", "export", "--format", "csv", "--store", str(store),
            "--output-dir", str(out)]
    if os.geteuid() == 0:
        assert shutil.which("unshare"), "unshare (util-linux) is needed to make a read-only folder as root"
        cmd = _readonly_folder_cmd(folder, argv)
    else:
        folder.chmod(0o555)
        cmd = argv
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    samples = list(out.glob("samples-*.csv"))
    assert samples and "api" in samples[0].read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["history.sqlite3"]  # nothing written beside it
