"""The investigation panel's HTML for one service (pure; every text masked and escaped)."""
from __future__ import annotations

import html

import pandas as pd

from runbook_lib import redact
from runbook_lib.view import render
from runbook_lib.view.panel import ServiceView

_PANEL_CSS = """<style>
.rb-panel h3{margin:.6em 0 .2em}.rb-panel h4{margin:.8em 0 .2em}
.rb-log{white-space:pre-wrap;font:12px/1.35 monospace;background:#f8f9fa;padding:6px;margin:0;max-height:28em;overflow:auto}
.rb-log mark{display:block;background:#fce8e6;color:inherit}
.rb-log mark.rb-sev-medium,.rb-log mark.rb-sev-low{background:#fef7e0}
</style>"""


def highlight_log(lines: list[str], matches: list[dict]) -> str:
    """The log tail as escaped HTML; lines a signature matched are wrapped in <mark> (pure)."""
    by_line = {int(m["line_no"]): m for m in matches}
    out = []
    for i, line in enumerate(lines):
        text = html.escape(redact.mask_text(line))
        m = by_line.get(i)
        if m is not None:
            title = html.escape(f"{m['title']} ({m['severity']}): {m['fix']}", quote=True)
            sev = html.escape(str(m["severity"]), quote=True)
            out.append(f'<mark class="rb-sig rb-sev-{sev}" title="{title}">{text}</mark>')
        else:
            out.append(text + "\n")
    return f'<pre class="rb-log">{"".join(out)}</pre>'


def service_html(view: ServiceView) -> str:
    """The panel for one service as escaped HTML (pure)."""
    e = render.esc
    parts = [_PANEL_CSS, f'<div class="rb-panel" data-service="{html.escape(view.service, quote=True)}">',
             f"<h3>{e(view.service)}" + (f" <small>({e(view.container)})</small>" if view.container else "") + "</h3>",
             f"<p>state {render.pill(view.actual or view.state)} health {render.pill(view.health)} "
             f"restarts <b>{e(view.restart_count)}</b>"
             + (f" exit code <b>{e(view.exit_code)}</b>" if view.exit_code is not None else "") + "</p>"]
    for note in view.notes:
        parts.append(render.banner_html(note, "warning"))
    if view.blocked_by is None:
        parts.append("<h4>Blocked by / blocks</h4><p>unknown: no compose catalog for this project</p>")
    else:
        parts.append(f"<h4>Blocked by</h4><p>{e(', '.join(view.blocked_by)) or 'nothing'}</p>")
        parts.append(f"<h4>Blocks</h4><p>{e(', '.join(view.blocks or [])) or 'nothing'}</p>")
    parts.append("<h4>Health-check outputs</h4>")
    if view.health_log:
        hl = pd.DataFrame(view.health_log, columns=["start", "exit_code", "output"])
        parts.append(render.table_html(hl, pre_cols=["output"]))
    else:
        parts.append("<p>no health check output</p>")
    cut = " (truncated)" if view.log_truncated else ""
    parts.append(f"<h4>Log tail: {len(view.log_lines)} lines{cut}, {len(view.matches)} matched</h4>")
    parts.append(highlight_log(view.log_lines, view.matches) if view.log_lines else "<p>no log lines</p>")
    if view.matches:
        mt = pd.DataFrame(view.matches)[["severity", "title", "cause", "fix", "line"]]
        parts.append(render.table_html(mt, severity_col="severity"))
    if view.labels:
        lt = pd.DataFrame(sorted(view.labels.items()), columns=["label", "value"])
        parts.append(f"<details><summary>{len(view.labels)} labels</summary>{render.table_html(lt)}</details>")
    parts.append("<h4>Recovery plan</h4>")
    if view.plan is not None and len(view.plan):
        cols = ["step", "action", "condition", "timeout_s", "reason", "command"]
        parts.append(render.table_html(view.plan, columns=cols))
    else:
        parts.append("<p>nothing to do</p>")
    parts.append("</div>")
    return "".join(parts)
