"""HTML for notebooks and reports: every value is escaped, so untrusted text stays inert.

nbconvert does not sanitize HTML, so tables are rendered here (not with pandas'
``to_html``, which does not escape by default) and every cell goes through
``html.escape``. Colours follow the state of the row.
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from IPython.display import HTML, display

# One palette for every table and figure: state -> colour.
STATE_COLORS: dict[str, str] = {
    "up": "#1e8e3e", "running": "#1e8e3e", "healthy": "#1e8e3e", "running-healthy": "#1e8e3e",
    "ok": "#1e8e3e", "ready": "#1e8e3e",
    "degraded": "#f29900", "starting": "#f29900", "running-starting": "#f29900",
    "running-no-healthcheck": "#5f9ea0", "none": "#5f9ea0", "created": "#9aa0a6",
    "restarting": "#e37400", "paused": "#9aa0a6",
    "down": "#d93025", "unhealthy": "#d93025", "running-unhealthy": "#d93025", "exited": "#d93025",
    "dead": "#a50e0e", "not-created": "#a50e0e", "failed": "#d93025", "blocked": "#b06000",
    "unknown": "#80868b", "no data": "#80868b",
}
SEVERITY_COLORS = {"critical": "#a50e0e", "high": "#d93025", "medium": "#f29900", "low": "#5f9ea0",
                   "info": "#80868b"}

_CSS = """<style>
.rb-table{border-collapse:collapse;font:13px/1.4 system-ui,sans-serif;margin:6px 0}
.rb-table th{background:#f1f3f4;text-align:left;padding:4px 8px;border-bottom:2px solid #dadce0}
.rb-table td{padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top;max-width:60ch;overflow-wrap:anywhere}
.rb-pill{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.rb-kpis{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.rb-kpi{border:1px solid #dadce0;border-radius:8px;padding:8px 14px;min-width:150px;font:13px system-ui,sans-serif}
.rb-kpi b{display:block;font-size:22px}
.rb-banner{padding:8px 12px;border-radius:6px;margin:6px 0;font:14px system-ui,sans-serif}
.rb-pre{white-space:pre-wrap;font:12px/1.3 monospace;background:#f8f9fa;padding:6px;margin:0;max-height:30em;overflow:auto}
</style>"""


def one_stylesheet(page: str, sheets: Iterable[str] = (_CSS,)) -> str:
    """A whole HTML page with each of ``sheets`` kept only where it first appears (pure).

    Every table, banner and KPI row carries the stylesheet, so a notebook output looks right on
    its own in JupyterLab; an exported page needs it once. Only exact copies of runbook's own
    blocks are removed: escaped text cannot contain them, and nothing else is touched."""
    for sheet in sheets:
        first = page.find(sheet)
        if first >= 0:
            cut = first + len(sheet)
            page = page[:cut] + page[cut:].replace(sheet, "")
    return page


def esc(value: Any) -> str:
    """Escape any value for HTML text (None / NaN become an empty string)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, pd.Timestamp):
        return html.escape(value.strftime("%Y-%m-%d %H:%M:%S UTC") if value.tzinfo else str(value))
    if isinstance(value, (list, tuple, set)):
        return html.escape(", ".join(_plain(v) for v in value))
    if isinstance(value, Mapping):
        return html.escape(json.dumps(value, default=str, ensure_ascii=False))
    return html.escape(str(value))


def _plain(v: Any) -> str:
    if isinstance(v, Mapping):
        return json.dumps(v, default=str, ensure_ascii=False)
    return str(v)


def pill(state: Any, colors: Mapping[str, str] = STATE_COLORS) -> str:
    """A coloured label for a state value."""
    text = "" if state is None else str(state)
    color = colors.get(text.lower(), "#80868b")
    return f'<span class="rb-pill" style="background:{color}">{esc(text)}</span>'


def table_html(df: pd.DataFrame, state_col: str | Iterable[str] | None = None, columns: list[str] | None = None,
               pre_cols: Iterable[str] = (), max_rows: int = 500, severity_col: str | None = None) -> str:
    """An escaped HTML table; ``state_col`` cells become coloured pills."""
    if df is None or len(df) == 0:
        return _CSS + '<p class="rb-banner" style="background:#f1f3f4">No rows.</p>'
    state_cols = {state_col} if isinstance(state_col, str) else set(state_col or ())
    pre = set(pre_cols)
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c in state_cols:
                cells.append(f"<td>{pill(v)}</td>")
            elif severity_col and c == severity_col:
                cells.append(f"<td>{pill(v, SEVERITY_COLORS)}</td>")
            elif c in pre:
                cells.append(f'<td><pre class="rb-pre">{esc(v)}</pre></td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(df) > max_rows:
        more = f"<p>… {len(df) - max_rows} more rows not shown.</p>"
    return f'{_CSS}<table class="rb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def kpis_html(kpis: Mapping[str, Any]) -> str:
    """KPI tiles: {label: value} or {label: (value, subtitle)}."""
    tiles = []
    for label, value in kpis.items():
        sub = ""
        if isinstance(value, tuple):
            value, sub = value
        tiles.append(f'<div class="rb-kpi">{esc(label)}<b>{esc(value)}</b>{esc(sub)}</div>')
    return f'{_CSS}<div class="rb-kpis">{"".join(tiles)}</div>'


def banner_html(text: str, level: str = "info") -> str:
    """A coloured banner: info, ok, warning, error."""
    colors = {"info": "#e8f0fe", "ok": "#e6f4ea", "warning": "#fef7e0", "error": "#fce8e6"}
    return f'{_CSS}<div class="rb-banner" style="background:{colors.get(level, "#e8f0fe")}">{esc(text)}</div>'


def pre_html(text: str) -> str:
    """Preformatted, escaped text (logs, health output)."""
    return f'{_CSS}<pre class="rb-pre">{esc(text)}</pre>'


def _display(markup: str) -> None:
    display(HTML(markup))


def table(df: pd.DataFrame, state_col: str | Iterable[str] | None = None, **kw) -> None:
    """Display an escaped, colour-coded table in a notebook."""
    _display(table_html(df, state_col=state_col, **kw))


def kpis(values: Mapping[str, Any]) -> None:
    """Display KPI tiles in a notebook."""
    _display(kpis_html(values))


def banner(text: str, level: str = "info") -> None:
    """Display a banner (e.g. 'engine unreachable: report degraded')."""
    _display(banner_html(text, level))


def pre(text: str) -> None:
    """Display escaped preformatted text."""
    _display(pre_html(text))


def heading(text: str, level: int = 2) -> None:
    """Display an escaped heading."""
    _display(f"<h{level}>{esc(text)}</h{level}>")
