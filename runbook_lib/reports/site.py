"""The report site: ``outputs/index.html``, ``outputs/latest.html``, retention, shared plotly.js.

The runner writes each report as three files (names and the one scan of the folder:
``archive.py``), then calls ``refresh``. This module only ever deletes files that match
exactly the runner's naming patterns (and date folders left empty by it): a stray user file
in ``outputs/`` or in a date folder always survives ``runbook reports clean``.

Every write is atomic. The index is rendered by a Jinja2 template with autoescape on
(``templates/site/index.html.j2``); every text taken from a report's JSON is also masked.
"""
from __future__ import annotations

import html
import fcntl
import json
import math
import os
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from runbook_lib import redact
from runbook_lib.exceptions import ParameterError, ReportError
from runbook_lib.reports.archive import (DATE_DIR_RE, REPORT_FILE_RE, ReportFiles, atomic_write_bytes,
                                         atomic_write_text, is_plain_file, scan_reports,
                                         stale_files)
from runbook_lib.view import plots

STATUSES = ("ok", "degraded", "failed")
ASSETS_DIR = "assets"
INDEX_NAME = "index.html"
LATEST_NAME = "latest.html"
LOCK_NAME = ".site.lock"
MAX_KEEP_DAYS = 36500
STALE_AFTER_S = 86400.0  # partial and temporary files of a run older than this are left-overs
# KPIs shown in the index when a report publishes them (first found wins the column order).
HEADLINE_KPIS = ("running_pct", "passing_pct", "containers", "running", "with_healthcheck", "healthy",
                 "unhealthy", "restarting", "exited_nonzero", "findings", "uptime_pct", "incidents",
                 "mttr_s", "steps")
REPORT_COLUMNS = ["kind", "generated_at", "status", "running_pct", "passing_pct", "kpis",
                  "degraded_reasons", "html_path", "ipynb_path", "json_path", "date_dir", "stem"]


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return {"status": "failed", "degraded_reasons": [f"{path.name} is not valid JSON"]}
    return data if isinstance(data, dict) else {}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN -> None


def headline_kpis(summary: dict[str, Any]) -> dict[str, float]:
    """Numeric headline KPIs from a report summary (top level, ``kpis`` or ``summary.kpis``)."""
    found: dict[str, float] = {}
    sources = [summary]
    for key in ("kpis", "summary"):
        sub = summary.get(key)
        if isinstance(sub, dict):
            sources.append(sub)
            if isinstance(sub.get("kpis"), dict):
                sources.append(sub["kpis"])
    for src in sources:
        for k, v in src.items():
            n = _number(v)
            if n is not None and k not in found and (k in HEADLINE_KPIS or src is not summary):
                found[str(k)] = n
    ordered = {k: found[k] for k in HEADLINE_KPIS if k in found}
    ordered.update({k: v for k, v in found.items() if k not in ordered})
    return ordered


def _status(summary: dict[str, Any], has_json: bool) -> str:
    status = str(summary.get("status") or "").lower()
    if status in STATUSES:
        return status
    if summary.get("error") or summary.get("failed"):
        return "failed"
    if not has_json:
        return "failed"  # the runner writes the JSON last: no JSON, no finished report
    return "degraded" if summary.get("degraded_reasons") else "ok"


def list_reports(output_dir: str | Path) -> pd.DataFrame:
    """One row per report, newest first (columns ``REPORT_COLUMNS``; paths relative to output_dir)."""
    root = Path(output_dir)
    rows = []
    for r in scan_reports(root):
        js_path = r.path("json")
        summary = _read_json(js_path)
        kpis = headline_kpis(summary)
        reasons = summary.get("degraded_reasons") or []
        if not isinstance(reasons, list):
            reasons = [reasons]
        ts = _parse_time(summary.get("generated_at")) or r.generated_at
        rows.append({
            "kind": redact.mask_text(str(summary.get("kind") or r.kind)),
            "generated_at": ts,
            "status": _status(summary, js_path is not None),
            "running_pct": kpis.get("running_pct"),
            "passing_pct": kpis.get("passing_pct"),
            "kpis": kpis,
            "degraded_reasons": [redact.mask_text(str(x)) for x in reasons],
            "html_path": _rel(r.path("html"), root),
            "ipynb_path": _rel(r.path("ipynb"), root),
            "json_path": _rel(js_path, root),
            "date_dir": r.date_dir.name,
            "stem": r.stem,
        })
    df = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    if not df.empty:
        df["generated_at"] = pd.to_datetime(df["generated_at"], utc=True)
        df = df.sort_values("generated_at", ascending=False, kind="stable").reset_index(drop=True)  # stable: seq order kept
    return df


