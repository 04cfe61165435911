"""Scheduling text: a systemd service + timer pair, or a cron line with flock and timeout.

``runbook schedule --every 1h --report recovery_report`` prints the units;
``--install`` writes them (user units under ~/.config/systemd/user, or
/etc/systemd/system as root) or adds the cron line to the crontab, idempotently,
and prints what it wrote. Nothing is enabled or started: the printed
``systemctl`` commands are for the operator to run.

The text is built by pure functions (``job_for``, ``systemd_units``, ``cron_line``);
only ``install_*`` touch files or the crontab.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.exceptions import ParameterError, RunbookError
from runbook_lib.reports.archive import atomic_write_text

_EVERY_RE = re.compile(r"^\s*(\d+)\s*(s|sec|second|m|min|minute|h|hr|hour|d|day)s?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
           "hour": 3600, "d": 86400, "day": 86400}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
CRON_MARKER = "# runbook:"
MIN_INTERVAL_S = 60
MAX_TIMEOUT_S = 6 * 3600


def parse_every(text: str) -> int:
    """``15m`` / ``1h`` / ``1d`` / ``90s`` → seconds (at least 60)."""
    m = _EVERY_RE.match(str(text))
    if not m:
        raise ParameterError(f"--every {text!r} is not an interval: use e.g. 15m, 1h or 1d")
    seconds = int(m[1]) * _UNIT_S[m[2].lower()]
    if seconds < MIN_INTERVAL_S:
        raise ParameterError(f"--every {text!r} is shorter than a minute: use 1m or more "
                             "(for faster sampling run `runbook collect --interval S` as a service)")
    return seconds


def on_calendar(interval_s: int) -> str | None:
    """A systemd OnCalendar expression firing every interval on the clock, or None."""
    if interval_s % 86400 == 0:
        return "*-*-* 00:00:00" if interval_s == 86400 else None
    if interval_s % 3600 == 0:
        n = interval_s // 3600
        return f"*-*-* 00/{n}:00:00" if 24 % n == 0 else None
    if interval_s % 60 == 0:
        n = interval_s // 60
        return f"*-*-* *:00/{n}:00" if 60 % n == 0 else None
    return None


def cron_schedule(interval_s: int) -> str:
    """The five cron fields for an interval cron can express evenly."""
    if interval_s == 86400:
        return "0 0 * * *"
    if interval_s % 3600 == 0 and 24 % (interval_s // 3600) == 0:
        n = interval_s // 3600
        return "0 * * * *" if n == 1 else f"0 */{n} * * *"
    if interval_s % 60 == 0 and 60 % (interval_s // 60) == 0:
        n = interval_s // 60
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    raise ParameterError(f"cron cannot run every {interval_s}s evenly: use minutes dividing 60 (5m, 15m), "
                         "hours dividing 24 (1h, 6h) or 1d, or drop --cron for a systemd timer")


def default_timeout_s(interval_s: int) -> int:
    """A run may take at most 90 % of the interval (so runs never pile up), capped at 6 h."""
    return max(30, min(int(interval_s * 0.9), MAX_TIMEOUT_S))


def runbook_executable() -> str:
    """The venv's ``runbook`` script beside this interpreter, else ``python -m runbook_lib``."""
    candidate = Path(sys.executable).parent / "runbook"
    if candidate.exists():
        return str(candidate.absolute())
    found = shutil.which("runbook")
    if found:
        return str(Path(found).absolute())
    return f"{Path(sys.executable).absolute()} -m runbook_lib"


@dataclass(frozen=True)
class Job:
    """What a scheduled run does: a name for units/locks, the argv, the working folder."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    interval_s: int
    timeout_s: int
    description: str


def job_for(every: str, report: str | None = None, collect: bool = False, workdir: str | Path | None = None,
            timeout_s: int | None = None, executable: str | None = None) -> Job:
    """The job for ``--report NAME`` or ``--collect`` (one sampling round per tick)."""
    if bool(report) == bool(collect):
        raise ParameterError("schedule one thing: pass --report NAME (e.g. recovery_report) or --collect")
    interval_s = parse_every(every)
    exe = shlex.split(executable or runbook_executable())
    if report:
        if not _NAME_RE.match(report):
            raise ParameterError(f"--report {report!r} is not a notebook name: use e.g. recovery_report")
        name = f"runbook-report-{report.replace('_', '-')}"
        argv = (*exe, "report", report, "--quiet")
        desc = f"runbook report {report}"
    else:
        name = "runbook-collect"
        argv = (*exe, "collect", "--count", "1")
        desc = "runbook collector (one sampling round)"
    timeout = int(timeout_s) if timeout_s else default_timeout_s(interval_s)
    if timeout <= 0:
        raise ParameterError("--timeout must be a positive number of seconds")
    return Job(name, tuple(argv), Path(workdir or Path.cwd()).absolute(), interval_s, timeout, desc)


def _systemd_quote(arg: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./\-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(job: Job) -> dict[str, str]:
    """``{"<name>.service": text, "<name>.timer": text}`` (pure)."""
    exec_start = " ".join(_systemd_quote(a) for a in job.argv)
    service = f"""[Unit]
