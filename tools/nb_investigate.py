"""Write notebooks/investigate.ipynb (no outputs, no execution counts). Run: .venv/bin/python tools/nb_investigate.py"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1]

cells = [
    new_markdown_cell(
        "# Investigate a service\n\n"
        "Pick a compose project and a service: its state, health-check outputs, log tail (matched\n"
        "failure signatures highlighted), probe and uptime history, what blocks it and what it blocks,\n"
        "and its recovery plan. **Restart…** / **Start…** asks you to type the service name, then runs\n"
        "the plan through the same guarded, audited path as `runbook plan --apply`.\n\n"
        "Run by papermill (`runbook report investigate`), or with `interactive = False`, it shows static\n"
        "tables and figures and never acts. `interactive = None` means: interactive only inside a\n"
        "JupyterLab / Notebook session."),
    new_code_cell(
        "from typing import Optional\n"
        "engine_url: Optional[str] = None      # Docker engine URL; None: DOCKER_HOST, active context, local socket\n"
        "engine_timeout_s: float = 5.0      # connect/read timeout for engine calls\n"
        "project: Optional[str] = None         # compose project; None: the first one found\n"
        "service: Optional[str] = None         # service to open; None: (static) every service that is not up\n"
        "compose_files: list = []           # compose files; []: from the containers' labels\n"
        "config_path: Optional[str] = None     # runbook.yaml\n"
        "store_path: Optional[str] = None      # history store; None: RUNBOOK_STORE or the default\n"
        "audit_log: Optional[str] = None       # audit log for actions; None: RUNBOOK_AUDIT_LOG or the default\n"
        "tail_lines: int = 200              # log lines to show\n"
        "history_hours: float = 24.0        # probe history window\n"
        "interactive: Optional[bool] = None    # None: widgets in JupyterLab, static under papermill",
        metadata={"tags": ["parameters"]}),
    new_code_cell(
        "from runbook_lib.reports.publish import publish\nfrom runbook_lib.stack import gather\n"
        "from runbook_lib.view import widgets\nfrom runbook_lib.view.panel import Panel\n\n"
        "stack = gather(engine_url, project=project, compose_files=compose_files, config=config_path,\n"
        "               engine_timeout_s=engine_timeout_s)\n"
        "panel = Panel(stack, store_path=store_path, audit_path=audit_log, tail_lines=tail_lines,\n"
        "              history_hours=history_hours, interactive=widgets.detect_interactive(interactive))\n"
        "panel.refresh()\n"
        "publish(panel.summary())"),
    new_code_cell("widgets.show(panel, service)"),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.validate(nb)
for i, c in enumerate(nb.cells):  # stable ids: regenerating gives the same file
    c["id"] = f"c{i:02d}"
out = HERE / "notebooks" / "investigate.ipynb"
nbformat.write(nb, str(out))
print(out)
