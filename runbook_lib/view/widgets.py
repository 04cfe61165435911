"""The investigation panel on screen: ``show`` (widgets in JupyterLab, static under papermill).

The panel's state and callbacks are plain methods of ``runbook_lib.view.panel.Panel`` (tested
without a browser); ``build`` only wires ipywidgets to them, and the HTML of one service
comes from ``panel_html``.

Interactive or static — the rule:
- the notebook parameter ``interactive`` wins when it is True or False;
- when it is None (the default), the panel is interactive only inside a Jupyter server
  session (the kernel has ``JPY_SESSION_NAME``, which JupyterLab / Notebook set) — papermill,
  nbconvert and plain Python get the static rendering;
- the static rendering shows tables and figures, never widgets, and never acts: ``confirm``
  refuses. Even interactively nothing acts without the two-step confirmation (press
  Restart…, then type the service name exactly).
"""
from __future__ import annotations

import html
import os
import re
import threading
import time
from collections.abc import Callable, Mapping

import ipywidgets as W
from IPython import get_ipython
from IPython.display import HTML, display

from runbook_lib import redact
from runbook_lib.view import plots, render
from runbook_lib.view.panel import Panel
from runbook_lib.view.panel_html import service_html


def detect_interactive(explicit: bool | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True for a person in JupyterLab (see the module docstring for the rule)."""
    if explicit is not None:
        return bool(explicit)
    env = os.environ if environ is None else environ
    if not env.get("JPY_SESSION_NAME"):
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def render_static(panel: Panel, service: str | list[str] | None = None) -> list[str]:
    """Display the status table and, per service, its panel and history chart; never acts."""
    shown = panel.static_services(service)
    for note in panel.notes:
        render.banner(note, "warning")
    render.heading(f"Status of {panel.project or 'every container'}", 2)
    render.table(panel.status_table(), state_col=["state", "health"])
    for name in shown:
        view = panel.select_service(name)
        _display_html(service_html(view))
        plots.show(plots.service_history_figure(view.samples, view.intervals, name))
    return shown

def show(panel: Panel, service: str | None = None) -> None:
    """Interactive: display the widget (kept as ``panel.ui``); static: tables and figures."""
    if not panel.interactive:
        render_static(panel, service)
        return
    panel.ui = build(panel, service)
    display(panel.ui)

def build(panel: Panel, service: str | None = None) -> W.VBox:
    """The ipywidgets UI; every callback calls one of the panel's plain methods."""
    project_dd = W.Dropdown(description="project", options=panel.projects(), value=panel.project
                            if panel.project in panel.projects() else None)
    service_dd = W.Dropdown(description="service", options=[""] + panel.services(), value="")
    refresh_btn = W.Button(description="Refresh status", icon="refresh")
    status_out = W.Output(layout={"border": "1px solid #dadce0"})
    panel_out = W.Output()
    action_btn = W.Button(description="Restart…", button_style="warning", disabled=True)
    typed = W.Text(placeholder="type the service name", layout={"display": "none"})
    confirm_btn = W.Button(description="Confirm", button_style="danger", layout={"display": "none"})
    cancel_btn = W.Button(description="Cancel", layout={"display": "none"})
    progress = W.FloatProgress(min=0.0, max=1.0, value=0.0, layout={"display": "none"})
    progress_text = W.HTML()
    message = W.HTML()
    action_out = W.Output()

    def show_status() -> None:
        status_out.clear_output(wait=True)
        with status_out:
            for note in panel.notes:
                render.banner(note, "warning")
            render.table(panel.status_table(), state_col=["state", "health"])

    def confirm_ui(on: bool) -> None:
        for w in (typed, confirm_btn, cancel_btn):
            w.layout.display = None if on else "none"
        if not on:
            typed.value = ""

    def on_refresh(_b=None) -> None:
        current = service_dd.value
        panel.refresh()
        project_dd.options = panel.projects()
        service_dd.options = [""] + panel.services()
        service_dd.value = current if current in service_dd.options else ""
        confirm_ui(False)
        show_status()

    def on_project(change) -> None:
        if change["new"] is None:
            return
        service_dd.options = [""] + panel.select_project(change["new"])
        service_dd.value = ""
        action_btn.disabled = True
        confirm_ui(False)
        panel_out.clear_output()
        show_status()

    def on_service(change) -> None:
        name = change["new"]
        panel_out.clear_output(wait=True)
        confirm_ui(False)
        message.value = ""
        if not name:
            action_btn.disabled = True
            return
        view = panel.select_service(name)
        action_btn.description = f"{(view.action or 'restart').capitalize()}…"
        action_btn.disabled = view.action is None
        with panel_out:
            _display_html(service_html(view))
            plots.show(plots.service_history_figure(view.samples, view.intervals, name))

    def on_arm(_b) -> None:
        message.value = html.escape(panel.arm())
        confirm_ui(panel.armed is not None)

    def on_cancel(_b) -> None:
        message.value = html.escape(panel.cancel())
        confirm_ui(False)

    def on_confirm(_b) -> None:
        plan = panel.armed_plan
        tracker = ProgressTracker(len(plan) if plan is not None else 1)
        progress.max = 1.0
        progress.value = 0.0
        progress.layout.display = None
        action_out.clear_output()
        stop = threading.Event()

        def tick() -> None:  # moves the bar while apply_plan waits for health
            while not stop.wait(0.5):
                progress.value, progress_text.value = tracker.fraction(), html.escape(tracker.text())

        def say(msg: str) -> None:
            tracker.update(msg)
            progress.value, progress_text.value = tracker.fraction(), html.escape(tracker.text())
            with action_out:
                print(redact.mask_text(msg))
        confirm_btn.disabled = True
        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            result = panel.confirm(typed.value, progress=say)
        finally:
            stop.set()
            ticker.join(timeout=2)
            confirm_btn.disabled = False
        progress.value = 1.0 if result.ok else progress.value
        progress_text.value = ""
        message.value = html.escape(result.message)
        if result.log is not None:
            with action_out:
                render.table(result.log[["step", "service", "action", "condition", "outcome", "detail",
                                         "duration_s"]], state_col="outcome")
            confirm_ui(False)
            on_refresh()
            if panel.service:
                on_service({"new": panel.service})

    refresh_btn.on_click(on_refresh)
    project_dd.observe(on_project, names="value")
    service_dd.observe(on_service, names="value")
    action_btn.on_click(on_arm)
    cancel_btn.on_click(on_cancel)
    confirm_btn.on_click(on_confirm)
    show_status()
    if service and service in service_dd.options:
        service_dd.value = service
    controls = W.HBox([project_dd, service_dd, refresh_btn])
    actions_box = W.VBox([W.HBox([action_btn, typed, confirm_btn, cancel_btn]), W.HBox([progress, progress_text]),
                           message, action_out])
    ui = W.VBox([controls, status_out, panel_out, actions_box])
    ui.add_class("rb-investigate")
    return ui


# -- progress while a plan runs ---------------------------------------------------------------

_WAIT_RE = re.compile(r"wait for (?P<service>\S+) to be (?P<condition>\S+) \(up to (?P<timeout>[\d.]+) s\)")


class ProgressTracker:
    """Turns apply_plan's progress messages into a fraction and a line of text (clock injectable)."""

    def __init__(self, steps: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.steps = max(1, int(steps))
        self.done = 0
        self.clock = clock
        self.waiting: tuple[str, str, float, float] | None = None  # service, condition, timeout_s, t0
        self.last = ""

    def update(self, msg: str) -> None:
        """Feed one message (``[wave 1] wait for web to be healthy (up to 33 s) …`` etc.)."""
        self.last = msg
        m = _WAIT_RE.search(msg)
        if m and msg.rstrip().endswith("…"):
            self.waiting = (m["service"], m["condition"], float(m["timeout"]), self.clock())
        elif msg.startswith("[wave") and ": " in msg.split("]", 1)[-1]:
            self.done = min(self.steps, self.done + 1)
            self.waiting = None

    def fraction(self) -> float:
        """Share of the plan done, counting the elapsed part of a wait."""
        part = 0.0
        if self.waiting is not None:
            part = min(1.0, (self.clock() - self.waiting[3]) / max(self.waiting[2], 0.001))
        return min(1.0, (self.done + part * 0.99) / self.steps)

    def text(self) -> str:
        """``waiting for web to be healthy: 4 s of up to 33 s`` or the last message."""
        if self.waiting is not None:
            svc, cond, timeout_s, t0 = self.waiting
            return f"waiting for {svc} to be {cond}: {self.clock() - t0:.0f} s of up to {timeout_s:g} s"
        return f"step {self.done} of {self.steps}"


def _display_html(markup: str) -> None:
    display(HTML(markup))
