"""Every plotly figure runbook draws: frames in, figures out (pure), plus display set-up.

Under ipykernel plotly >= 6.1 defaults to the mimetype renderer only, which nbconvert
leaves blank; ``show()`` sets the default renderer once to ``plotly_mimetype+notebook``
so exported HTML embeds plotly.js once and every figure draws offline.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from runbook_lib.render import STATE_COLORS

RENDERER = "plotly_mimetype+notebook"
_ready = False


def setup() -> None:
    """Set the default renderer once (never pass renderer= per show: it re-embeds plotly.js)."""
    global _ready
    if not _ready:
        import plotly.io as pio
        pio.renderers.default = RENDERER
        _ready = True


def show(fig: go.Figure) -> None:
    """Display a figure in a notebook so it also draws in exported HTML."""
    setup()
    fig.show()


def _empty(title: str, note: str = "no data") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, height=220, xaxis={"visible": False}, yaxis={"visible": False},
                      annotations=[{"text": note, "showarrow": False, "font": {"size": 16}}])
    return fig


def _label(inv: pd.DataFrame) -> pd.Series:
    return inv["service"].fillna(inv["name"]).astype(str) + " (" + inv["name"].astype(str) + ")"


def state_by_service(inv: pd.DataFrame) -> go.Figure:
    """One bar per container, coloured by state (and health when it has one)."""
    title = "State by service"
    if len(inv) == 0:
        return _empty(title)
    df = inv.assign(label=_label(inv))
    df["status"] = [h if s == "running" and h in ("healthy", "unhealthy", "starting") else s
                    for s, h in zip(df["state"].astype(str), df["health"].astype(str))]
    fig = go.Figure()
    for status, g in df.groupby("status", sort=True):
        fig.add_bar(y=g["label"], x=[1] * len(g), orientation="h", name=str(status),
                    marker_color=STATE_COLORS.get(str(status), "#80868b"),
                    hovertext=g["status_text"].astype(str), hoverinfo="y+text+name")
    fig.update_layout(title=title, barmode="stack", height=max(220, 120 + 26 * len(df)), xaxis={"visible": False},
                      yaxis={"automargin": True, "categoryorder": "category descending"}, legend_title="status")
    return fig


def container_uptime(inv: pd.DataFrame) -> go.Figure:
    """Hours each running container has been up."""
    title = "Container uptime (hours)"
    df = inv[inv["uptime_s"].notna()] if len(inv) else inv
    if len(df) == 0:
        return _empty(title, "no running containers")
    df = df.assign(label=_label(df), hours=pd.to_numeric(df["uptime_s"]) / 3600.0).sort_values("hours")
    fig = go.Figure(go.Bar(x=df["hours"], y=df["label"], orientation="h", marker_color="#1a73e8"))
    fig.update_layout(title=title, height=max(220, 120 + 26 * len(df)), xaxis_title="hours", yaxis={"automargin": True})
    return fig


def restart_counts(inv: pd.DataFrame) -> go.Figure:
    """Restart count per container (crash loops stand out)."""
    title = "Restart counts"
    if len(inv) == 0:
        return _empty(title)
    df = inv.assign(label=_label(inv), restarts=pd.to_numeric(inv["restart_count"]).fillna(0)).sort_values("restarts")
    colors = ["#d93025" if r > 0 else "#9aa0a6" for r in df["restarts"]]
    fig = go.Figure(go.Bar(x=df["restarts"], y=df["label"], orientation="h", marker_color=colors))
    fig.update_layout(title=title, height=max(220, 120 + 26 * len(df)), xaxis_title="restarts", yaxis={"automargin": True})
    return fig

# ---------------------------------------------------------------------------
# Figures appended by each area below (keep appends at the end of the file).


# -- report site (site.py) ------------------------------------------------------------

def report_trend_figure(reports: pd.DataFrame) -> go.Figure:
    """Running % and health-checks-passing % over the reports (site index), oldest to newest."""
    title = "Running % and passing % over the reports"
    if reports is None or len(reports) == 0:
        return _empty(title)
    df = reports.sort_values("generated_at")
    fig = go.Figure()
    for col, name, colour in (("running_pct", "running %", "#1e8e3e"), ("passing_pct", "passing %", "#1a73e8")):
        if col not in df.columns:
            continue
        vals = pd.to_numeric(df[col], errors="coerce")
        fig.add_scatter(x=df["generated_at"], y=vals, mode="lines+markers", name=name,
                        line={"color": colour}, connectgaps=False,
                        text=df["kind"].astype(str), hovertemplate="%{text}<br>%{x}<br>%{y:.1f} %<extra>" + name + "</extra>")
    fig.update_layout(title=title, height=320, yaxis={"title": "%", "range": [0, 105]},
                      xaxis={"title": "report time (UTC)"}, legend={"orientation": "h"})
    return fig
