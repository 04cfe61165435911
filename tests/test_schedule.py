"""`runbook schedule`: systemd units and cron lines, printed and installed under a tmp HOME."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from runbook_lib import cli
from runbook_lib.reports import schedule
from runbook_lib.exceptions import ParameterError


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return h


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("1h", 3600), ("1d", 86400), ("90s", 90),
                                          ("2 hours", 7200), ("5min", 300)])
def test_parse_every(text, seconds):
    assert schedule.parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30s", "1w", "-1h"])
def test_parse_every_rejects(text):
    with pytest.raises(ParameterError):
        schedule.parse_every(text)


def test_calendar_and_cron_forms():
    assert schedule.on_calendar(3600) == "*-*-* 00/1:00:00"
    assert schedule.on_calendar(900) == "*-*-* *:00/15:00"
    assert schedule.on_calendar(86400) == "*-*-* 00:00:00"
    assert schedule.on_calendar(420) is None and schedule.on_calendar(5 * 3600) is None
    assert schedule.cron_schedule(3600) == "0 * * * *"
    assert schedule.cron_schedule(6 * 3600) == "0 */6 * * *"
    assert schedule.cron_schedule(900) == "*/15 * * * *"
    assert schedule.cron_schedule(86400) == "0 0 * * *"
    with pytest.raises(ParameterError, match="drop --cron"):
        schedule.cron_schedule(420)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_calendar_expressions_are_valid_for_systemd():
    for seconds in (60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 86400):
        expr = schedule.on_calendar(seconds)
        out = subprocess.run(["systemd-analyze", "calendar", expr], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr


def test_job_needs_exactly_one_target():
    with pytest.raises(ParameterError, match="--report NAME"):
        schedule.job_for("1h")
    with pytest.raises(ParameterError):
        schedule.job_for("1h", report="x", collect=True)
    with pytest.raises(ParameterError, match="not a notebook name"):
        schedule.job_for("1h", report="x; rm -rf /")


def test_systemd_units_text(tmp_path):
    job = schedule.job_for("1h", report="recovery_report", workdir=tmp_path / "my repo", executable="/opt/rb/bin/runbook")
    units = schedule.systemd_units(job)
    service = units["runbook-report-recovery-report.service"]
    timer = units["runbook-report-recovery-report.timer"]
    assert "Type=oneshot" in service
    assert f"WorkingDirectory={tmp_path / 'my repo'}" in service
    assert "ExecStart=/opt/rb/bin/runbook report recovery_report --quiet" in service
    assert "TimeoutStartSec=3240" in service
    assert "OnCalendar=*-*-* 00/1:00:00" in timer and "Persistent=true" in timer
    assert "Unit=runbook-report-recovery-report.service" in timer
    odd = schedule.systemd_units(schedule.job_for("7m", collect=True, executable="/x/runbook"))
    assert "OnUnitActiveSec=420s" in odd["runbook-collect.timer"]
    assert "ExecStart=/x/runbook collect --count 1" in odd["runbook-collect.service"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    exe = tmp_path / "bin" / "runbook"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    job = schedule.job_for("15m", report="health_check", workdir=tmp_path, executable=str(exe))
    paths = schedule.install_units(schedule.systemd_units(job), tmp_path / "units")
    out = subprocess.run(["systemd-analyze", "verify", *[str(p) for p, _ in paths]],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_cron_line_has_flock_timeout_and_marker(home):
    job = schedule.job_for("15m", report="recovery_report", workdir="/srv/run book", executable="/v/bin/runbook")
    line = schedule.cron_line(job)
    assert line.startswith("*/15 * * * * ")
    state = home / ".local" / "state" / "runbook"
    assert f"flock -n {state}/runbook-report-recovery-report.lock" in line
    assert "timeout -k 30 810 /v/bin/runbook report recovery_report --quiet" in line
    assert "cd '/srv/run book'" in line
    assert line.endswith("# runbook:runbook-report-recovery-report")


def test_cli_prints_without_writing(home, capsys):
    assert cli.main(["schedule", "--every", "1h", "--report", "recovery_report"]) == 0
    out = capsys.readouterr().out
    assert "[Timer]" in out and "OnCalendar=" in out and "ExecStart=" in out
    assert not any(home.rglob("*"))
    assert cli.main(["schedule", "--every", "1h", "--collect", "--cron"]) == 0
    assert "flock -n" in capsys.readouterr().out
    assert cli.main(["schedule", "--every", "7m", "--collect", "--cron"]) == 2
    assert "drop --cron" in capsys.readouterr().err


def test_install_user_units_idempotent(home, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # a regular user: units go to ~/.config/systemd/user
    assert schedule.default_unit_dir() == home / ".config" / "systemd" / "user"
    assert cli.main(["schedule", "--every", "1h", "--report", "recovery_report", "--install"]) == 0
    out = capsys.readouterr().out
    unit_dir = home / ".config" / "systemd" / "user"
    service = unit_dir / "runbook-report-recovery-report.service"
    timer = unit_dir / "runbook-report-recovery-report.timer"
    assert service.is_file() and timer.is_file()
    assert f"written: {service}" in out and "systemctl --user daemon-reload" in out
    assert "nothing was enabled" in out
    assert not (unit_dir / "timers.target.wants").exists()  # never enabled by us
    assert cli.main(["schedule", "--every", "1h", "--report", "recovery_report", "--install"]) == 0
    assert f"unchanged: {service}" in capsys.readouterr().out
    assert sorted(p.name for p in unit_dir.iterdir()) == [service.name, timer.name]


def test_root_default_unit_dir():
    assert schedule.default_unit_dir(euid=0) == Path("/etc/systemd/system")


def test_install_to_unit_dir_option(home, tmp_path, capsys):
    d = tmp_path / "units"
    assert cli.main(["schedule", "--every", "15m", "--collect", "--install", "--unit-dir", str(d)]) == 0
    assert (d / "runbook-collect.timer").is_file()


CRONTAB_STANDIN = """#!/bin/sh
# A stand-in for crontab(1) keeping the table in $HOME/crontab.txt: -l lists, - reads stdin.
table="$HOME/crontab.txt"
case "$1" in
  -l) if [ -f "$table" ]; then cat "$table"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$table.new" && mv "$table.new" "$table"; echo "$@" >> "$HOME/crontab.calls" ;;
  *) echo "usage" >&2; exit 2 ;;
