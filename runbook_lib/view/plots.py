"""Every plotly figure runbook draws: frames in, figures out (pure), plus display set-up.

Under ipykernel plotly >= 6.1 defaults to the mimetype renderer only, which nbconvert
leaves blank; ``show()`` sets the default renderer once to ``plotly_mimetype+notebook``
so exported HTML embeds plotly.js once and every figure draws offline.
"""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from runbook_lib.view.render import STATE_COLORS

RENDERER = "plotly_mimetype+notebook"
_ready = False


def setup() -> None:
    """Set the default renderer once (never pass renderer= per show: it re-embeds plotly.js)."""
    global _ready
    if not _ready:
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


# -- investigation panel (widgets.py) -------------------------------------------------

def service_history_figure(samples: pd.DataFrame | None, intervals: pd.DataFrame | None,
                           service: str = "") -> go.Figure:
    """One service's probe history: state runs as a timeline (top) and probe latency (bottom)."""
    title = f"Probe and uptime history: {service}" if service else "Probe and uptime history"
    has_iv = intervals is not None and len(intervals) > 0
    has_s = samples is not None and len(samples) > 0
    if not has_iv and not has_s:
        return _empty(title, "no history yet: run `runbook collect`")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.35, 0.65], vertical_spacing=0.08)
    if has_iv:
        now = pd.Timestamp.now(tz="UTC")
        for state, g in intervals.groupby(intervals["state"].astype(str), sort=True):
            xs, ys = [], []
            for start, end in zip(g["start"], g["end"]):
                xs += [start, end if pd.notna(end) else now, None]
                ys += [state, state, None]
            fig.add_scatter(x=xs, y=ys, mode="lines", name=state, line={"width": 12,
                            "color": STATE_COLORS.get(state, "#80868b")}, row=1, col=1)
    if has_s:
        lat = pd.to_numeric(samples["latency_ms"], errors="coerce")
        for state, g in samples.assign(latency_ms=lat).groupby(samples["state"].astype(str), sort=True):
            fig.add_scatter(x=g["ts"], y=g["latency_ms"], mode="markers", name=f"probe {state}",
                            marker={"size": 5, "color": STATE_COLORS.get(state, "#80868b")}, row=2, col=1)
    fig.update_yaxes(title_text="state", row=1, col=1)
    fig.update_yaxes(title_text="latency (ms)", row=2, col=1)
    fig.update_layout(title=title, height=380, legend={"orientation": "h"})
    return fig


# -- recovery plan (expected.py, plan.py) -----------------------------------------------