Description={job.description}
Documentation=file://{job.workdir}/docs/scheduling.md
After=network-online.target docker.service

[Service]
Type=oneshot
WorkingDirectory={job.workdir}
ExecStart={exec_start}
TimeoutStartSec={job.timeout_s}
Environment=PYTHONUNBUFFERED=1
Nice=10
"""
    cal = on_calendar(job.interval_s)
    if cal:
        when = f"OnCalendar={cal}\nPersistent=true\n"
    else:
        when = f"OnBootSec=2min\nOnUnitActiveSec={job.interval_s}s\n"
    timer = f"""[Unit]
Description={job.description} every {job.interval_s}s

[Timer]
{when}AccuracySec=30s
Unit={job.name}.service

[Install]
WantedBy=timers.target
"""
    return {f"{job.name}.service": service, f"{job.name}.timer": timer}


def state_dir() -> Path:
    """Where cron runs keep their lock and log: $XDG_STATE_HOME/runbook or ~/.local/state/runbook."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "runbook"


def cron_line(job: Job, state: Path | None = None) -> str:
    """One crontab line: ``flock -n`` (no overlap), ``timeout`` (bounded), log appended; marked."""
    state = state or state_dir()
    lock, log = state / f"{job.name}.lock", state / f"{job.name}.log"
    q = shlex.quote
    cmd = (f"mkdir -p {q(str(state))} && cd {q(str(job.workdir))} && "
           f"flock -n {q(str(lock))} timeout -k 30 {job.timeout_s} "
           + " ".join(q(a) for a in job.argv) + f" >> {q(str(log))} 2>&1")
    cmd = cmd.replace("%", "\\%")  # cron turns a bare % into a newline
    return f"{cron_schedule(job.interval_s)} {cmd} {CRON_MARKER}{job.name}"


# -- install --------------------------------------------------------------------------

def default_unit_dir(euid: int | None = None, home: Path | None = None) -> Path:
    """/etc/systemd/system as root, else ~/.config/systemd/user."""
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return Path("/etc/systemd/system")
    base = os.environ.get("XDG_CONFIG_HOME") or str((home or Path.home()) / ".config")
    return Path(base) / "systemd" / "user"


def install_units(units: dict[str, str], unit_dir: Path) -> list[tuple[Path, str]]:
    """Write each unit (atomic); return (path, "written" | "unchanged")."""
    done = []
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        path = unit_dir / name
        if path.is_file() and path.read_text() == text:
            done.append((path, "unchanged"))
            continue
        atomic_write_text(path, text)
        done.append((path, "written"))
    return done


def merge_crontab(current: str, line: str, job_name: str) -> str:
    """The crontab with this job's line replaced (or added); every other line kept (pure)."""
    marker = f"{CRON_MARKER}{job_name}"
    kept = [ln for ln in current.splitlines() if not ln.rstrip().endswith(marker)]
    return "\n".join([*kept, line]) + "\n"


def install_cron(line: str, job_name: str) -> str:
    """Add or replace the job's line in the user's crontab via ``crontab``; "written" or "unchanged"."""
    exe = shutil.which("crontab")
    if not exe:
        raise RunbookError("crontab not found: install cron (apt-get install cron) or drop --cron to use systemd timers")
    cur = subprocess.run([exe, "-l"], capture_output=True, text=True, timeout=30)
    current = cur.stdout if cur.returncode == 0 else ""  # "no crontab for user" exits 1
    new = merge_crontab(current, line, job_name)
    if new.splitlines() == current.splitlines():
        return "unchanged"
    put = subprocess.run([exe, "-"], input=new, capture_output=True, text=True, timeout=30)
    if put.returncode != 0:
        raise RunbookError(f"crontab refused the new table: {put.stderr.strip()}; fix it with `crontab -e`")
    return "written"
