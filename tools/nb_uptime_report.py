"""Defines notebooks/uptime_report.ipynb (run: .venv/bin/python tools/nb_uptime_report.py)."""
from pathlib import Path

from nbwrite import write

CELLS = [
    ("md", """
# Uptime report

Measured uptime from the history store that `runbook collect` fills: time-weighted up,
degraded and down shares of the *measured* time, and coverage (the share of the window
with data) beside them. A window with no samples reads "no data", never 0 %. States are
debounced on ingest (consecutive-failure/success thresholds, start-period grace).

Produced by `runbook report uptime_report -p window 7d`.
"""),
    ("params", """
from typing import Optional
window: str = "24h"               # 1h, 24h, 7d, 30d, any duration, or START..END (ISO times)
store_path: Optional[str] = None      # history store; None: RUNBOOK_STORE or ~/.local/share/runbook/history.sqlite3
project: Optional[str] = None         # compose project; None: every service in the store
config_path: Optional[str] = None     # runbook.yaml (tier overrides)
max_lanes: int = 60                # services shown in the timeline and heatmap (worst first)
"""),
    ("code", """
from runbook_lib.view import plots, render
from runbook_lib.reports import uptime as uptime_report
from runbook_lib.reports.publish import publish

r = uptime_report.build(window, store_path=store_path, project=project, config_path=config_path,
                        max_lanes=max_lanes)
for text, level in r.banners():
    render.banner(text, level)
"""),
    ("md", """
## Uptime by tier

`available %` = up + degraded share of the measured time; `coverage %` = share of
the window with data. Time in a maintenance window (`runbook maintenance start`, or
`maintenance:` in runbook.yaml) is measured apart, in the `maintenance` column: it is
neither up nor down, and opens no incident. The 1h/24h/7d/30d columns end now. MTTR: mean duration of
resolved incidents; MTBF: available time per incident.
"""),
    ("code", """
if r.has_data:
    render.kpis(r.kpis)
    for tier, frame in r.tier_tables:
        render.heading(tier, 3)
        render.table(frame, state_col="state")
"""),
    ("md", """
## Availability by hour

Grey cells: no data in that hour.
"""),
    ("code", """
if r.has_data:
    plots.show(plots.uptime_heatmap(r.heatmap))
"""),
    ("md", """
## State timeline

One lane per service; hover a bar for its first error. Maintenance windows are shaded.
"""),
    ("code", """
from runbook_lib.view.resources import maintenance_bands
if r.has_data:
    plots.show(maintenance_bands(plots.state_timeline(r.timeline), r.maintenance))
"""),
    ("md", """
## Probe latency

p50/p95/p99 of successful probes. Exact from raw samples within their retention;
older windows use hourly roll-ups (`source` column).
"""),
    ("code", """
if r.has_data:
    plots.show(plots.latency_percentiles(r.latency))
    render.table(r.latency_table)
"""),
    ("md", """
## Incidents

Contiguous down periods overlapping the window (start, end or ongoing).
"""),
    ("code", """
if r.has_data:
    render.table(r.incidents_table, state_col="status")
"""),
    ("code", """
publish(r.summary())
"""),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / "notebooks" / "uptime_report.ipynb", CELLS, "Uptime report")
