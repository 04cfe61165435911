"""Probe figures: pure frames in, figures out; untrusted text stays inert."""
from __future__ import annotations

import pandas as pd

from runbook_lib.view import plots
from runbook_lib.probes import discovery

XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def _rows() -> pd.DataFrame:
    t = pd.Timestamp("2026-11-27T00:00:00Z")
    base = {"via": "host", "checked_at": t}
    return pd.DataFrame([
        {**base, "service": XSS, "kind": "http", "target": "127.0.0.1:1/health", "state": "degraded", "ok": True,
         "latency_ms": 12.5, "reply": "HTTP 503", "error": IMG,
         "detail": [{"component": "database", "status": "up", "message": None},
                    {"component": IMG, "status": "down", "message": XSS}]},
        {**base, "service": "db", "kind": "postgres", "target": "127.0.0.1:5432", "state": "up", "ok": True,
         "latency_ms": 3.0, "reply": "SELECT 1 ok", "error": None, "detail": []},
        {**base, "service": "db", "kind": "docker", "target": "container:x", "state": "unknown", "ok": False,
         "latency_ms": None, "reply": None, "error": "engine unreachable", "detail": []},
        {**base, "service": "zk", "kind": "zookeeper", "target": "127.0.0.1:2181", "state": "down", "ok": False,
         "latency_ms": 2000.0, "reply": None, "error": "timeout", "detail": []},
    ])


def _inert(fig) -> str:
    js = fig.to_json()
    assert "<script>" not in js and "<img" not in js
    return js


def test_probe_figures_escape_untrusted_text():
    rows = _rows()
    for fn in (plots.probe_status_grid, plots.probe_latency_chart, plots.probe_components_figure):
        fig = fn(rows)
        js = _inert(fig)
        assert "&lt;script&gt;" in js
    grid = plots.probe_status_grid(rows)
    assert list(grid.data[0].x) == ["http", "postgres", "docker", "zookeeper"]
    comps = plots.probe_components_frame(rows)
    assert list(comps["status"]) == ["up", "down"]


def test_probe_figures_empty():
    empty = pd.DataFrame(columns=["service", "kind", "state", "latency_ms", "detail", "target", "reply", "error"])
    for fn in (plots.probe_status_grid, plots.probe_latency_chart, plots.probe_components_figure):
        assert fn(empty).layout.annotations[0].text
    assert plots.endpoint_audit_figure(discovery.endpoint_audit(empty)).layout.annotations


def test_endpoint_audit_figure():
    rows = _rows()
    rows.loc[0, "service"] = "auth"
    audit = discovery.endpoint_audit(rows)
    fig = plots.endpoint_audit_figure(audit)
    _inert(fig)
    assert list(fig.data[0].y) == ["auth"]