def _parse_time(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _rel(p: Path | None, root: Path) -> str | None:
    return None if p is None else p.relative_to(root).as_posix()


# -- shared plotly.js -------------------------------------------------------------------

def plotly_asset_name() -> str:
    """``plotly-<version>.min.js`` for the plotly.js bundled with the installed plotly."""
    return f"plotly-{get_plotlyjs_version()}.min.js"


def shared_plotly_asset(output_dir: str | Path) -> Path:
    """Write ``outputs/assets/plotly-<version>.min.js`` once (from plotly's package); return its path."""
    path = Path(output_dir) / ASSETS_DIR / plotly_asset_name()
    js = get_plotlyjs().encode("utf-8")
    if not (path.is_file() and path.stat().st_size == len(js)):
        atomic_write_bytes(path, js)
    return path


def asset_relpath(report_html: str | Path, output_dir: str | Path) -> str:
    """Relative URL from a report's HTML to the shared asset (``../assets/plotly-x.min.js``)."""
    asset = Path(output_dir) / ASSETS_DIR / plotly_asset_name()
    return Path(os.path.relpath(asset, Path(report_html).parent)).as_posix()


_SCRIPT_RE = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
_PLOTLY_BANNER_RE = re.compile(r"^\s*/\*\*?\s*\*?\s*plotly\.js v\d")


def externalize_plotly(html_text: str, asset_relpath: str) -> str:
    """Replace each embedded plotly.js ``<script>`` block with ``<script src=asset_relpath>``.

    Only inline scripts whose body starts with plotly.js's licence banner are replaced;
    everything else (figure data, configuration) is left as it is. A page with no
    embedded plotly.js is returned unchanged.
    """
    tag = f'<script charset="utf-8" src="{html.escape(asset_relpath, quote=True)}"></script>'
    out: list[str] = []
    pos = 0
    for m in _SCRIPT_RE.finditer(html_text):
        if m.start() < pos or "src=" in m.group(0).lower():
            continue
        end = html_text.find("</script>", m.end())
        if end < 0:
            break
        body_head = html_text[m.end():m.end() + 200]
        if _PLOTLY_BANNER_RE.match(body_head) and end - m.end() > 100_000:
            out.append(html_text[pos:m.start()])
            out.append(tag)
            pos = end + len("</script>")
    out.append(html_text[pos:])
    return "".join(out)


# -- index and latest -------------------------------------------------------------------

_STATUS_COLOURS = {"ok": "#1a7f37", "degraded": "#b35900", "failed": "#cf222e"}


def _fmt_kpi(key: str, value: float) -> str:
    if key.endswith("_pct"):
        return f"{value:.1f} %"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}"


def _text(value: Any) -> str:
    return redact.mask_text(str(value))


# Jinja's bytecode cache (per user, in the temporary folder): the index template compiles once, not per run.
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates" / "site")),
                          autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                          bytecode_cache=jinja2.FileSystemBytecodeCache())


def _trend_html(reports: pd.DataFrame, plotlyjs: str | bool) -> str:
    """The running % / passing % trend chart (plotly, offline) or a note when there is no data."""
    data = reports.dropna(subset=["running_pct", "passing_pct"], how="all")
    if data.empty:
        return '<p class="note">no report published running % or passing % yet</p>'
    fig = plots.report_trend_figure(data)
    return fig.to_html(full_html=False, include_plotlyjs=plotlyjs, div_id="trend",
                       config={"displaylogo": False, "responsive": True})


def prepare() -> None:
    """Load what a process's first ``refresh`` loads (the index template; plotly's property
    validators and HTML writer, ~0.3-0.5 s cold): a report run does it while its kernel works."""
    _ENV.get_template("index.html.j2")
    _trend_html(pd.DataFrame({"generated_at": [pd.Timestamp(datetime.now(timezone.utc))],
                              "running_pct": [100.0], "passing_pct": [100.0]}), False)


def render_index(reports: pd.DataFrame, plotlyjs: str | bool = True,
                 generated_at: pd.Timestamp | None = None) -> str:
    """The index page as HTML text (pure): status-coloured rows newest first, KPIs, links, trend."""
    now = generated_at or pd.Timestamp(datetime.now(timezone.utc))
    counts = reports["status"].value_counts().to_dict() if not reports.empty else {}
    masked: dict[str, str] = {}  # the same kinds and KPI names repeat on every row: mask each once

    def text(value: Any) -> str:
        s = str(value)
        if s not in masked:
            masked[s] = _text(s)
        return masked[s]

    rows = []
    for r in reports.itertuples(index=False):
        kpis = " · ".join(f"{text(k)} {_fmt_kpi(k, v)}" for k, v in list(r.kpis.items())[:6])
        rows.append({
            "kind": text(r.kind), "status": text(r.status), "iso": r.generated_at.isoformat(),
            "when": f"{r.generated_at:%Y-%m-%d %H:%M:%S}", "colour": _STATUS_COLOURS.get(r.status, "#57606a"),
            "reasons": _text("; ".join(r.degraded_reasons)) if r.degraded_reasons else "",
            "kpis": kpis or Markup("&ndash;"),
            "links": [(label, p) for label, p in (("html", r.html_path), ("ipynb", r.ipynb_path),
                                                   ("json", r.json_path)) if isinstance(p, str) and p],
        })
    # The trend is plotly's own markup (figure data it serialises itself), not text from a report.
    trend = Markup(_trend_html(reports, plotlyjs)) if not reports.empty else ""
    return _ENV.get_template("index.html.j2").render(
        rows=rows, counts=[(_text(s), n) for s, n in counts.items()], now=f"{now:%Y-%m-%d %H:%M:%S}",
        latest_name=LATEST_NAME, trend=trend)


