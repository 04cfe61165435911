"""The report site: listing, index, latest, retention on a generated outputs tree, shared plotly.js."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib import cli
from runbook_lib.reports import site
from runbook_lib.exceptions import ParameterError

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def make_report(root: Path, kind: str, when: datetime, status: str | None = "ok",
                kpis: dict | None = None, html: str | None = None, exts=("ipynb", "html", "json"),
                extra: dict | None = None) -> list[Path]:
    """Write one report the way the runner names it: YYYY-MM-DD/<kind>-HHMMSSZ.{ipynb,html,json}."""
    d = root / f"{when:%Y-%m-%d}"
    d.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{when:%H%M%S}Z"
    out = []
    for ext in exts:
        p = d / f"{stem}.{ext}"
        if ext == "json":
            data = {"kind": kind, "generated_at": when.isoformat(), **({"status": status} if status else {}),
                    "kpis": kpis or {}, **(extra or {})}
            p.write_text(json.dumps(data))
        elif ext == "html":
            p.write_text(html or f"<html><body><p>{kind} at {when:%H:%M:%S}</p></body></html>")
        else:
            p.write_text("{}")
        out.append(p)
    return out


def tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def outputs(tmp_path) -> Path:
    root = tmp_path / "outputs"
    root.mkdir()
    return root


def test_list_reports_newest_first_with_status_and_kpis(outputs):
    make_report(outputs, "health_check", NOW - timedelta(days=2), "ok", {"running_pct": 100.0, "passing_pct": 90.0})
    make_report(outputs, "recovery_report", NOW - timedelta(hours=1), "degraded",
                {"running_pct": 80.0, "passing_pct": 41.7}, extra={"degraded_reasons": ["engine unreachable"]})
    make_report(outputs, "health_check", NOW, "failed")
    make_report(outputs, "uptime_report", NOW - timedelta(days=1), None, exts=("ipynb", "html"))  # no JSON
    df = site.list_reports(outputs)
    assert list(df["kind"]) == ["health_check", "recovery_report", "uptime_report", "health_check"]
    assert list(df["status"]) == ["failed", "degraded", "failed", "ok"]
    assert df["generated_at"].iloc[0].tzinfo is not None
    row = df.iloc[1]
    assert row["running_pct"] == 80.0 and row["passing_pct"] == 41.7
    assert row["degraded_reasons"] == ["engine unreachable"]
    assert row["html_path"] == f"{(NOW - timedelta(hours=1)):%Y-%m-%d}/recovery_report-{(NOW - timedelta(hours=1)):%H%M%S}Z.html"
    assert pd.isna(df.iloc[2]["json_path"])


def test_headline_kpis_top_level_and_nested():
    assert site.headline_kpis({"running_pct": 50, "status": "ok", "other": 3}) == {"running_pct": 50.0}
    k = site.headline_kpis({"kpis": {"passing_pct": 12.5, "containers": 8, "running_pct": None}})
    assert k == {"passing_pct": 12.5, "containers": 8.0}


def test_index_lists_reports_escaped_with_trend_chart(outputs):
    make_report(outputs, "health_check", NOW - timedelta(days=1), "ok", {"running_pct": 100.0, "passing_pct": 50.0})
    make_report(outputs, "health_check", NOW, "degraded", {"running_pct": 75.0, "passing_pct": 25.0},
                extra={"degraded_reasons": [XSS], "kind": "health_check"})
    make_report(outputs, "recovery_report", NOW - timedelta(hours=3), "ok", {"running_pct": 90.0})
    path = site.write_index(outputs)
    text = path.read_text()
    assert path == outputs / "index.html"
    # newest first
    assert text.index("2026-11-27 12:00:00Z") < text.index("2026-11-27 09:00:00Z") < text.index("2026-11-26 12:00:00Z")
    assert "status-degraded" in text and "75.0 %" in text
    assert "<script>alert(1)" not in text and "onerror=alert(1)>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # the trend chart, with plotly.js embedded exactly once (offline, self-contained)
    assert 'id="trend"' in text
    assert text.count("plotly.js v") == 1
    assert 'src="http' not in text and "src='http" not in text
    assert not list(outputs.glob(".index.html.*"))  # no temp file left behind


def test_index_kind_xss_escaped_and_masked(outputs):
    make_report(outputs, "health_check", NOW, "ok",
                extra={"kind": XSS + " password=hunter2canary"})
    text = site.write_index(outputs).read_text()
    assert "<img src=x" not in text and "hunter2canary" not in text
    assert "[MASKED]" in text


def test_index_with_no_reports(outputs):
    text = site.write_index(outputs).read_text()
    assert "no reports yet" in text
    assert site.write_latest(outputs) is None


def test_index_uses_shared_asset_when_present(outputs):
    make_report(outputs, "health_check", NOW, "ok", {"running_pct": 100.0, "passing_pct": 100.0})
    asset = site.shared_plotly_asset(outputs)
    text = site.write_index(outputs).read_text()
    assert f'src="assets/{asset.name}"' in text
    assert "plotly.js v" not in text
    assert len(text) < 100_000


def test_latest_is_a_copy_of_newest_with_asset_path_fixed(outputs):
    make_report(outputs, "health_check", NOW - timedelta(days=1), html="<p>old</p>")
    make_report(outputs, "recovery_report", NOW,
                html='<script src="../assets/plotly-4.1.1.min.js"></script><p>newest</p>')
    latest = site.write_latest(outputs)
    text = latest.read_text()
    assert latest == outputs / "latest.html"
    assert "newest" in text and 'src="assets/plotly-4.1.1.min.js"' in text


def test_shared_asset_written_once(outputs):
    p1 = site.shared_plotly_asset(outputs)
    mtime = p1.stat().st_mtime_ns
    p2 = site.shared_plotly_asset(outputs)
    assert p1 == p2 == outputs / "assets" / site.plotly_asset_name()
    assert p2.stat().st_mtime_ns == mtime
    assert p1.read_text().lstrip().startswith("/**")


# -- retention ------------------------------------------------------------------------

STRAYS = [
    "notes.txt",                          # user's file at the top
    "README.md",
    "archive/health_check-010101Z.html",  # report-like name outside a date folder
    "2026-10-01/my-notes.md",             # user's file in an old date folder
    "2026-10-01/health_check-010101Z.txt",  # near-miss names
    "2026-10-01/health_check-0101Z.html",
    "2026-10-01/health_check-010101.html",
    "2026-10-01/health_check-010101Z.html.bak",
    "not-a-date/health_check-010101Z.json",
    "2026-13-45/health_check-010101Z.json",   # impossible date: not written by the runner
]


def build_tree(root: Path) -> None:
    for s in STRAYS:
        p = root / s
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("keep me")
    # A directory carrying a report file name must survive too.
    (root / "2026-10-01" / "health_check-020202Z.html").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "assets" / "plotly-0.0.0.min.js").write_text("//")
    (root / "index.html").write_text("old index")
    (root / "latest.html").write_text("old latest")
    for days in (58, 40, 20, 10, 3, 1):
        make_report(root, "health_check", NOW - timedelta(days=days, hours=1))
    for days in (57, 2):
        make_report(root, "recovery_report", NOW - timedelta(days=days))
    make_report(root, "uptime_report", NOW - timedelta(days=56), exts=("html",))  # partial report
    make_report(root, "health_check", datetime(2026, 10, 1, 1, 1, 1, tzinfo=timezone.utc))


def kinds_left(root: Path) -> dict[str, int]:
    df = site.list_reports(root)
    return df["kind"].value_counts().to_dict()


def assert_strays_survive(root: Path) -> None:
    for s in STRAYS:
        assert (root / s).read_text() == "keep me", s
    assert (root / "2026-10-01" / "health_check-020202Z.html").is_dir()
    assert (root / "assets" / "plotly-0.0.0.min.js").exists()


def test_clean_keep_days_removes_only_old_reports(outputs):
    build_tree(outputs)
    removed = site.clean(outputs, keep_days=15, now=NOW)
    assert kinds_left(outputs) == {"health_check": 3, "recovery_report": 1}
    assert all(site.REPORT_FILE_RE.match(p.name) for p in removed)
    assert len(removed) == 3 * 3 + 3 + 1 + 3  # 3 old health checks, 1 recovery, 1 uptime (html only), 2026-10-01
    assert_strays_survive(outputs)
    # Date folders emptied by clean are gone; one holding a user's file stays.
    old = NOW - timedelta(days=58, hours=1)
    assert not (outputs / f"{old:%Y-%m-%d}").exists()
    assert (outputs / "2026-10-01").is_dir()
    # index and latest were rebuilt and list only what is left
    index = (outputs / "index.html").read_text()
    assert index.count('class="report ') == 4
    assert (outputs / "latest.html").read_text() != "old latest"


def test_clean_keep_last_per_kind(outputs):
    build_tree(outputs)
    site.clean(outputs, keep_last=2, now=NOW)
    assert kinds_left(outputs) == {"health_check": 2, "recovery_report": 2, "uptime_report": 1}
    left = site.list_reports(outputs)
    hc = left[left["kind"] == "health_check"]["generated_at"].tolist()
    assert hc == sorted(hc, reverse=True) and hc[-1] > NOW - timedelta(days=4)
    assert_strays_survive(outputs)


def test_clean_keep_days_and_keep_last_both_protect(outputs):
    build_tree(outputs)
    # keep 30 days, but always the newest 1 per kind (the 56-day-old uptime report stays)
    site.clean(outputs, keep_days=30, keep_last=1, now=NOW)
    assert kinds_left(outputs) == {"health_check": 4, "recovery_report": 1, "uptime_report": 1}
    # keep_last protects even at keep_days=0
    site.clean(outputs, keep_days=0, keep_last=1, now=NOW)
    assert kinds_left(outputs) == {"health_check": 1, "recovery_report": 1, "uptime_report": 1}
    assert_strays_survive(outputs)


def test_clean_dry_run_removes_nothing(outputs):
    build_tree(outputs)
    before = tree_files(outputs)
    removed = site.clean(outputs, keep_days=1, dry_run=True, now=NOW)
    assert removed and tree_files(outputs) == before


def test_clean_needs_a_rule(outputs):
    build_tree(outputs)
    with pytest.raises(ParameterError, match="--keep-days"):
        site.clean(outputs)
    with pytest.raises(ParameterError):
        site.clean(outputs, keep_last=-1)


def test_clean_does_not_follow_symlinked_date_dir(outputs, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "2026-01-01"
    elsewhere.mkdir(parents=True)
    victim = elsewhere / "health_check-010101Z.html"
    victim.write_text("not ours")
    os.symlink(elsewhere, outputs / "2026-01-01")
    site.clean(outputs, keep_days=0, now=NOW)
    assert victim.read_text() == "not ours"


def test_cli_reports_clean_and_index(outputs, capsys):
    build_tree(outputs)
    assert cli.main(["reports", "clean", "--keep-last", "1", "--output-dir", str(outputs), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out
    assert cli.main(["reports", "clean", "--keep-last", "1", "--output-dir", str(outputs)]) == 0
    assert kinds_left(outputs) == {"health_check": 1, "recovery_report": 1, "uptime_report": 1}
    assert cli.main(["reports", "index", "--output-dir", str(outputs)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["reports", "clean", "--output-dir", str(outputs)]) == 2
    assert "--keep-days" in capsys.readouterr().err


# -- shared plotly.js on a real nbconvert export ------------------------------------------

def _executed_notebook_html(n_figs: int = 3) -> str:
    import nbclient
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = "from runbook_lib.view import plots\nimport plotly.graph_objects as go\n" + "\n".join(
        f"plots.show(go.Figure(go.Bar(y=[1, {i}, 3])))" for i in range(n_figs))
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


@pytest.mark.slow
def test_externalize_plotly_makes_small_report_that_reads_the_asset(outputs):
    text = _executed_notebook_html()
    assert text.count("plotly.js v") == 1 and len(text) > 4_000_000
    report = outputs / "2026-11-27" / "health_check-120000Z.html"
    report.parent.mkdir()
    asset = site.shared_plotly_asset(outputs)
    rel = site.asset_relpath(report, outputs)
    assert rel == f"../assets/{asset.name}"
    small = site.externalize_plotly(text, rel)
    report.write_text(small)
    assert len(small.encode()) <= 500_000, len(small)
    assert "plotly.js v" not in small
    assert small.count(f'src="{rel}"') == 1
    assert small.count("Plotly.newPlot") == text.count("Plotly.newPlot") == 3
    # idempotent, and a page without plotly.js is unchanged
    assert site.externalize_plotly(small, rel) == small
    assert site.externalize_plotly("<p>x</p><script>var a=1</script>", rel) == "<p>x</p><script>var a=1</script>"


def test_same_second_reports_with_sequence_suffix(outputs):
    make_report(outputs, "health_check", NOW)
    d = outputs / f"{NOW:%Y-%m-%d}"
    for ext in ("ipynb", "html", "json"):  # what the runner writes for a second report in the same second
        (d / f"health_check-{NOW:%H%M%S}Z-1.{ext}").write_text(
            json.dumps({"kind": "health_check", "status": "degraded"}) if ext == "json" else "<p>second</p>")
    df = site.list_reports(outputs)
    assert len(df) == 2 and list(df["status"]) == ["degraded", "ok"]
    assert df.iloc[0]["html_path"].endswith("Z-1.html")
    assert "second" in site.write_latest(outputs).read_text()
    site.clean(outputs, keep_last=1, now=NOW)
    assert sorted(p.name for p in d.iterdir()) == [f"health_check-{NOW:%H%M%S}Z-1.{e}" for e in ("html", "ipynb", "json")]
