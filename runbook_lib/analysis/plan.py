"""The recovery plan: which services to start or restart, in which order, and what to wait for.

``recovery_plan(catalog_frame, status_frame)`` is pure: the compose dependency graph
(``graphlib.TopologicalSorter``) and the expected-vs-actual frame in, ordered steps out.

Rules:
- Only what needs it: created / exited / dead / not-created -> start (not-created is a
  manual step: ``docker compose up -d <svc>``, a container cannot be created without
  compose); running-unhealthy / restarting -> restart; paused -> unpause;
  running-starting -> wait only. Services that are up, a one-shot job that completed
  (exit 0, awaited with service_completed_successfully) and services whose profile is not
  active get no step.
- Dependencies first: a service's wave is one more than the latest wave of anything it
  depends on, directly or through services that need no step.
- Every start/restart is followed by a wait: ``completed`` when a dependent waits with
  service_completed_successfully, else ``healthy`` when it has a healthcheck, else
  ``started``. The wait's timeout is interval*retries + start_period + timeout from the
  healthcheck (Docker defaults 30 s * 3 when unset), at least MIN_TIMEOUT_S; 30 s for
  ``started``, 300 s for ``completed``; ``budget_s`` overrides all of them.
- A service that is fine is NOT restarted because a dependency is restarted, unless its
  ``depends_on`` entry says ``restart: true`` (as docker compose does).
- A required dependency missing from the catalog, or a cycle, raises ComposeError.

``plan_from_diagnosis(findings, status, catalog_frame, ...)`` builds on it from the
diagnosis: each root-cause finding gets a remedy class (``analysis.remedy``); a service
whose remedy is not *restart* gets a manual ``fix`` step (the fix and its evidence), then
``build`` (rebuild, when the service has a ``build:`` section) and ``recreate``
(``docker compose -p P -f … up -d --no-deps SVC``) instead of a start or restart, then its
wait; *external* keeps its start/restart after the fix. Dependents sit in later waves;
within a wave, services that need no person come first. The plan's root causes are the
diagnosis's. ``plan_stack(stack)`` runs the diagnosis and plans from it.
"""
from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from runbook_lib.analysis.diagnosis import Diagnosis, run_diagnosis
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.fold import root_services
from runbook_lib.analysis.frames import as_list as _list, is_missing as _is_missing
from runbook_lib.analysis.remedy import finding_id, fix_text, remedy_for
from runbook_lib.exceptions import ComposeError, RunbookError
from runbook_lib.stack import Stack

STEP_COLUMNS = ["wave", "step", "service", "container", "action", "condition", "timeout_s", "reason",
                "depends_on", "manual", "command"]
DIAGNOSIS_COLUMNS = ["remedy", "finding"]  # added by plan_from_diagnosis
ACTIONS = ("fix", "build", "recreate", "start", "restart", "unpause", "wait")
CONDITIONS = {"service_healthy": "healthy", "service_started": "started",
              "service_completed_successfully": "completed"}
DEFAULT_HC_INTERVAL_S = 30.0
DEFAULT_HC_RETRIES = 3
DEFAULT_STARTED_TIMEOUT_S = 30.0
DEFAULT_COMPLETED_TIMEOUT_S = 300.0  # one-shot jobs (migrations) run longer than a start
MIN_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 900.0

_ACTION_FOR = {"created": "start", "exited": "start", "dead": "start", "not-created": "start",
               "running-unhealthy": "restart", "restarting": "restart", "paused": "unpause",
               "running-starting": "wait"}


def wait_timeout_s(healthcheck: Any, condition: str) -> float:
    """Seconds to wait for a service: from its healthcheck for 'healthy', a default otherwise."""
    if condition == "completed":
        return DEFAULT_COMPLETED_TIMEOUT_S
    if condition != "healthy" or not isinstance(healthcheck, Mapping):
        return DEFAULT_STARTED_TIMEOUT_S
    interval = _num(healthcheck.get("interval_s"), DEFAULT_HC_INTERVAL_S)
    retries = _num(healthcheck.get("retries"), DEFAULT_HC_RETRIES)
    start_period = _num(healthcheck.get("start_period_s"), 0.0)
    timeout = _num(healthcheck.get("timeout_s"), 0.0)
    value = interval * retries + start_period + timeout
    return float(min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, value)))