def _plan_layers(graph: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path depth from services with no dependency (cycle-safe)."""
    depth: dict[str, int] = {}

    def visit(s: str, stack: frozenset) -> int:
        if s in depth:
            return depth[s]
        if s in stack:
            return 0
        d = max((visit(x, stack | {s}) + 1 for x in graph.get(s, []) if x in graph), default=0)
        depth[s] = d
        return d
    for s in graph:
        visit(s, frozenset())
    return depth


def plan_graph_figure(status: pd.DataFrame, plan: pd.DataFrame | None = None,
                      title: str = "Dependency graph (dependencies on the left), coloured by state"
                      ) -> go.Figure:
    """Services as nodes in dependency layers, edges dependency -> dependent, coloured by actual
    state; root causes are ringed in black, services in the plan show their wave and action."""
    if status is None or len(status) == 0:
        return _empty(title, "no services in the catalog")
    graph = {str(s): [str(d) for d in (deps if isinstance(deps, list) else [])]
             for s, deps in zip(status["service"], status["depends_on"])}
    layer = _plan_layers(graph)
    by_layer: dict[int, list[str]] = {}
    for s in sorted(graph, key=lambda s: (layer[s], s)):
        by_layer.setdefault(layer[s], []).append(s)
    pos = {s: (lv, -i + (len(names) - 1) / 2.0) for lv, names in by_layer.items() for i, s in enumerate(names)}
    steps: dict[str, str] = {}
    if plan is not None and len(plan):
        for r in plan.itertuples():
            if r.action != "wait":
                steps[str(r.service)] = f"wave {r.wave}: {r.action}"
            else:
                steps.setdefault(str(r.service), f"wave {r.wave}: wait {r.condition}")
    fig = go.Figure()
    ex, ey = [], []
    for s, deps in graph.items():
        for d in deps:
            if d in pos:
                ex += [pos[d][0], pos[s][0], None]
                ey += [pos[d][1], pos[s][1], None]
    fig.add_scatter(x=ex, y=ey, mode="lines", line={"width": 1, "color": "#bdc1c6"}, hoverinfo="skip",
                    showlegend=False)
    st = status.set_index(status["service"].astype(str))
    for actual, g in st.groupby(st["actual"].astype(str), sort=True):
        names = [str(s) for s in g.index]
        hover = []
        for s in names:
            row = st.loc[s]
            parts = [f"{s}: {actual}"]
            if row.get("detail"):
                parts.append(str(row["detail"]))
            if row.get("blocked_by"):
                parts.append("blocked by " + ", ".join(row["blocked_by"]))
            if s in steps:
                parts.append(steps[s])
            hover.append(html.escape(" | ".join(parts)))
        labels = [html.escape(s + (f" ({steps[s].split(':')[0]})" if s in steps else "")) for s in names]
        roots = [bool(st.loc[s, "root_cause"]) for s in names]
        fig.add_scatter(
            x=[pos[s][0] for s in names], y=[pos[s][1] for s in names], mode="markers+text", name=actual,
            text=labels, textposition="top center", hovertext=hover, hoverinfo="text",
            marker={"size": [18 if r else 13 for r in roots], "color": STATE_COLORS.get(actual, "#80868b"),
                    "line": {"width": [3 if r else 0 for r in roots], "color": "#202124"}})
    height = max(320, 60 * max(len(v) for v in by_layer.values()) + 120)
    fig.update_layout(title={"text": title, "subtitle": {"text": "ringed: root cause; (wave n): in the plan"}},
                      height=min(height, 2400), legend_title="actual state",
                      xaxis={"title": "dependency layer", "dtick": 1, "zeroline": False,
                             "range": [-0.7, max(by_layer) + 0.7]},
                      yaxis={"visible": False}, plot_bgcolor="#fff")
    return fig


# ---------------------------------------------------------------- history: uptime heatmap, timeline, latency
def _esc_names(values) -> list[str]:
    return [html.escape(str(v)) for v in values]


def uptime_heatmap(hourly: pd.DataFrame, title: str = "Availability by hour (UTC)") -> go.Figure:
    """Service × hour heatmap of available % (``uptime.hourly``); grey = no data."""
    if hourly is None or hourly.empty:
        return _empty(title)
    z = hourly.to_numpy(dtype="float64")
    text = [["no data" if v != v else f"{v:.1f} %" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(hourly.columns), y=_esc_names(hourly.index), text=text, zmin=0, zmax=100,
        hovertemplate="%{y}<br>%{x|%Y-%m-%d %H:00} UTC<br>%{text}<extra></extra>",
        colorscale=[[0.0, STATE_COLORS["down"]], [0.9, STATE_COLORS["degraded"]], [1.0, STATE_COLORS["up"]]],
        colorbar={"title": "available %"}))
    fig.update_layout(title=title, height=min(2400, 160 + 22 * len(hourly.index)), plot_bgcolor="#e8eaed",
                      yaxis={"autorange": "reversed"}, xaxis={"title": "hour (UTC)"})
    return fig


def state_timeline(runs: pd.DataFrame, title: str = "State timeline") -> go.Figure:
    """One lane per service, one bar per run of a state (``store.intervals`` clipped to the window)."""
    if runs is None or runs.empty:
        return _empty(title)
    fig = go.Figure()
    services = sorted(runs["service"].astype(str).unique())
    for state in ("up", "degraded", "starting", "down", "unknown"):
        g = runs[runs["state"] == state]
        if g.empty:
            continue
        dur_ms = (g["end"] - g["start"]).dt.total_seconds().to_numpy() * 1000.0
        hover = [f"{s}: {state}<br>{a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M} UTC ({d / 60000:.0f} min)"
                 + (f"<br>{e}" if isinstance(e, str) and e else "")
                 for s, a, b, d, e in zip(g["service"], g["start"], g["end"], dur_ms,
                                          g.get("first_error", pd.Series([None] * len(g))))]
        fig.add_bar(y=_esc_names(g["service"]), x=dur_ms, base=g["start"].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist(),
                    orientation="h", name=state, marker_color=STATE_COLORS.get(state, "#80868b"),
                    hovertext=_esc_names(hover), hoverinfo="text")
    fig.update_layout(title=title, barmode="overlay", height=min(2400, 160 + 26 * len(services)),
                      xaxis={"type": "date", "title": "time (UTC)"}, legend_title="state",
                      yaxis={"categoryorder": "array", "categoryarray": _esc_names(services[::-1])})
    return fig


def latency_percentiles(lat: pd.DataFrame, title: str = "Probe latency per service") -> go.Figure:
    """Grouped bars of p50/p95/p99 latency (ms) per service (``store.latency_stats``)."""
    if lat is None or lat.empty:
        return _empty(title, "no latency samples (no probes ran in this window)")
    lat = lat.sort_values("p95_ms", ascending=False)
    fig = go.Figure()
    for col, color in (("p50_ms", "#1a73e8"), ("p95_ms", "#f29900"), ("p99_ms", "#d93025")):
        fig.add_bar(x=_esc_names(lat["service"]), y=lat[col], name=col.replace("_ms", ""), marker_color=color)
    fig.update_layout(title=title, barmode="group", yaxis={"title": "latency (ms)", "type": "log"},
                      height=420, legend_title="percentile")
    return fig


# ---------------------------------------------------------------- probes: status grid, latency, components, endpoint audit
_PROBE_STATES = ("up", "degraded", "down", "unknown")


def _probe_esc(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def _discrete_scale(states: tuple[str, ...]) -> list[list]:
    n = len(states)
    scale = []
    for i, s in enumerate(states):
        c = STATE_COLORS.get(s, "#80868b")
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def probe_status_grid(rows: pd.DataFrame, title: str = "Health checks: service × check") -> go.Figure:
    """Heatmap of probe rows (``probes.PROBE_COLUMNS``): one row per service, one column per kind,
    coloured by state (up / degraded / down / unknown); hover shows target, reply and error."""
    if rows is None or len(rows) == 0:
        return _empty(title, "no probes ran")
    services = list(dict.fromkeys(rows["service"].astype(str)))
    kinds = list(dict.fromkeys(rows["kind"].astype(str)))
    code = {s: i for i, s in enumerate(_PROBE_STATES)}
    z = [[None] * len(kinds) for _ in services]
    text = [[""] * len(kinds) for _ in services]
    for r in rows.itertuples():
        i, j = services.index(str(r.service)), kinds.index(str(r.kind))
        if z[i][j] is not None and code.get(str(r.state), 3) <= z[i][j]:
            continue  # several rows in one cell: show the worst
        z[i][j] = code.get(str(r.state), 3)
        text[i][j] = "<br>".join(x for x in (
            f"{_probe_esc(r.service)} · {_probe_esc(r.kind)}: <b>{_probe_esc(r.state)}</b>",
            _probe_esc(r.target), _probe_esc(r.reply), _probe_esc(r.error)) if x)
    fig = go.Figure(go.Heatmap(
        z=z, x=[_probe_esc(k) for k in kinds], y=[_probe_esc(s) for s in services], text=text,
        hovertemplate="%{text}<extra></extra>", zmin=-0.5, zmax=len(_PROBE_STATES) - 0.5,
        colorscale=_discrete_scale(_PROBE_STATES), xgap=2, ygap=2,
        colorbar={"tickvals": list(range(len(_PROBE_STATES))), "ticktext": list(_PROBE_STATES), "title": "state"}))
    fig.update_layout(title=title, height=min(2400, 160 + 24 * len(services)), plot_bgcolor="#f1f3f4",
                      yaxis={"autorange": "reversed", "automargin": True}, xaxis={"side": "top"})
    return fig


def probe_latency_chart(rows: pd.DataFrame, title: str = "Probe latency (ms), this round") -> go.Figure:
    """Horizontal bars of each probe's latency, slowest first, coloured by state (log scale)."""
    if rows is None or len(rows) == 0:
        return _empty(title, "no probes ran")
    df = rows[pd.to_numeric(rows["latency_ms"], errors="coerce").notna()].copy()
    if df.empty:
        return _empty(title, "no latency measured (every probe unknown)")
    df["latency_ms"] = pd.to_numeric(df["latency_ms"])
    df["label"] = [f"{_probe_esc(s)} · {_probe_esc(k)}" for s, k in zip(df["service"], df["kind"])]
    df = df.sort_values("latency_ms", ascending=True)
    fig = go.Figure()
    for state in _PROBE_STATES:
        g = df[df["state"] == state]
        if g.empty:
            continue
        fig.add_bar(y=g["label"], x=g["latency_ms"], orientation="h", name=state,
                    marker_color=STATE_COLORS.get(state, "#80868b"),
                    hovertext=[_probe_esc(e or t) for e, t in zip(g["error"], g["target"])], hoverinfo="x+y+text")
    fig.update_layout(title=title, barmode="overlay", height=min(2400, 160 + 20 * len(df)),
                      xaxis={"title": "latency (ms)", "type": "log"}, legend_title="state",
                      yaxis={"automargin": True, "categoryorder": "array", "categoryarray": list(df["label"])})
    return fig


def probe_components_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Flatten the ``detail`` lists (Terminus components) to service, component, status, message."""
    out = []
    if rows is not None and len(rows):
        for r in rows.itertuples():
            for d in (r.detail if isinstance(r.detail, list) else []):
                if isinstance(d, dict) and "component" in d:
                    out.append({"service": r.service, "component": d.get("component"),
                                "status": d.get("status"), "message": d.get("message")})
    return pd.DataFrame(out, columns=["service", "component", "status", "message"])


def probe_components_figure(rows: pd.DataFrame, title: str = "Components reported by /health (Terminus)") -> go.Figure:
    """Service × component grid from NestJS Terminus bodies: green up, red down."""
    comps = probe_components_frame(rows)
    if comps.empty:
        return _empty(title, "no service reported components")
    services = list(dict.fromkeys(comps["service"].astype(str)))
    names = sorted(comps["component"].astype(str).unique())
    z = [[None] * len(names) for _ in services]
    text = [[""] * len(names) for _ in services]
    for r in comps.itertuples():
        i, j = services.index(str(r.service)), names.index(str(r.component))
        up = str(r.status).lower() == "up"
        z[i][j] = 0 if up else 2
        text[i][j] = "<br>".join(x for x in (f"{_probe_esc(r.service)} · {_probe_esc(r.component)}: "
                                            f"<b>{_probe_esc(r.status)}</b>", _probe_esc(r.message)) if x)
    return _state_grid(z, names, services, text, title)


def endpoint_audit_figure(audit: pd.DataFrame, title: str = "Health endpoint audit: service × path") -> go.Figure:
    """``probe_derive.endpoint_audit`` as a grid: green = answers (2xx/Terminus), red = 404/5xx/no answer."""
    if audit is None or len(audit) == 0:
        return _empty(title, "no application endpoints were probed")
    services = list(dict.fromkeys(audit["service"].astype(str)))
    paths = list(dict.fromkeys(audit["path"].astype(str)))
    z = [[None] * len(paths) for _ in services]
    text = [[""] * len(paths) for _ in services]
    for r in audit.itertuples():
        i, j = services.index(str(r.service)), paths.index(str(r.path))
        z[i][j] = 0 if r.works else (3 if r.state == "unknown" else 2)
        code = "" if r.code is None or r.code != r.code else f"HTTP {int(r.code)}"
        text[i][j] = "<br>".join(x for x in (f"{_probe_esc(r.service)} {_probe_esc(r.path)}",
                                            code, _probe_esc(r.error)) if x)
    return _state_grid(z, paths, services, text, title)


def _state_grid(z: list, columns: list[str], rows: list[str], text: list, title: str) -> go.Figure:
    """A rows × columns grid coloured by probe state code (0 up … 3 unknown); labels escaped."""
    fig = go.Figure(go.Heatmap(
        z=z, x=[_probe_esc(c) for c in columns], y=[_probe_esc(r) for r in rows], text=text,
        hovertemplate="%{text}<extra></extra>", zmin=-0.5, zmax=len(_PROBE_STATES) - 0.5,
        colorscale=_discrete_scale(_PROBE_STATES), showscale=False, xgap=2, ygap=2))
    fig.update_layout(title=title, height=min(1600, 160 + 24 * len(rows)), plot_bgcolor="#f1f3f4",
                      yaxis={"autorange": "reversed", "automargin": True}, xaxis={"side": "top"})
    return fig


def incident_timeline(timeline: pd.DataFrame, title: str = "Incident timeline") -> go.Figure:
    """State changes, Docker events and error bursts (``recovery_report.timeline_frame``) on one axis.

    One lane per service; error bursts are sized by their line count. Hover text is escaped.
    """

    if timeline is None or len(timeline) == 0:
        return _empty(title, "no state changes, events or errors in the window")
    styles = {"state change": ("diamond", "#1a73e8"), "event": ("x", "#e37400"), "error burst": ("circle", "#d93025")}
    fig = go.Figure()
    services = sorted(timeline["service"].astype(str).unique())
    for kind, (symbol, color) in styles.items():
        g = timeline[timeline["kind"] == kind]
        if g.empty:
            continue
        counts = pd.to_numeric(g["count"], errors="coerce").fillna(1)
        sizes = (8 + counts.clip(upper=100) ** 0.5 * 3).tolist() if kind == "error burst" else 11
        hover = [html.escape(f"{s} · {t:%Y-%m-%d %H:%M:%S} UTC · {kind}" + (f" ×{int(n)}" if kind == "error burst" else "")
                           + f": {str(lbl)[:200]}")
                 for s, t, n, lbl in zip(g["service"], g["time"], counts, g["label"])]
        fig.add_scatter(x=g["time"], y=_esc_names(g["service"]), mode="markers", name=kind,
                        marker={"symbol": symbol, "color": color, "size": sizes, "opacity": 0.8},
                        hovertext=hover, hoverinfo="text")
    fig.update_layout(title=title, height=min(1600, 180 + 28 * len(services)),
                      xaxis={"type": "date", "title": "time (UTC)"}, legend_title="what",
                      yaxis={"categoryorder": "array", "categoryarray": _esc_names(services[::-1])})
    return fig
