"""The investigation panel's state and callbacks, over one gathered ``Stack``.

Everything the widgets do is a plain method of ``Panel`` (``refresh``, ``select_project``,
``select_service``, ``arm``, ``confirm``), so it is tested without a browser; the widgets
(``view/widgets.py``) only call them. A restart/start goes through ``actions.apply_plan``:
the same guarded, audited path as ``runbook plan --apply``. All text from containers is
masked. The static rendering never acts: ``confirm`` refuses.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis import kpis, plan as rplan, signatures
from runbook_lib.analysis.diagnosis import Diagnosis, run_diagnosis
from runbook_lib.compose.catalog import find_compose_files, load_catalog
from runbook_lib.engine import actions, inventory, logs
from runbook_lib.engine.audit import AuditLog
from runbook_lib.history import store
from runbook_lib.stack import Stack, gather

NO_PROJECT = "(no compose project)"
STATIC_REFUSAL = ("static rendering (papermill / report run): this panel never acts; "
                  "open notebooks/investigate.ipynb in JupyterLab to restart a service")


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

    def __init__(self, stack: Stack, *, store_path: str | None = None, audit_path: str | None = None,
                 interactive: bool = False, tail_lines: int = 200, history_hours: float = 24.0) -> None:
        self.stack = stack
        self.client = stack.client
        self.engine_error = stack.engine_error
        self.project = stack.project
        self.store_path = store_path
        self.audit_path = audit_path
        self.interactive = bool(interactive)
        self.tail_lines = int(tail_lines)
        self.history_hours = float(history_hours)
        self.inventory: pd.DataFrame | None = None
        self.catalog = None
        self.status: pd.DataFrame | None = None
        self.diagnosis: Diagnosis | None = None
        self.notes: list[str] = []
        self.service: str | None = None
        self.view: ServiceView | None = None
        self._armed: tuple[str, pd.DataFrame] | None = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def connect(cls, engine_url: str | None = None, engine_timeout_s: float = 5.0, project: str | None = None,
                compose_files: list[str] | None = None, config_path: str | None = None, **kw: Any) -> "Panel":
        """Gather a stack and open a panel on it (degraded, with a note, when the engine is unreachable)."""
        panel = cls(gather(engine_url, project=project, compose_files=compose_files or [], config=config_path,
                           engine_timeout_s=engine_timeout_s), **kw)
        panel.refresh()
        return panel

    # -- data -------------------------------------------------------------------------
    def refresh(self) -> pd.DataFrame:
        """Re-read containers (and the compose catalog when one is known); return the status table."""
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
        self.catalog, self.status, self.diagnosis = None, None, None
        if self.project in (None, NO_PROJECT):
            return
        try:
            self.catalog = self.stack.catalogs.get(self.project)
            if self.catalog is None:  # a project the stack did not load: its files from the labels
                files, project = find_compose_files(self.inventory, project=self.project)
                self.catalog = load_catalog(files, project_name=project, config=self.stack.config)
            # the diagnosis's status: crash loops counted down, exact blocked-by, its root causes
            self.diagnosis = run_diagnosis(replace(
                self.stack, project=self.project, catalog=self.catalog, inventory=self._project_inventory(),
                compose_files=list(self.catalog.files)), tail_lines=100)
            self.status = self.diagnosis.status
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
            tail = logs.read_log_tail(self.client, view.container_id, tail_lines=self.tail_lines)
            view.log_lines = [redact.mask_text(x) for x in tail["log_lines"]]
            view.log_truncated = bool(tail["log_truncated"])
        except Exception as exc:  # noqa: BLE001 - removed meanwhile, engine error: show what we have
            view.notes.append(redact.mask_text(f"log unavailable: {exc}"))

    def _match(self, view: ServiceView) -> None:
        if not view.log_lines:
            return
        ctx = signatures.context_from_catalog(self.catalog, view.service) if self.catalog is not None else \
            signatures.MatchContext(service=view.service)
        for m in signatures.match_lines(view.log_lines, ctx):
            view.matches.append({"line_no": int(m.line_no), "severity": m.severity, "title": m.title,
                                 "cause": m.cause, "fix": m.fix, "line": m.line})

    def _history(self, view: ServiceView) -> None:
        try:
            path = store.resolve_path(self.store_path)
            if not path.exists():
                view.notes.append(f"no probe history yet (no store at {path}): run `runbook collect`")
                return
            since = datetime.now(timezone.utc) - timedelta(hours=self.history_hours)
            with store.open_store(path, readonly=True) as st:
                samples = st.samples(since=since, services=[view.service])
                intervals = st.intervals(since=since, services=[view.service])
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
        if self.catalog is not None and self.status is not None:
            try:
                findings = self.diagnosis.findings if self.diagnosis is not None else None
                files = self.diagnosis.compose_files if self.diagnosis is not None else []
                full = rplan.plan_from_diagnosis(findings, self.status, self.catalog.frame,
                                                 project=self.project, compose_files=files)
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

    @property
    def armed_plan(self) -> pd.DataFrame | None:
        """The plan awaiting confirmation, if any."""
        return self._armed[1] if self._armed else None

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
        """The machine-readable summary for ``publish`` (status degraded when data is missing)."""
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