def _num(v: Any, default: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return default if f != f or f <= 0 else f


def _deps(catalog_frame: pd.DataFrame) -> dict[str, list[dict]]:
    """service -> normalised depends_on entries; a missing required dependency raises."""
    names = set(catalog_frame["service"].astype(str))
    out: dict[str, list[dict]] = {}
    files = catalog_frame["file"] if "file" in catalog_frame.columns else [None] * len(catalog_frame)
    for svc, deps, file in zip(catalog_frame["service"].astype(str), catalog_frame["depends_on"], files):
        entries = []
        for d in _list(deps):
            if not isinstance(d, Mapping):
                d = {"service": str(d)}
            target = str(d.get("service"))
            required = d.get("required")
            required = True if _is_missing(required) else bool(required)
            if target not in names:
                if required:
                    raise ComposeError(
                        f"depends on '{target}', which is not in the catalog",
                        file=None if _is_missing(file) else str(file), service=svc,
                        fix=f"add the compose file that defines '{target}' (--compose / -f), enable its "
                            f"profile, or mark the dependency 'required: false'.")
                continue
            entries.append({"service": target,
                            "condition": CONDITIONS.get(str(d.get("condition") or "service_started"), "started"),
                            "restart": bool(d.get("restart")) if not _is_missing(d.get("restart")) else False})
        out[svc] = entries
    return out


def topological_order(deps: Mapping[str, list[dict]]) -> list[str]:
    """Dependencies first; a cycle raises ComposeError naming its members."""
    ts = graphlib.TopologicalSorter({s: [d["service"] for d in ds] for s, ds in deps.items()})
    try:
        return list(ts.static_order())
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1]) if len(exc.args) > 1 else []
        chain = " -> ".join(str(c) for c in reversed(cycle)) if cycle else "?"
        raise ComposeError(f"dependency cycle: {chain}", service=str(cycle[0]) if cycle else None,
                           fix="remove one of these depends_on entries so the services can start in order.") from None


