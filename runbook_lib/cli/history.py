"""`runbook collect` (sample the stack into the history store) and `runbook export`."""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from runbook_lib import redact
from runbook_lib.cli.hostargs import named_hosts
from runbook_lib.cli.notify import build_notifier
from runbook_lib.config import load_config
from runbook_lib.exceptions import RunbookError
from runbook_lib.history import uptime as up
from runbook_lib.history.collect_hosts import collect_hosts_round
from runbook_lib.history.collector import collect_round, default_probe_func, run_loop
from runbook_lib.history.export import FORMATS, export_frames, write_frame
from runbook_lib.history.debounce import Thresholds
from runbook_lib.history.store import open_store
from runbook_lib.maintenance.windows import windows_for


def cmd_collect(args) -> int:
    """``runbook collect --interval 60 [--count N] [--store PATH]``."""
    interval_s = float(args.interval or 60.0)
    if interval_s < 1:
        raise RunbookError("--interval must be at least 1 (seconds between rounds; the store keeps whole "
                           "seconds), e.g. --interval 60.")
    count = args.count
    config = load_config(args.config)
    thresholds = Thresholds.from_config(config.thresholds)
    store = open_store(args.store, thresholds=thresholds)
    project = args.project
    engine_timeout_s = float(args.engine_timeout or 5.0)
    notifier = build_notifier(args, config, store.path, engine_timeout_s)
    hosts = named_hosts(args)
    round_func = (_hosts_round(args, store, hosts, engine_timeout_s, interval_s, notifier) if hosts else
                  _one_engine_round(args, store, engine_timeout_s, interval_s, notifier))
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        print(f"runbook collect: {signal.Signals(signum).name} received, stopping after this round",
              file=sys.stderr, flush=True)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def log(line: str) -> None:
        print(redact.mask_text(line), flush=True)

    print(f"runbook collect: store {store.path}, every {interval_s:g} s"
          + (f", {count} round(s)" if count else "") + (f", project {project}" if project else "")
          + (f", hosts {', '.join(f'{h.name}={h.display_url}' for h in hosts)}" if hosts else ""), flush=True)
    try:
        n = run_loop(round_func, interval_s, count=count, stop=stop, log=log)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        store.close()
    print(f"runbook collect: stopped cleanly after {n} round(s)", flush=True)
    return 0


def _one_engine_round(args, store, engine_timeout_s: float, interval_s: float, notifier: Any):
    """The one default engine (host ''), as before --host existed."""
    probe_func = default_probe_func(list(args.compose or []), args.project, args.config, args.engine_url,
                                    engine_timeout_s)
    return lambda: collect_round(store, engine_url=args.engine_url, engine_timeout_s=engine_timeout_s,
                                 project=args.project, probe_func=probe_func, probes=True,
                                 interval_s=interval_s, notifier=notifier)


def _hosts_round(args, store, hosts: list, engine_timeout_s: float, interval_s: float, notifier: Any):
    """Every named host gathered and probed concurrently; rows carry the host name."""
    discoveries: dict = {}
    return lambda: collect_hosts_round(store, hosts, project=args.project, compose_files=list(args.compose or []),
                                       config=args.config, engine_timeout_s=engine_timeout_s,
                                       interval_s=interval_s, notifier=notifier, discoveries=discoveries)


def cmd_export(args) -> int:
    """``runbook export --format parquet|csv --since 7d --until now [--store PATH] [--output-dir DIR]``."""
    fmt = args.format or "parquet"
    if fmt not in FORMATS:
        raise RunbookError(f"unknown export format {fmt!r}. Fix: use --format parquet or --format csv.")
    now = up.utcnow()
    since = up.parse_time(args.since or "30d", now)
    until = up.parse_time(args.until or "now", now)
    if until <= since:
        raise RunbookError(f"--since ({since.isoformat()}) is not before --until ({until.isoformat()}). "
                           f"Fix: put the earlier time in --since.")
    out_dir = Path(args.output_dir or ".")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunbookError(f"cannot create {out_dir}: {exc.strerror}. Fix: choose another --output-dir.") from None
    store = open_store(args.store, readonly=True)
    try:
        frames = export_frames(store, since, until, now,
                               maintenance=windows_for(getattr(args, "config", None), since, until))
    finally:
        store.close()
    stamp = f"{since:%Y%m%dT%H%M%SZ}-{until:%Y%m%dT%H%M%SZ}"
    for name, df in frames.items():
        path = write_frame(df, out_dir / f"{name}-{stamp}.{fmt}", fmt)
        print(f"{path}  ({len(df)} rows)")
    return 0
