"""Resource use and maintenance bands: frames in, figures and tables out (pure)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

MIB = 2**20


def resource_table(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per container: CPU %, memory MiB, limit MiB, memory % of limit, PIDs (worst memory first)."""
    cols = ["service", "name", "cpu %", "memory MiB", "limit MiB", "memory % of limit", "pids", "error"]
    if stats is None or stats.empty:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame({"service": stats["service"], "name": stats["name"], "cpu %": stats["cpu_pct"],
                       "memory MiB": (pd.to_numeric(stats["mem_bytes"], errors="coerce") / MIB).round(1),
                       "limit MiB": (pd.to_numeric(stats["mem_limit_bytes"], errors="coerce") / MIB).round(0),
                       "memory % of limit": stats["mem_pct"], "pids": stats["pids"], "error": stats["error"]})
    return df.sort_values("memory % of limit", ascending=False, na_position="last").reset_index(drop=True)


def memory_vs_limit(stats: pd.DataFrame, warn_pct: float = 90.0) -> go.Figure:
    """Memory use as % of each container's limit; bars past ``warn_pct`` in red (OOM risk)."""
    title = "Memory vs limit"
    df = pd.DataFrame() if stats is None else stats.dropna(subset=["mem_pct"])
    fig = go.Figure()
    if df.empty:
        fig.update_layout(title=title, height=220, xaxis={"visible": False}, yaxis={"visible": False},
                          annotations=[{"text": "no data", "showarrow": False, "font": {"size": 16}}])
        return fig
    df = df.assign(label=df["name"].where(df["name"].astype(bool), df["container"])).sort_values("mem_pct")
    colors = ["#d93025" if p > warn_pct else ("#f9ab00" if p > 0.75 * warn_pct else "#1e8e3e") for p in df["mem_pct"]]
    text = [f"{b / MIB:.0f} / {lim / MIB:.0f} MiB" for b, lim in zip(df["mem_bytes"], df["mem_limit_bytes"])]
    fig.add_trace(go.Bar(x=df["mem_pct"], y=df["label"], orientation="h", marker_color=colors, text=text,
                         hovertemplate="%{y}: %{x:.1f} %% of limit (%{text})<extra></extra>"))
    fig.add_vline(x=warn_pct, line_dash="dash", line_color="#d93025")
    fig.update_layout(title=title, height=max(220, 120 + 26 * len(df)), xaxis_title="% of memory limit",
                      xaxis_range=[0, 100], yaxis={"automargin": True})
    return fig


def maintenance_bands(fig: go.Figure, windows: pd.DataFrame) -> go.Figure:
    """Draw maintenance windows as shaded bands on a time-axis figure (returns the same figure)."""
    if windows is None or windows.empty:
        return fig
    for w in windows.to_dict("records"):
        fig.add_vrect(x0=w["start"], x1=w["end"], fillcolor="#9aa0a6", opacity=0.25, line_width=0, layer="below",
                      annotation_text=f"maintenance: {w['service']}", annotation_position="top left")
    return fig