def recovery_plan(catalog_frame: pd.DataFrame, status_frame: pd.DataFrame, budget_s: float | None = None,
                  project: str | None = None) -> pd.DataFrame:
    """Ordered steps (wave by wave, dependencies first) that bring the stack back; pure."""
    deps = _deps(catalog_frame)
    order = topological_order(deps)
    scols = [c for c in ("service", "actual", "expected", "is_up", "container", "detail") if c in status_frame.columns]
    status = {str(r["service"]): r for r in status_frame[scols].to_dict("records")} if len(status_frame) else {}
    cat = {str(s): hc for s, hc in zip(catalog_frame["service"], catalog_frame["healthcheck"])}

    # what each service needs, before restart propagation
    action: dict[str, str] = {}
    reason: dict[str, str] = {}
    for svc in order:
        st = status.get(svc)
        actual = "not-created" if st is None else str(st.get("actual"))
        expected = True if st is None or _is_missing(st.get("expected")) else bool(st.get("expected"))
        if not expected:
            continue
        if st is not None and bool(st.get("is_up")):
            continue
        a = _ACTION_FOR.get(actual)
        if a is None:
            continue
        action[svc] = a
        reason[svc] = _reason(actual, st)
    # depends_on restart: true -> a healthy dependent restarts after its dependency does
    for svc in order:
        if svc in action:
            continue
        for d in deps[svc]:
            if d["restart"] and action.get(d["service"]) in ("start", "restart", "unpause"):
                st = status.get(svc)
                if st is not None and str(st.get("actual")) in ("running-healthy", "running-no-healthcheck",
                                                                 "running-starting"):
                    action[svc] = "restart"
                    reason[svc] = f"depends_on '{d['service']}' with restart: true"
                    break

    # waves: 1 + latest wave among dependencies (services without a step pass theirs through)
    level: dict[str, int] = {}
    for svc in order:
        below = max((level[d["service"]] for d in deps[svc]), default=0)
        level[svc] = below + 1 if svc in action else below
    waves = {lv: i + 1 for i, lv in enumerate(sorted({level[s] for s in action}))}

    needs: dict[str, set[str]] = {}
    for svc, ds in deps.items():
        for d in ds:
            needs.setdefault(d["service"], set()).add(d["condition"])

    position = {s: i for i, s in enumerate(order)}
    rows = []
    for svc in sorted(action, key=lambda s: (level[s], position[s])):
        st = status.get(svc)
        hc = cat[svc]
        has_hc = isinstance(hc, Mapping) and bool(hc) and str(_first(hc.get("test"))).upper() != "NONE"
        if "completed" in needs.get(svc, set()):
            condition = "completed"
        elif has_hc:
            condition = "healthy"
        else:
            condition = "started"
        timeout = float(budget_s) if budget_s else wait_timeout_s(hc, condition)
        container = None
        if st is not None and not _is_missing(st.get("container")) and str(st.get("actual")) != "not-created":
            container = str(st.get("container"))
        manual = container is None and action[svc] != "wait"
        dep_names = [d["service"] for d in deps[svc]]
        base = {"wave": waves[level[svc]], "service": svc, "container": container, "depends_on": dep_names}
        if action[svc] != "wait":
            cmd = _command(action[svc], svc, container, project)
            rows.append({**base, "action": action[svc], "condition": None, "timeout_s": None,
                         "reason": reason[svc] + (f"; needs `{cmd}` (runbook does not create containers)"
                                                  if manual else ""),
                         "manual": manual, "command": cmd})
        rows.append({**base, "action": "wait", "condition": condition, "timeout_s": timeout,
                     "reason": f"wait until {condition}" + (f" (needed by dependents: "
                                                             f"{', '.join(sorted(needs[svc]))})" if svc in needs else ""),
                     "manual": False, "command": None})
    df = pd.DataFrame(rows, columns=[c for c in STEP_COLUMNS if c != "step"], dtype=object)
    df.insert(1, "step", range(1, len(df) + 1))
    df = df[STEP_COLUMNS].astype({"wave": int, "step": int, "manual": bool})
    df.attrs["order"] = order
    return df


def _first(test: Any) -> Any:
    if isinstance(test, (list, tuple)):
        return test[0] if test else ""
    return test or ""


def _reason(actual: str, st: Any) -> str:
    if st is None:
        return "not created"
    detail = "" if _is_missing(st.get("detail")) else str(st.get("detail") or "")
    text = {"created": "created, never started", "exited": "exited", "dead": "dead",
            "not-created": "not created", "running-unhealthy": "unhealthy", "restarting": "restart loop",
            "paused": "paused", "running-starting": "health check still starting"}.get(actual, actual)
    if not detail or detail == "no container":
        return text
    return detail if detail.startswith(text) else f"{text} ({detail})"


def _command(action: str, service: str, container: str | None, project: str | None) -> str:
    """The equivalent docker command (for humans; the plan runs through the API)."""
    if container is None:
        proj = f" -p {project}" if project else ""
        return f"docker compose{proj} up -d {service}"
    return f"docker {action} {container}"