esac
"""


def test_install_cron_idempotent_keeps_other_lines(home, tmp_path, monkeypatch, capsys):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    standin = bindir / "crontab"
    standin.write_text(CRONTAB_STANDIN)
    standin.chmod(standin.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    assert cli.main(["schedule", "--every", "1h", "--report", "recovery_report", "--cron", "--install"]) == 0
    table = (home / "crontab.txt").read_text()
    assert table.count("# runbook:runbook-report-recovery-report") == 1
    # the user's own line survives, our line is replaced (not duplicated) on a changed interval
    (home / "crontab.txt").write_text("MAILTO=ops@example.com\n5 4 * * * /usr/bin/backup\n" + table)
    assert cli.main(["schedule", "--every", "30m", "--report", "recovery_report", "--cron", "--install"]) == 0
    table = (home / "crontab.txt").read_text().splitlines()
    assert table[:2] == ["MAILTO=ops@example.com", "5 4 * * * /usr/bin/backup"]
    ours = [ln for ln in table if "runbook:" in ln]
    assert len(ours) == 1 and ours[0].startswith("*/30 * * * *")
    calls = (home / "crontab.calls").read_text().count("\n")
    capsys.readouterr()
    assert cli.main(["schedule", "--every", "30m", "--report", "recovery_report", "--cron", "--install"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert (home / "crontab.calls").read_text().count("\n") == calls  # nothing rewritten


def test_install_cron_without_crontab_says_what_to_do(home, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert cli.main(["schedule", "--every", "1h", "--collect", "--cron", "--install"]) == 2
    assert "drop --cron" in capsys.readouterr().err
