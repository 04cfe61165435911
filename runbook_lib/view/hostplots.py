"""Figures over frames with a ``host`` column: one figure for every host (facets or colours by host).

Each function falls back to the one-engine figure of ``plots`` / ``resources`` when the frame
has no ``host`` column or a single host, so a one-engine report looks as it always did.
Host names and labels are escaped (they come from configuration and the engines).
"""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from runbook_lib.view import plots, resources
from runbook_lib.view.render import STATE_COLORS

HOST_COLORS = ["#1a73e8", "#e37400", "#188038", "#a142f4", "#d01884", "#007b83", "#5f6368", "#b06000"]


def hosts_of(frame: pd.DataFrame | None) -> list[str]:
    """The hosts of a frame in order of appearance ([] without a ``host`` column)."""
    if frame is None or "host" not in frame.columns or not len(frame):
        return []
    return [str(h) for h in dict.fromkeys(frame["host"])]


def _many(frame: pd.DataFrame | None) -> bool:
    return len(hosts_of(frame)) > 1


def _esc(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else html.escape(str(value))


def _label(df: pd.DataFrame) -> list[str]:
    out = []
    for r in df.to_dict("records"):
        if r.get("name") is None or (isinstance(r.get("name"), float) and r["name"] != r["name"]):
            out.append("engine unreachable")
        else:
            out.append(f"{_esc(r.get('service') or r['name'])} ({_esc(r['name'])})")
    return out


def host_color(hosts: list[str], host: str) -> str:
    return HOST_COLORS[hosts.index(host) % len(HOST_COLORS)]


def state_by_service(inv: pd.DataFrame) -> go.Figure:
    """One bar per container coloured by state, one facet (row) per host."""
    if not _many(inv):
        return plots.state_by_service(inv)
    hosts = hosts_of(inv)
    sizes = [max(1, int((inv["host"] == h).sum())) for h in hosts]
    fig = make_subplots(rows=len(hosts), cols=1, shared_xaxes=True, vertical_spacing=min(0.15, 0.4 / len(hosts)),
                        subplot_titles=[f"host {_esc(h)}" for h in hosts],
                        row_heights=[s / sum(sizes) for s in sizes])
    shown: set[str] = set()
    for i, host in enumerate(hosts, start=1):
        df = inv[inv["host"] == host]
        df = df.assign(label=_label(df), status=[h if s == "running" and h in ("healthy", "unhealthy", "starting") else s
                                                 for s, h in zip(df["state"].astype(str), df["health"].astype(str))])
        for status, g in df.groupby("status", sort=True):
            fig.add_bar(y=g["label"], x=[1] * len(g), orientation="h", name=str(status), legendgroup=str(status),
                        showlegend=str(status) not in shown, marker_color=STATE_COLORS.get(str(status), "#80868b"),
                        hovertext=[f"{_esc(host)} · {_esc(t)}" for t in g["status_text"]], hoverinfo="y+text+name",
                        row=i, col=1)
            shown.add(str(status))
        fig.update_yaxes(automargin=True, categoryorder="category descending", row=i, col=1)
    fig.update_xaxes(visible=False)
    fig.update_layout(title="State by service (by host)", barmode="stack", legend_title="status",
                      height=max(260, 140 + 30 * sum(sizes) + 70 * len(hosts)))
    return fig


def _bars_by_host(df: pd.DataFrame, x: str, title: str, x_title: str) -> go.Figure:
    """Horizontal bars, one trace (and colour) per host, labels ``host · service (name)``."""
    hosts = hosts_of(df)
    fig = go.Figure()
    order = []
    for host in hosts:
        g = df[df["host"] == host]
        labels = [f"{_esc(host)} · {lbl}" for lbl in _label(g)]
        order += labels
        fig.add_bar(x=g[x], y=labels, orientation="h", name=_esc(host), marker_color=host_color(hosts, host),
                    hovertext=g.get("hover"), hoverinfo="x+y+text" if "hover" in g else "x+y")
    fig.update_layout(title=title, height=max(220, 120 + 26 * len(df)), xaxis_title=x_title, legend_title="host",
                      yaxis={"automargin": True, "categoryorder": "array", "categoryarray": order})
    return fig


def _inventory_bars(inv: pd.DataFrame, one_engine, keep: pd.Series | None, value: str, values: pd.Series | None,
                    title: str, x_title: str) -> go.Figure:
    """One engine: ``one_engine(inv)``; several: the kept rows as bars by host (value column ``value``)."""
    if not _many(inv):
        return one_engine(inv)
    df = inv[keep]
    if not len(df):
        return one_engine(df)
    df = df.assign(**{value: values[keep.values]}).sort_values(["host", value], kind="stable")
    return _bars_by_host(df, value, title, x_title)


def container_uptime(inv: pd.DataFrame) -> go.Figure:
    """Hours each running container has been up, coloured by host."""
    hours = pd.to_numeric(inv["uptime_s"], errors="coerce") / 3600.0 if len(inv) else None
    return _inventory_bars(inv, plots.container_uptime, inv["uptime_s"].notna() if len(inv) else None, "hours", hours,
                           "Container uptime (hours, by host)", "hours")


def restart_counts(inv: pd.DataFrame) -> go.Figure:
    """Restart count per container, coloured by host."""
    restarts = pd.to_numeric(inv["restart_count"], errors="coerce").fillna(0) if len(inv) else None
    return _inventory_bars(inv, plots.restart_counts, inv["name"].notna() if len(inv) else None, "restarts", restarts,
                           "Restart counts (by host)", "restarts")


def memory_vs_limit(stats: pd.DataFrame, warn_pct: float = 90.0) -> go.Figure:
    """Memory as % of each container's limit, coloured by host; the warning line at ``warn_pct``."""
    if not _many(stats):
        return resources.memory_vs_limit(stats.drop(columns=["host"], errors="ignore") if stats is not None else stats,
                                         warn_pct)
    df = stats.dropna(subset=["mem_pct"])
    if df.empty:
        return resources.memory_vs_limit(df, warn_pct)
    df = df.assign(name=df["name"].where(df["name"].astype(bool), df["container"]),
                   hover=[f"{b / resources.MIB:.0f} / {lim / resources.MIB:.0f} MiB"
                          for b, lim in zip(df["mem_bytes"], df["mem_limit_bytes"])]).sort_values(["host", "mem_pct"])
    fig = _bars_by_host(df, "mem_pct", "Memory vs limit (by host)", "% of memory limit")
    fig.add_vline(x=warn_pct, line_dash="dash", line_color="#d93025")
    fig.update_layout(xaxis_range=[0, 100])
    return fig


def host_prefixed(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(service=[f"{h} · {s}" for h, s in zip(rows["host"], rows["service"])])


def probe_status_grid(rows: pd.DataFrame) -> go.Figure:
    """The service × check grid; with several hosts one row per host and service (``host · service``)."""
    if not _many(rows):
        return plots.probe_status_grid(rows)
    return plots.probe_status_grid(host_prefixed(rows), title="Health checks: host · service × check")


def probe_latency_chart(rows: pd.DataFrame) -> go.Figure:
    """Probe latency, labels ``host · service · check`` with several hosts."""
    if not _many(rows):
        return plots.probe_latency_chart(rows)
    return plots.probe_latency_chart(host_prefixed(rows), title="Probe latency (ms), this round, by host")
