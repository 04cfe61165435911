"""Report site benchmark: ours next to a reference, in one run.

1. Retention scan over a generated outputs tree (N reports x 3 files):
   ``site.clean(dry_run=True)`` (pattern-checked, keep-last per kind) vs GNU ``find -regex -mtime``
   (the usual cron one-liner, which knows nothing about kinds or stray files).
2. ``site.write_index`` on the same tree (listing + JSON reads + HTML + trend chart).
3. One report with 3 plotly figures: nbconvert's self-contained HTML vs the shared-asset
   version (``externalize_plotly``): size, and time until every figure drew in Debian's
   chromium opened from file:// with the network blocked (median of 5).

Run: .venv/bin/python benchmarks/bench_site.py [--reports 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runbook_lib.reports import site# noqa: E402

KINDS = ("health_check", "recovery_report", "uptime_report", "investigate")


def make_tree(root: Path, n_reports: int) -> None:
    now = datetime.now(timezone.utc)
    for i in range(n_reports):
        when = now - timedelta(hours=6 * i)
        kind = KINDS[i % len(KINDS)]
        d = root / f"{when:%Y-%m-%d}"
        d.mkdir(parents=True, exist_ok=True)
        stem = f"{kind}-{when:%H%M%S}Z"
        for ext in ("ipynb", "html"):
            (d / f"{stem}.{ext}").write_text("x" * 2000)
        (d / f"{stem}.json").write_text(json.dumps({"kind": kind, "status": "ok", "generated_at": when.isoformat(),
                                                    "kpis": {"running_pct": 90.0, "passing_pct": 50.0}}))
        mtime = when.timestamp()
        for ext in ("ipynb", "html", "json"):
            os.utime(d / f"{stem}.{ext}", (mtime, mtime))


def timed(fn, repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def notebook_html() -> str:
    import nbclient
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from runbook_lib.view import plots\nimport plotly.graph_objects as go\n"
        + "\n".join(f"plots.show(go.Figure(go.Bar(y=[1, {i}, 3])))" for i in range(3)))]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    import re
    return re.sub(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', "", body)


def browser_draw_ms(paths: list[Path], repeat: int = 5) -> list[float]:
    from playwright.sync_api import sync_playwright
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    out = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args, headless=True)
        for p in paths:
            runs = []
            for _ in range(repeat):
                page = b.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
                t0 = time.perf_counter()
                page.goto(p.as_uri())
                page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
                runs.append((time.perf_counter() - t0) * 1000)
                page.close()
            out.append(statistics.median(runs))
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=2000)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "outputs"
        make_tree(root, args.reports)
        n_files = args.reports * 3
        ours = timed(lambda: site.clean(root, keep_days=30, keep_last=5, dry_run=True))
        find_cmd = ["find", str(root), "-regextype", "posix-extended", "-type", "f", "-regex",
                    r".*/[0-9]{4}-[0-9]{2}-[0-9]{2}/[A-Za-z0-9_.-]+-[0-9]{6}Z\.(ipynb|html|json)", "-mtime", "+30"]
        ref = timed(lambda: subprocess.run(find_cmd, capture_output=True, check=True))
        n_ours = len(site.clean(root, keep_days=30, keep_last=5, dry_run=True))
        n_ref = len(subprocess.run(find_cmd, capture_output=True, text=True).stdout.split())
        rows.append((f"retention scan, {n_files} files", f"site.clean dry-run {ours:.0f} ms ({n_ours} to remove)",
                     f"find -regex -mtime {ref:.0f} ms ({n_ref} to remove)"))
        idx = timed(lambda: site.write_index(root), repeat=3)
        size = (root / "index.html").stat().st_size
        rows.append((f"index over {args.reports} reports", f"write_index {idx:.0f} ms, {size / 1e6:.2f} MB", "–"))
        html = notebook_html()
        rep = root / "2026-11-27"
        rep.mkdir(exist_ok=True)
        embedded = rep / "embedded-000000Z.html"
        shared = rep / "shared-000000Z.html"
        embedded.write_text(html)
        asset = site.shared_plotly_asset(root)
        shared.write_text(site.externalize_plotly(html, site.asset_relpath(shared, root)))
        ext_ms = timed(lambda: site.externalize_plotly(html, "../assets/x.js"), repeat=5)
        try:
            draw_embedded, draw_shared = browser_draw_ms([embedded, shared])
            draw = (f"{draw_shared:.0f} ms to draw 3 figures", f"{draw_embedded:.0f} ms to draw 3 figures")
        except Exception as exc:  # noqa: BLE001 - no chromium: sizes still count
            draw = (f"browser unavailable: {exc}", "")
        rows.append(("report with 3 figures", f"shared asset {shared.stat().st_size / 1e6:.3f} MB "
                     f"(+ {asset.stat().st_size / 1e6:.2f} MB once)", f"self-contained {embedded.stat().st_size / 1e6:.2f} MB"))
        rows.append(("same, opened offline in chromium", *draw))
        rows.append(("externalize_plotly on 4.9 MB HTML", f"{ext_ms:.1f} ms", "–"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'measure'.ljust(w0)} | {'ours'.ljust(w1)} | reference")
    print(f"{'-' * w0}-+-{'-' * w1}-+-{'-' * 30}")
    for a, b, c in rows:
        print(f"{a.ljust(w0)} | {b.ljust(w1)} | {c}")


if __name__ == "__main__":
    main()