def write_index(output_dir: str | Path, shared_plotly: bool | None = None) -> Path:
    """Rewrite ``outputs/index.html`` (atomic). Embeds plotly.js unless the shared asset is used.

    ``shared_plotly=None`` references ``assets/plotly-<v>.min.js`` when it already exists.
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    reports = list_reports(root)
    asset = root / ASSETS_DIR / plotly_asset_name()
    if shared_plotly is None:
        shared_plotly = asset.is_file()
    plotlyjs: str | bool = True
    if shared_plotly:
        shared_plotly_asset(root)
        plotlyjs = f"{ASSETS_DIR}/{asset.name}"
    return atomic_write_text(root / INDEX_NAME, render_index(reports, plotlyjs))


def write_latest(output_dir: str | Path) -> Path | None:
    """``outputs/latest.html`` = a copy of the newest report's HTML (asset links fixed); None if none."""
    root = Path(output_dir)
    reports = list_reports(root)
    with_html = reports[reports["html_path"].notna()] if not reports.empty else reports
    if with_html.empty:
        return None
    src = root / with_html.iloc[0]["html_path"]
    text = src.read_text(encoding="utf-8", errors="replace")
    # The copy sits one folder up from the dated report: ../assets/ becomes assets/.
    text = text.replace(f'src="../{ASSETS_DIR}/', f'src="{ASSETS_DIR}/')
    return atomic_write_text(root / LATEST_NAME, text)


def refresh(output_dir: str | Path) -> None:
    """Rewrite index.html and latest.html (what the runner and ``reports clean`` call).

    Runs that finish together take turns (a lock file in the output folder): the last to
    refresh scans after every earlier run's files are in place, so the index lists them all.
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            write_index(root)
            write_latest(root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- retention --------------------------------------------------------------------------

def select_for_removal(reports: list[ReportFiles], keep_days: float | None, keep_last: int | None,
                       now: datetime | None = None) -> list[ReportFiles]:
    """The reports the retention rule removes (pure).

    A report goes only when it is older than ``keep_days`` (if given) AND is not among
    the newest ``keep_last`` of its kind (if given). With neither, nothing goes.
    """
    if keep_days is None and keep_last is None:
        return []
    now = now or datetime.now(timezone.utc)
    cutoff = pd.Timestamp(now - timedelta(days=keep_days)) if keep_days is not None else None
    rank: dict[str, int] = {}
    doomed = []
    for r in sorted(reports, key=lambda r: (r.generated_at, r.seq, r.stem), reverse=True):
        n = rank.get(r.kind, 0)
        rank[r.kind] = n + 1
        protected_by_count = keep_last is not None and n < keep_last
        old_enough = cutoff is None or r.generated_at < cutoff
        if old_enough and not protected_by_count:
            doomed.append(r)
    return doomed


def clean(output_dir: str | Path, keep_days: float | None = None, keep_last: int | None = None,
          dry_run: bool = False, now: datetime | None = None) -> list[Path]:
    """Remove old reports (runner-named files only, then empty date folders) and what killed runs
    left behind (partial notebooks, ``.tmp`` files) older than a day; return what went."""
    if keep_days is None and keep_last is None:
        raise ParameterError("say what to keep: --keep-days N and/or --keep-last M")
    if keep_days is not None and not (math.isfinite(keep_days) and 0 <= keep_days <= MAX_KEEP_DAYS):
        raise ParameterError(f"--keep-days must be a number from 0 to {MAX_KEEP_DAYS}, got {keep_days!r}")
    if keep_last is not None and keep_last < 0:
        raise ParameterError("--keep-last must be 0 or more")
    root = Path(output_dir)
    if not root.is_dir():
        raise ReportError(f"no reports folder at {root}: pass --output-dir")
    doomed = select_for_removal(scan_reports(root), keep_days, keep_last, now)
    removed: list[Path] = []
    dirs = set()
    for r in doomed:
        for f in r.files:
            # Re-check right before unlinking: only a plain file with the report name goes.
            if not (REPORT_FILE_RE.match(f.name) and DATE_DIR_RE.match(f.parent.name) and is_plain_file(f)):
                continue
            removed.append(f)
            dirs.add(f.parent)
            if not dry_run:
                f.unlink()
    now_s = now.timestamp() if now is not None else time.time()
    for f in stale_files(root, STALE_AFTER_S, now_s):
        removed.append(f)
        if f.parent != root:
            dirs.add(f.parent)
        if not dry_run:
            try:
                f.unlink()
            except OSError:
                pass
    if not dry_run:
        for d in sorted(dirs):
            try:
                d.rmdir()  # only succeeds when nothing else (a user's file) is left in it
            except OSError:
                pass
        refresh(root)
    return removed