def plan_summary(plan: pd.DataFrame) -> dict[str, Any]:
    """Counts for a KPI header and the report JSON."""
    acts = plan[plan["action"] != "wait"] if len(plan) else plan
    return {
        "steps": int(len(plan)),
        "waves": int(plan["wave"].max()) if len(plan) else 0,
        "services": sorted(set(plan["service"])) if len(plan) else [],
        "starts": int((acts["action"] == "start").sum()) if len(acts) else 0,
        "restarts": int((acts["action"] == "restart").sum()) if len(acts) else 0,
        "fixes": int((acts["action"] == "fix").sum()) if len(acts) else 0,
        "recreates": int((acts["action"] == "recreate").sum()) if len(acts) else 0,
        "builds": int((acts["action"] == "build").sum()) if len(acts) else 0,
        "root_causes": list(plan.attrs.get("root_causes", [])),
        "manual": sorted(set(plan.loc[plan["manual"], "service"])) if len(plan) else [],
    }


def compose_command(project: str | None, files: list[str] | None, *args: str) -> str:
    """``docker compose -p P -f a -f b ARGS`` as text (what a recreate or build step runs)."""
    parts = ["docker", "compose"] + (["-p", project] if project else [])
    for f in files or []:
        parts += ["-f", str(f)]
    return " ".join(parts + list(args))


def _evidence_line(finding: Mapping[str, Any]) -> str:
    ev = [str(e) for e in _list(finding.get("evidence")) if str(e).strip()]
    return ev[0] if ev else ""


def _service_steps(svc: str, rows: list[dict], finding: Mapping[str, Any] | None, remedy: str,
                   catalog_row: Mapping[str, Any], project: str | None, files: list[str]) -> list[dict]:
    """The steps of one service: its base steps, with a fix, build and recreate for non-restart remedies."""
    fid = finding_id(svc, finding.get("category")) if finding is not None else None
    rows = [{**r, "remedy": remedy, "finding": fid} for r in rows]
    acts = [r for r in rows if r["action"] != "wait"]
    waits = [r for r in rows if r["action"] == "wait"]
    base = dict((acts or waits)[0])
    missing = bool(acts) and acts[0]["container"] is None  # never created: compose creates it
    not_created = missing or (finding is not None and finding.get("category") == "not-created")
    if remedy == "restart" and not missing:
        return rows
    out: list[dict] = []
    if remedy != "restart" and not not_created:
        build = bool(catalog_row.get("build")) and not _is_missing(catalog_row.get("build"))
        image = None if _is_missing(catalog_row.get("image")) else catalog_row.get("image")
        evidence = _evidence_line(finding or {})
        text = fix_text(finding or {}, remedy, build=build, image=image)
        out.append({**base, "action": "fix", "condition": None, "timeout_s": None, "manual": True, "command": None,
                    "reason": f"{(finding or {}).get('category')}: {text}"
                              + (f" (evidence: {evidence[:200]})" if evidence else "")})
        if remedy == "external":
            return out + rows
        if remedy == "rebuild" and build:
            out.append({**base, "action": "build", "condition": None, "timeout_s": None, "manual": False,
                        "command": compose_command(project, files, "build", svc),
                        "reason": "rebuild the image with the fix"})
    reason = ("create it from the compose file" if not_created
              else "recreate so the fixed configuration and image apply (a restart keeps the old ones)")
    out.append({**base, "action": "recreate", "condition": None, "timeout_s": None, "manual": False,
                "command": compose_command(project, files, "up", "-d", "--no-deps", svc), "reason": reason})
    return out + waits


