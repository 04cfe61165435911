"""Defines notebooks/postmortem.ipynb (run: .venv/bin/python tools/nb_postmortem.py)."""
from pathlib import Path

from nbwrite import write

CELLS = [
    ("md", """
# Postmortem

One incident, written from what runbook recorded while it happened: the state changes in the
history store, the Docker events, the alerts sent and the audit log's actions (who ran what,
dry-run or applied, and the outcome); the root cause as diagnosed when the incident opened;
time to detect and time to recover; the services affected; the compose lint findings that
made it possible; action items. Produced by `runbook report postmortem -p incident ID`
(default: the most recent incident; `runbook incidents` lists them).
"""),
    ("params", """
from typing import Optional
incident: Optional[str] = None        # incident ID (runbook incidents); None: the most recent
start: Optional[str] = None           # or a window: start (ISO time or age such as 2h) …
end: Optional[str] = None             # … and end (ISO time or now)
store_path: Optional[str] = None      # history store; None: RUNBOOK_STORE or the default
alerts_db: Optional[str] = None       # alerts database; None: RUNBOOK_ALERTS_DB or beside the store
audit_log: Optional[str] = None       # audit log; None: RUNBOOK_AUDIT_LOG or the default
engine_url: Optional[str] = None      # Docker engine for events and the compose files
project: Optional[str] = None         # compose project; None: the incident's
compose_files: list = []           # compose files; []: from the containers' labels
config_path: Optional[str] = None     # runbook.yaml
"""),
    ("code", """
from runbook_lib.view import render
from runbook_lib.reports import postmortem, publish as report

pm = postmortem.build(incident, store_path=store_path, alerts_db=alerts_db, audit_log=audit_log,
                      engine_url=engine_url, project=project, compose_files=compose_files, config_path=config_path,
                      start=start, end=end)
if pm is None:
    render.banner("No incident recorded: run `runbook collect --notify URL` (see docs/alerts.md).", "warning")
else:
    render.kpis(pm.metrics)
    for p in pm.problems:
        render.banner(p, "warning")
    report.publish({"incident": pm.incident["id"], "metrics": pm.metrics, "action_items": pm.action_items,
                    "timeline": len(pm.timeline)})
"""),
    ("md", "## Summary\n\n*Write one paragraph: what happened, who was affected, how it was fixed.*"),
    ("md", "## Timeline"),
    ("code", """
if pm is not None:
    render.table(pm.timeline)
"""),
    ("md", """
## Time to detect and to recover, per affected service

From each service's first raw failure sample (before the failure threshold) to its first alert
delivered, and to its recovery; the figures above are the overall ones (first failure of any
service, first alert, last recovery).
"""),
    ("code", """
if pm is not None:
    render.table(pm.timings)
"""),
    ("md", """
## Root causes and evidence (diagnosed when the incident opened)

The whole diagnosis taken when the incident opened (logs and containers may be gone now):
every root cause with all its evidence lines and fix, and the services only blocked by them.
Time to detect runs from the first raw failure sample to the first alert delivered.
"""),
    ("code", """
if pm is not None:
    if pm.snapshot_note:
        render.banner(pm.snapshot_note, "info")
    render.table(pm.root_causes, pre_cols=["evidence"])
    if pm.blocked:
        render.banner(f"{len(pm.blocked)} service(s) only blocked: " + ", ".join(pm.blocked), "info")
    render.table(pm.affected)
"""),
    ("md", "## Compose lint findings that made it possible"),
    ("code", """
if pm is not None and len(pm.lint):
    render.table(pm.lint)
elif pm is not None:
    render.banner("No lint findings (or no compose files).", "info")
"""),
    ("md", "## Action items"),
    ("code", """
if pm is not None:
    render.pre("\\n".join(f"- [ ] {item}" for item in pm.action_items) or "none derived: add your own below")
"""),
    ("md", "## What went well\n\n*…*"),
    ("md", "## What went wrong\n\n*…*"),
    ("md", "## Follow-ups (owner, due date)\n\n*…*"),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / "notebooks" / "postmortem.ipynb", CELLS, "Postmortem")
