"""The investigation panel behind ``notebooks/investigate.ipynb`` (ipywidgets in JupyterLab).

Everything the widgets do is a plain method of ``Panel`` (``refresh``, ``select_project``,
``select_service``, ``arm``, ``confirm``, ``render_static``), so it is tested without a
browser; ``Panel.widget()`` only wires ipywidgets to those methods.

Interactive or static — the rule:
- the notebook parameter ``interactive`` wins when it is True or False;
- when it is None (the default), the panel is interactive only inside a Jupyter server
  session (the kernel has ``JPY_SESSION_NAME``, which JupyterLab / Notebook set) — papermill,
  nbconvert and plain Python get the static rendering;
- the static rendering shows tables and figures, never widgets, and never acts: ``confirm``
  refuses. Even interactively nothing acts without the two-step confirmation (press
  Restart…, then type the service name exactly).

A restart/start goes through ``actions.apply_plan``: the same guarded, audited path as
``runbook plan --apply``. All text from containers is masked and HTML-escaped.
"""
from __future__ import annotations

import html
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.view import render

NO_PROJECT = "(no compose project)"
STATIC_REFUSAL = ("static rendering (papermill / report run): this panel never acts; "
                  "open notebooks/investigate.ipynb in JupyterLab to restart a service")


def detect_interactive(explicit: bool | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True for a person in JupyterLab (see the module docstring for the rule)."""
    if explicit is not None:
        return bool(explicit)
    env = os.environ if environ is None else environ
    if not env.get("JPY_SESSION_NAME"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel ships IPython
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, dict, tuple)) else False
    except (TypeError, ValueError):
        return False


@dataclass
class ServiceView:
    """What the panel shows for one service (all text masked)."""

    project: str | None
    service: str
    container: str | None = None
    container_id: str | None = None
    state: str = "not-created"
    health: str = "none"
    actual: str | None = None
    restart_count: int = 0
    exit_code: int | None = None
    health_log: list[dict] = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    log_truncated: bool = False
    matches: list[dict] = field(default_factory=list)
    blocked_by: list[str] | None = None
    blocks: list[str] | None = None
    plan: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    intervals: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def action(self) -> str | None:
        """The mutating action of its plan (start / restart / unpause), or None."""
        if self.plan is None or len(self.plan) == 0:
            return None
        acts = [a for a in self.plan["action"] if a != "wait"]
        return str(acts[0]) if acts else None


@dataclass
class ActionResult:
    """What a confirmation did: ok, a message for the person, the execution log (or None)."""

    ok: bool
    message: str
    log: pd.DataFrame | None = None


class Panel:
    """Investigation state and callbacks; I/O only through the client, the store and apply_plan."""

    def __init__(self, client=None, project: str | None = None, compose_files: list[str] | None = None,
                 store_path: str | None = None, audit_path: str | None = None, interactive: bool = False,
                 tail_lines: int = 200, history_hours: float = 24.0, engine_error: Exception | None = None,
                 config_path: str | None = None) -> None:
        self.client = client
        self.project = project
        self.compose_files = list(compose_files or [])
        self.store_path = store_path
        self.audit_path = audit_path
        self.interactive = bool(interactive)
        self.tail_lines = int(tail_lines)
        self.history_hours = float(history_hours)
        self.engine_error = engine_error
        self.config_path = config_path
        self.inventory: pd.DataFrame | None = None
        self.catalog = None
        self.status: pd.DataFrame | None = None
        self.notes: list[str] = []
        self.service: str | None = None
        self.view: ServiceView | None = None
        self._armed: tuple[str, pd.DataFrame] | None = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def connect(cls, engine_url: str | None = None, engine_timeout_s: float = 5.0, **kw: Any) -> "Panel":
        """A panel on the engine at ``engine_url`` (degraded, with a note, when it is unreachable)."""
        from runbook_lib.engine.connection import try_connect
        client, error = try_connect(engine_url, engine_timeout_s)
        panel = cls(client=client, engine_error=error, **kw)
        panel.refresh()
        return panel

    # -- data -------------------------------------------------------------------------
    def refresh(self) -> pd.DataFrame:
        """Re-read containers (and the compose catalog when one is known); return the status table."""
        from runbook_lib.engine import inventory
        self.notes = []
        if self.engine_error is not None:
            self.notes.append(redact.mask_text(f"engine unreachable: {self.engine_error}"))
        if self.client is None:
            self.inventory = inventory.empty_inventory()
        else:
            self.inventory = inventory.gather_inventory(self.client)
            self.notes.extend(self.inventory.attrs.get("notes", []))
        if self.project is None:
            projects = self.projects()
            self.project = projects[0] if projects else None
        self._load_status()
        self._armed = None
        return self.status_table()

    def _project_inventory(self) -> pd.DataFrame:
        inv = self.inventory
        if inv is None or len(inv) == 0:
            return inv if inv is not None else pd.DataFrame()
        if self.project in (None, NO_PROJECT):
            return inv[inv["project"].isna()] if self.project == NO_PROJECT else inv
        return inv[inv["project"] == self.project]

    def _load_status(self) -> None:
        """Catalog ⨝ inventory for the current project; degrade to the inventory alone."""
        self.catalog, self.status = None, None
        if self.project in (None, NO_PROJECT):
            return
        try:
            from runbook_lib.compose import catalog as compose
            from runbook_lib.analysis.expected import expected_vs_actual
            files = list(self.compose_files)
            project = self.project
            if not files:
                files, project = compose.find_compose_files(self.inventory, project=self.project)
            kw: dict[str, Any] = {"project_name": project}
            if self.config_path:
                kw["config"] = self.config_path
            self.catalog = compose.load_catalog(files, **kw)
            self.status = expected_vs_actual(self.catalog.frame, self.inventory, project=self.project)
        except Exception as exc:  # noqa: BLE001 - compose files missing or broken: show containers only
            self.notes.append(redact.mask_text(
                f"no compose catalog for {self.project} ({exc}); 'blocked by' and plans use the containers only"))

    def projects(self) -> list[str]:
        """Compose projects with containers (plus NO_PROJECT for containers outside compose)."""
        inv = self.inventory
        if inv is None or len(inv) == 0:
            return [self.project] if self.project else []
        names = sorted({str(p) for p in inv["project"].dropna()})
        if inv["project"].isna().any():
            names.append(NO_PROJECT)
        if self.project and self.project not in names:
            names.insert(0, self.project)
        return names

    def services(self) -> list[str]:
        """Services of the current project (catalog services first, then any extra containers)."""
        names: list[str] = []
        if self.status is not None:
            names.extend(str(s) for s in self.status["service"])
        inv = self._project_inventory()
        if len(inv):
            names.extend(str(s) for s in inv["service"].fillna(inv["name"]))
        return sorted(dict.fromkeys(names))

    def select_project(self, project: str | None) -> list[str]:
        """Switch project; return its services."""
        self.project = project
        self.service, self.view, self._armed = None, None, None
        self._load_status()
        return self.services()

    def status_table(self) -> pd.DataFrame:
        """One row per service of the project, worst first (escaped later by render)."""
        if self.status is not None and len(self.status):
            df = self.status
            out = pd.DataFrame({
                "service": df["service"], "container": df["container"], "state": df["actual"],
                "health": df["health"], "restarts": df["restart_count"],
                "blocked by": [", ".join(x) if isinstance(x, list) else "" for x in df["blocked_by"]],
                "blocks": [", ".join(x) if isinstance(x, list) else "" for x in df["blocks"]],
                "detail": df["detail"],
            })
            order = {"not-created": 0, "dead": 0, "exited": 1, "restarting": 1, "running-unhealthy": 1,
                     "created": 2, "paused": 2, "running-starting": 3}
            out = out.assign(_o=out["state"].map(order).fillna(9)).sort_values(["_o", "service"], kind="stable")
            return out.drop(columns="_o").reset_index(drop=True)
        from runbook_lib.engine import inventory
        inv = self._project_inventory()
        if inv is None or len(inv) == 0:
            return pd.DataFrame(columns=["service", "container", "state", "health", "restarts"])
        table = inventory.status_table(inv)
        return table.drop(columns=[c for c in ("command", "image", "last health output") if c in table.columns])

    def _container_row(self, service: str) -> pd.Series | None:
        inv = self._project_inventory()
        if inv is None or len(inv) == 0:
            return None
        rows = inv[(inv["service"] == service) | (inv["name"] == service)]
        if len(rows) == 0 and self.status is not None:
            st = self.status[self.status["service"] == service]
            if len(st) and not _missing(st.iloc[0]["container"]):
                rows = inv[inv["name"] == st.iloc[0]["container"]]
        if len(rows) == 0:
            return None
        running = rows[rows["state"] == "running"]
        return (running if len(running) else rows).iloc[0]

    def _status_row(self, service: str) -> pd.Series | None:
        if self.status is None:
            return None
        st = self.status[self.status["service"] == service]
        return st.iloc[0] if len(st) else None

    def select_service(self, service: str) -> ServiceView:
        """Gather everything the panel shows for one service (disarms any pending action)."""
        self.service = service
        self._armed = None
        c = self._container_row(service)
        st = self._status_row(service)
        view = ServiceView(project=None if self.project == NO_PROJECT else self.project, service=service)
        if c is not None:
            view.container = str(c["name"])
            view.container_id = str(c["id"])
            view.state = str(c["state"])
            view.health = str(c["health"])
            view.restart_count = int(c["restart_count"] or 0)
            view.exit_code = None if _missing(c["exit_code"]) else int(c["exit_code"])
            view.health_log = list(c["health_log"]) if isinstance(c["health_log"], list) else []
            view.labels = redact.mask_obj(dict(c["labels"])) if isinstance(c["labels"], dict) else {}
        if st is not None:
            view.actual = str(st["actual"])
            view.blocked_by = list(st["blocked_by"]) if isinstance(st["blocked_by"], list) else []
            view.blocks = list(st["blocks"]) if isinstance(st["blocks"], list) else []
        self._read_logs(view)
        self._match(view)
        self._history(view)
        view.plan = self.plan_for(service, view)
        self.view = view
        return view

    def _read_logs(self, view: ServiceView) -> None:
        if self.client is None or not view.container_id:
            view.notes.append("no log: " + ("engine unreachable" if self.client is None else "no container"))
            return
        try:
            from runbook_lib.engine import logs
            tail = logs.read_log_tail(self.client, view.container_id, tail_lines=self.tail_lines)
            view.log_lines = [redact.mask_text(x) for x in tail["log_lines"]]
            view.log_truncated = bool(tail["log_truncated"])
        except Exception as exc:  # noqa: BLE001 - removed meanwhile, engine error: show what we have
            view.notes.append(redact.mask_text(f"log unavailable: {exc}"))

    def _match(self, view: ServiceView) -> None:
        if not view.log_lines:
            return
        try:
            from runbook_lib.analysis import signatures
        except ImportError:
            view.notes.append("log signatures unavailable (runbook_lib.analysis.signatures missing)")
            return
        ctx = signatures.context_from_catalog(self.catalog, view.service) if self.catalog is not None else \
            signatures.MatchContext(service=view.service)
        for m in signatures.match_lines(view.log_lines, ctx):
            view.matches.append({"line_no": int(m.line_no), "severity": m.severity, "title": m.title,
                                 "cause": m.cause, "fix": m.fix, "line": m.line})

    def _history(self, view: ServiceView) -> None:
        try:
            from runbook_lib.history import store
            path = store.resolve_path(self.store_path)
            if not path.exists():
                view.notes.append(f"no probe history yet (no store at {path}): run `runbook collect`")
                return
            since = datetime.now(timezone.utc) - timedelta(hours=self.history_hours)
            with store.open_store(path, readonly=True) as st:
                samples = st.samples(since=since, services=[view.service])
                intervals = st.intervals(since=since, services=[view.service])
        except ImportError:
            view.notes.append("probe history unavailable (runbook_lib.history.store missing)")
            return
        except Exception as exc:  # noqa: BLE001 - a store problem must not hide the rest of the panel
            view.notes.append(redact.mask_text(f"probe history unavailable: {exc}"))
            return
        if view.project and "project" in samples.columns:
            samples = samples[samples["project"] == view.project]
            intervals = intervals[intervals["project"] == view.project]
        view.samples, view.intervals = samples, intervals

    # -- plan and action ----------------------------------------------------------------
    def plan_for(self, service: str, view: ServiceView | None = None) -> pd.DataFrame:
        """This service's own recovery steps; a restart (or start) + wait when it needs none."""
        from runbook_lib.analysis import plan as rplan
        if self.catalog is not None and self.status is not None:
            try:
                full = rplan.recovery_plan(self.catalog.frame, self.status, project=self.project)
                own = full[full["service"] == service]
                if len(own):
                    own = own.copy()
                    own["wave"] = 1
                    own["step"] = range(1, len(own) + 1)
                    return own.reset_index(drop=True)
            except Exception as exc:  # noqa: BLE001 - a broken catalog: fall back to the container
                self.notes.append(redact.mask_text(f"recovery plan unavailable: {exc}"))
        view = view or self.view
        state = view.state if view is not None else "not-created"
        container = view.container if view is not None else None
        healthcheck = None
        if self.catalog is not None:
            row = self.catalog.frame[self.catalog.frame["service"] == service]
            if len(row):
                healthcheck = row.iloc[0].get("healthcheck")
        c = self._container_row(service)
        has_hc = bool(healthcheck) or (c is not None and bool(c["has_healthcheck"]))
        condition = "healthy" if has_hc else "started"
        action = {"running": "restart", "restarting": "restart", "paused": "unpause"}.get(state, "start")
        if container is None:
            proj = f" -p {self.project}" if self.project and self.project != NO_PROJECT else ""
            command, manual = f"docker compose{proj} up -d {service}", True
        else:
            command, manual = f"docker {action} {container}", False
        rows = [
            {"wave": 1, "step": 1, "service": service, "container": container, "action": action,
             "condition": None, "timeout_s": None, "reason": f"requested from the investigation panel ({state})",
             "depends_on": [], "manual": manual, "command": command},
            {"wave": 1, "step": 2, "service": service, "container": container, "action": "wait",
             "condition": condition, "timeout_s": rplan.wait_timeout_s(healthcheck, condition),
             "reason": f"wait until {condition}", "depends_on": [], "manual": False, "command": None},
        ]
        return pd.DataFrame(rows, columns=rplan.STEP_COLUMNS)

    def arm(self) -> str:
        """Step one of the confirmation: remember the plan shown; ask for the service name."""
        if not self.interactive:
            return STATIC_REFUSAL
        if self.service is None or self.view is None:
            return "choose a service first"
        plan = self.view.plan if self.view.plan is not None else self.plan_for(self.service)
        if plan is None or len(plan) == 0:
            return f"nothing to do for {self.service}"
        self._armed = (self.service, plan)
        action = self.view.action or "wait"
        return (f"to {action} {self.service} type its name exactly and press Confirm "
                f"({len(plan)} step(s), audited; nothing else is touched)")

    def cancel(self) -> str:
        """Drop a pending confirmation."""
        self._armed = None
        return "cancelled: nothing was done"

    @property
    def armed(self) -> str | None:
        """The service awaiting confirmation, if any."""
        return self._armed[0] if self._armed else None

    def confirm(self, typed: str, progress: Callable[[str], None] | None = None) -> ActionResult:
        """Step two: when ``typed`` is exactly the armed service's name, apply its plan (audited)."""
        if not self.interactive:
            return ActionResult(False, STATIC_REFUSAL)
        if self._armed is None:
            return ActionResult(False, "press Restart… first: nothing was done")
        service, plan = self._armed
        if (typed or "").strip() != service:
            return ActionResult(False, f"typed {redact.mask_text(str(typed))!r} is not {service!r}: nothing was done")
        if self.client is None:
            self._armed = None
            return ActionResult(False, "engine unreachable: nothing was done")
        from runbook_lib.engine import actions
        from runbook_lib.engine.audit import AuditLog
        self._armed = None
        log = actions.apply_plan(self.client, plan, catalog=self.catalog, audit=AuditLog(self.audit_path),
                                 progress=progress or (lambda _m: None))
        status = log.attrs.get("status", "?")
        ok = status == "complete"
        msg = f"{service}: plan {status}" + ("" if ok else f" at {log.attrs.get('stopped_at')}") + \
              f"; audit log {log.attrs.get('audit_log')}"
        return ActionResult(ok, redact.mask_text(msg), log)

    # -- rendering ----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The machine-readable summary for ``report.publish`` (status degraded when data is missing)."""
        from runbook_lib.analysis import kpis
        inv = self._project_inventory()
        k = kpis.summary_kpis(inv) if inv is not None and len(inv.columns) else kpis.summary_kpis(
            pd.DataFrame(columns=["state", "has_healthcheck", "health", "exit_code", "oom_killed", "restart_count"]))
        reasons = [n for n in self.notes if n.startswith("engine unreachable")]
        out: dict[str, Any] = {"project": self.project, "kpis": k, "interactive": self.interactive,
                               "services": self.services()}
        if reasons:
            out.update({"status": "degraded", "degraded_reasons": reasons})
        return out

    def static_services(self, service: str | list[str] | None = None, limit: int = 5) -> list[str]:
        """Which services a static rendering details: the asked ones, else those not up (at most ``limit``)."""
        if service:
            return [service] if isinstance(service, str) else list(service)
        table = self.status_table()
        if len(table) == 0:
            return []
        bad = [str(s) for s, st, h in zip(table["service"], table["state"], table["health"])
               if str(st) not in ("running", "running-healthy", "running-no-healthcheck")
               or str(h) in ("unhealthy", "starting")]
        return (bad or [str(table["service"].iloc[0])])[:limit]

    def render_static(self, service: str | list[str] | None = None) -> list[str]:
        """Display the status table and, per service, its panel and history chart; never acts."""
        from runbook_lib.view import plots
        shown = self.static_services(service)
        for note in self.notes:
            render.banner(note, "warning")
        render.heading(f"Status of {self.project or 'every container'}", 2)
        render.table(self.status_table(), state_col=["state", "health"])
        for name in shown:
            view = self.select_service(name)
            _display_html(service_html(view))
            plots.show(plots.service_history_figure(view.samples, view.intervals, name))
        return shown

    def show(self, service: str | None = None) -> None:
        """Interactive: display the widget (kept as ``self.ui``); static: tables and figures."""
        if not self.interactive:
            self.render_static(service)
            return
        from IPython.display import display
        self.ui = self.widget(service)
        display(self.ui)

    def widget(self, service: str | None = None):
        """The ipywidgets UI; every callback calls one of the plain methods above."""
        import ipywidgets as W

        from runbook_lib.view import plots

        project_dd = W.Dropdown(description="project", options=self.projects(), value=self.project
                                if self.project in self.projects() else None)
        service_dd = W.Dropdown(description="service", options=[""] + self.services(), value="")
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
                for note in self.notes:
                    render.banner(note, "warning")
                render.table(self.status_table(), state_col=["state", "health"])

        def confirm_ui(on: bool) -> None:
            for w in (typed, confirm_btn, cancel_btn):
                w.layout.display = None if on else "none"
            if not on:
                typed.value = ""

        def on_refresh(_b=None) -> None:
            current = service_dd.value
            self.refresh()
            project_dd.options = self.projects()
            service_dd.options = [""] + self.services()
            service_dd.value = current if current in service_dd.options else ""
            confirm_ui(False)
            show_status()

        def on_project(change) -> None:
            if change["new"] is None:
                return
            service_dd.options = [""] + self.select_project(change["new"])
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
            view = self.select_service(name)
            action_btn.description = f"{(view.action or 'restart').capitalize()}…"
            action_btn.disabled = view.action is None
            with panel_out:
                _display_html(service_html(view))
                plots.show(plots.service_history_figure(view.samples, view.intervals, name))

        def on_arm(_b) -> None:
            message.value = html.escape(self.arm())
            confirm_ui(self.armed is not None)

        def on_cancel(_b) -> None:
            message.value = html.escape(self.cancel())
            confirm_ui(False)

        def on_confirm(_b) -> None:
            plan = self._armed[1] if self._armed else None
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
                result = self.confirm(typed.value, progress=say)
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
                if self.service:
                    on_service({"new": self.service})

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


# -- HTML (pure) ---------------------------------------------------------------------------

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


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display
    display(HTML(markup))
