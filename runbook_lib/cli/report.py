"""`runbook report`, `runbook reports clean|index`, `runbook schedule`."""
from __future__ import annotations

import sys
from pathlib import Path

from runbook_lib.exceptions import NotebookFailed
from runbook_lib.reports import kernel


def cmd_report(args) -> int:
    """`runbook report NAME [-p NAME VALUE]... [--output-dir DIR]`."""
    # The kernel starts first; papermill, nbconvert, pandas and plotly are imported here, after it
    # (deferred imports, cli only), so the kernel's ~2 s start overlaps them.
    with kernel.started_kernel(output_dir=args.output_dir, notebook=args.name,
                               parameters=dict(args.parameter)) as started:
        from runbook_lib.reports.params import parse_value  # deferred: after the kernel start
        from runbook_lib.reports.runner import run_report  # deferred: after the kernel start
        params = {k: parse_value(v) for k, v in args.parameter}
        result = run_report(args.name, params, args.output_dir, progress=not args.quiet,
                            shared_plotly=args.shared_plotly, kernel=started)
    if result.status == "failed":
        print(f"runbook: report {result.kind} FAILED ({result.error}); the HTML shows where.", file=sys.stderr)
    elif result.status == "degraded":
        reasons = "; ".join(result.summary.get("degraded_reasons", [])) or "part of the data is missing"
        print(f"runbook: report {result.kind} is DEGRADED: {reasons}", file=sys.stderr)
    print(result.html)
    if result.status == "failed":
        raise NotebookFailed(f"notebook {result.kind} failed: {result.error}")
    return 0


def cmd_reports_clean(args) -> int:
    """``runbook reports clean --keep-days N --keep-last M [--dry-run]``."""
    from runbook_lib.reports import archive, site  # deferred: see cmd_report
    root = Path(args.output_dir) if args.output_dir else archive.default_output_dir()
    removed = site.clean(root, keep_days=args.keep_days, keep_last=args.keep_last, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for f in removed:
        print(f"{verb} {f}")
    n_reports = len({(f.parent, f.stem) for f in removed if archive.REPORT_FILE_RE.match(f.name)})
    print(f"{verb} {n_reports} report(s), {len(removed)} file(s) from {root}")
    return 0


def cmd_reports_index(args) -> int:
    """``runbook reports index``: rebuild index.html and latest.html."""
    from runbook_lib.reports import archive, site  # deferred: see cmd_report
    root = Path(args.output_dir) if args.output_dir else archive.default_output_dir()
    index = site.write_index(root)
    latest = site.write_latest(root)
    print(f"wrote {index}" + (f" and {latest}" if latest else " (no report yet for latest.html)"))
    return 0


def cmd_schedule(args) -> int:
    """``runbook schedule --every 1h --report NAME [--collect] [--cron] [--install]``."""
    from runbook_lib.reports import schedule  # deferred: see cmd_report
    job = schedule.job_for(args.every, report=args.report, collect=args.collect, workdir=args.workdir,
                           timeout_s=args.timeout)
    if args.cron:
        line = schedule.cron_line(job)
        if not args.install:
            print(line)
            return 0
        result = schedule.install_cron(line, job.name)
        print(f"crontab entry {result}:\n{line}")
        return 0
    units = schedule.systemd_units(job)
    if not args.install:
        for name, text in units.items():
            print(f"# {name}\n{text}")
        return 0
    unit_dir = Path(args.unit_dir) if args.unit_dir else schedule.default_unit_dir()
    user = unit_dir != Path("/etc/systemd/system")
    for path, result in schedule.install_units(units, unit_dir):
        print(f"{result}: {path}\n{path.read_text()}")
    ctl = "systemctl --user" if user else "systemctl"
    print(f"nothing was enabled; to start the schedule run:\n  {ctl} daemon-reload && {ctl} enable --now {job.name}.timer")
    return 0