def plan_from_diagnosis(findings: pd.DataFrame, status: pd.DataFrame, catalog_frame: pd.DataFrame, *,
                        project: str | None = None, compose_files: list[str] | None = None,
                        budget_s: float | None = None) -> pd.DataFrame:
    """The recovery plan that follows the diagnosis: fix, then rebuild/recreate, then wait; pure.

    ``findings`` is the (folded) diagnosis: one root-cause finding per failing service.
    Columns: STEP_COLUMNS + ``remedy`` and ``finding`` (``service:category`` of the finding
    the step comes from). ``attrs``: root_causes (== the diagnosis's), remedies, order.
    """
    files = [str(f) for f in compose_files or []]
    roots = root_services(findings)
    by_service: dict[str, dict] = {}
    if findings is not None and len(findings):
        for r in findings.to_dict("records"):
            svc = None if _is_missing(r.get("service")) else str(r["service"])
            if svc is not None and (svc not in by_service or (r.get("root_cause") and
                                                              not by_service[svc].get("root_cause"))):
                by_service[svc] = r
    names = list(catalog_frame["service"].astype(str))
    st = status.copy()
    for i, r in st.iterrows():  # a root cause that reads up (between two restarts) still gets a step
        if str(r["service"]) in roots and bool(r.get("is_up")) and bool(r.get("expected", True)):
            st.at[i, "is_up"] = False
            st.at[i, "actual"] = "running-unhealthy" if str(r["actual"]).startswith("running") else r["actual"]
    base = recovery_plan(catalog_frame, st, budget_s=budget_s, project=project)
    cat_rows = {str(r["service"]): r for r in catalog_frame.to_dict("records")}
    remedies = {s: remedy_for(by_service[s], names) for s in roots if s in by_service}
    per_service: dict[str, list[dict]] = {}
    for r in base.drop(columns="step").to_dict("records"):
        per_service.setdefault(str(r["service"]), []).append(r)
    rows: list[dict] = []
    for svc, srows in per_service.items():
        remedy = remedies.get(svc, "restart")
        rows += _service_steps(svc, srows, by_service.get(svc), remedy, cat_rows.get(svc, {}), project, files)
    position = {s: i for i, s in enumerate(base.attrs.get("order", names))}
    manual_services = {r["service"] for r in rows if r["manual"]}
    rank = {s: i for i, s in enumerate(dict.fromkeys(r["service"] for r in rows))}
    rows.sort(key=lambda r: (r["wave"], r["service"] in manual_services, position.get(r["service"], 0),
                             rank[r["service"]]))
    cols = [c for c in STEP_COLUMNS if c != "step"] + DIAGNOSIS_COLUMNS
    df = pd.DataFrame(rows, columns=cols, dtype=object)
    df.insert(1, "step", range(1, len(df) + 1))
    df = df[STEP_COLUMNS + DIAGNOSIS_COLUMNS].astype({"wave": int, "step": int, "manual": bool})
    df.attrs.update(order=base.attrs.get("order", []), root_causes=sorted(roots), remedies=remedies,
                    project=project, compose_files=files)
    return df


@dataclass
class StackPlan:
    """A gathered stack's recovery plan with what it was made from."""

    project: str | None
    files: list[str]
    catalog: Any
    status: pd.DataFrame
    plan: pd.DataFrame
    diagnosis: Diagnosis | None = None

    @property
    def root_causes(self) -> list[str]:
        """The diagnosis's root-cause services (the plan's, by construction)."""
        return list(self.plan.attrs.get("root_causes", []))


def plan_stack(stack: Stack, budget_s: float | None = None, diagnosis: Diagnosis | None = None) -> StackPlan:
    """Diagnose a gathered stack (unless ``diagnosis`` is given) and plan from it.

    Raises when the stack has no catalog.
    """
    catalog = stack.require_catalog()
    diag = diagnosis if diagnosis is not None else run_diagnosis(stack)
    status = diag.status
    if status is None:  # no engine: nothing is known to run
        status = expected_vs_actual(catalog.frame, stack.project_inventory(), project=stack.project)
    plan = plan_from_diagnosis(diag.findings, status, catalog.frame, project=stack.project,
                               compose_files=list(stack.compose_files), budget_s=budget_s)
    return StackPlan(project=stack.project, files=list(stack.compose_files), catalog=catalog, status=status,
                     plan=plan, diagnosis=diag)


def try_plan_stack(stack: Stack, budget_s: float | None = None) -> tuple[StackPlan | None, Exception | None]:
    """``plan_stack`` for a report that goes on degraded: (plan, None) or (None, why not)."""
    if not stack.engine_ok:
        return None, stack.engine_error
    try:
        return plan_stack(stack, budget_s), None
    except RunbookError as exc:
        return None, exc
