"""The recovery plan as records: which services to start or restart, in which order, and what to wait for.

No pandas here, so `runbook plan` (dry-run) starts without it; ``analysis.plan`` gives the same
plan as a frame (built from these rows) for reports, notebooks and ``--apply``.

``recovery_plan_records(catalog_rows, status_rows)`` is pure: the compose dependency graph
(``graphlib.TopologicalSorter``) and the expected-vs-actual rows in, ordered steps out.

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

``plan_records_from_diagnosis(findings, status, catalog_rows, ...)`` builds on it from the
diagnosis: each root-cause finding gets a remedy class (``analysis.remedy``); a service
whose remedy is not *restart* gets a manual ``fix`` step (the fix and its evidence), then
``build`` (rebuild, when the service has a ``build:`` section) and ``recreate``
(``docker compose -p P -f … up -d --no-deps SVC``) instead of a start or restart, then its
wait; *external* keeps its start/restart after the fix. Dependents sit in later waves;
within a wave, services that need no person come first. The plan's root causes are the
diagnosis's. ``plan_diagnosis(diagnosis)`` plans from a diagnosis given as records.
"""
from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_lib.analysis.fold_records import root_services
from runbook_lib.analysis.frames import as_list as _list, is_missing as _is_missing
from runbook_lib.analysis.remedy import finding_id, fix_text, remedy_for
from runbook_lib.exceptions import ComposeError

__all__ = ["ACTIONS", "CONDITIONS", "DIAGNOSIS_COLUMNS", "MIN_TIMEOUT_S", "STEP_COLUMNS", "PlanRecords",
           "compose_command", "plan_diagnosis", "plan_records_from_diagnosis", "plan_summary_records",
           "recovery_plan_records", "topological_order", "wait_timeout_s"]

STEP_COLUMNS = ["wave", "step", "service", "container", "action", "condition", "timeout_s", "reason",
                "depends_on", "manual", "command"]
DIAGNOSIS_COLUMNS = ["remedy", "finding"]  # added by plan_records_from_diagnosis
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
_STATUS_FIELDS = ("service", "actual", "expected", "is_up", "container", "detail")


@dataclass
class PlanRecords:
    """A plan as rows (STEP_COLUMNS, plus DIAGNOSIS_COLUMNS when it follows a diagnosis) and what
    the frame keeps in ``attrs``: order, root_causes, remedies, project, compose_files."""

    rows: list[dict[str, Any]]
    columns: list[str]
    order: list[str] = field(default_factory=list)
    root_causes: list[str] | None = None  # None: a bare recovery plan (no diagnosis)
    remedies: dict[str, str] = field(default_factory=dict)
    project: str | None = None
    compose_files: list[str] = field(default_factory=list)

    @property
    def attrs(self) -> dict[str, Any]:
        """What the frame version carries in ``DataFrame.attrs`` (same keys, same values)."""
        if self.root_causes is None:
            return {"order": list(self.order)}
        return {"order": list(self.order), "root_causes": list(self.root_causes), "remedies": dict(self.remedies),
                "project": self.project, "compose_files": list(self.compose_files)}

    def __len__(self) -> int:
        return len(self.rows)


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


def _deps(catalog_rows: list[Mapping[str, Any]]) -> dict[str, list[dict]]:
    """service -> normalised depends_on entries; a missing required dependency raises."""
    names = {str(r["service"]) for r in catalog_rows}
    out: dict[str, list[dict]] = {}
    for row in catalog_rows:
        svc, file = str(row["service"]), row.get("file")
        entries = []
        for d in _list(row.get("depends_on")):
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


def _needed_actions(order: list[str], deps: Mapping[str, list[dict]], status: Mapping[str, Mapping[str, Any]]
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """(service -> action, service -> reason): what each service needs, with restart propagation."""
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
    return action, reason


def recovery_plan_records(catalog_rows: Iterable[Mapping[str, Any]], status_rows: Iterable[Mapping[str, Any]],
                          budget_s: float | None = None, project: str | None = None) -> PlanRecords:
    """Ordered steps (wave by wave, dependencies first) that bring the stack back; pure.

    ``catalog_rows``: the catalog's records (compose.records COLUMNS); ``status_rows``: the
    expected-vs-actual rows (service, actual, expected, is_up, container, detail).
    """
    catalog_rows = list(catalog_rows)
    deps = _deps(catalog_rows)
    order = topological_order(deps)
    status = {str(r["service"]): {k: r[k] for k in _STATUS_FIELDS if k in r} for r in status_rows}
    cat = {str(r["service"]): r.get("healthcheck") for r in catalog_rows}
    action, reason = _needed_actions(order, deps, status)

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
    return PlanRecords(rows=_numbered(rows, STEP_COLUMNS), columns=list(STEP_COLUMNS), order=order)


def _numbered(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """Rows with ``step`` 1..n, keys in ``columns`` order (the frame's), wave an int and manual a bool."""
    out = []
    for i, r in enumerate(rows, start=1):
        row = {c: r.get(c) for c in columns}
        row.update(wave=int(r["wave"]), step=i, manual=bool(r["manual"]))
        out.append(row)
    return out


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


def plan_summary_records(rows: list[Mapping[str, Any]], root_causes: Iterable[str] = ()) -> dict[str, Any]:
    """Counts for a KPI header and the report JSON."""
    acts = [r for r in rows if r["action"] != "wait"]

    def count(name: str) -> int:
        return sum(1 for r in acts if r["action"] == name)
    return {
        "steps": len(rows),
        "waves": int(max(r["wave"] for r in rows)) if rows else 0,
        "services": sorted({r["service"] for r in rows}),
        "starts": count("start"),
        "restarts": count("restart"),
        "fixes": count("fix"),
        "recreates": count("recreate"),
        "builds": count("build"),
        "root_causes": list(root_causes),
        "manual": sorted({r["service"] for r in rows if r["manual"]}),
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


def _with_roots_down(status_rows: Iterable[Mapping[str, Any]], roots: list[str]) -> list[dict[str, Any]]:
    """A root cause that reads up (between two restarts) still gets a step: it reads down here (copies)."""
    out = []
    for r in status_rows:
        r = dict(r)
        if str(r["service"]) in roots and bool(r.get("is_up")) and bool(r.get("expected", True)):
            r["is_up"] = False
            r["actual"] = "running-unhealthy" if str(r["actual"]).startswith("running") else r["actual"]
        out.append(r)
    return out


def plan_records_from_diagnosis(findings: Iterable[Mapping[str, Any]] | None,
                                status: Iterable[Mapping[str, Any]],
                                catalog_rows: Iterable[Mapping[str, Any]], *, project: str | None = None,
                                compose_files: list[str] | None = None,
                                budget_s: float | None = None) -> PlanRecords:
    """The recovery plan that follows the diagnosis: fix, then rebuild/recreate, then wait; pure.

    ``findings`` is the (folded) diagnosis as rows: one root-cause finding per failing service.
    Columns: STEP_COLUMNS + ``remedy`` and ``finding`` (``service:category`` of the finding
    the step comes from); root_causes == the diagnosis's.
    """
    files = [str(f) for f in compose_files or []]
    findings = list(findings or [])
    catalog_rows = list(catalog_rows)
    roots = root_services(findings or [])
    by_service: dict[str, Mapping[str, Any]] = {}
    for r in findings:
        svc = None if _is_missing(r.get("service")) else str(r["service"])
        if svc is not None and (svc not in by_service or (r.get("root_cause") and
                                                          not by_service[svc].get("root_cause"))):
            by_service[svc] = r
    names = [str(r["service"]) for r in catalog_rows]
    base = recovery_plan_records(catalog_rows, _with_roots_down(status, roots), budget_s=budget_s, project=project)
    cat_rows = {str(r["service"]): r for r in catalog_rows}
    remedies = {s: remedy_for(by_service[s], names) for s in roots if s in by_service}
    per_service: dict[str, list[dict]] = {}
    for r in base.rows:
        per_service.setdefault(str(r["service"]), []).append({k: v for k, v in r.items() if k != "step"})
    rows: list[dict] = []
    for svc, srows in per_service.items():
        remedy = remedies.get(svc, "restart")
        rows += _service_steps(svc, srows, by_service.get(svc), remedy, cat_rows.get(svc, {}), project, files)
    position = {s: i for i, s in enumerate(base.order)}
    manual_services = {r["service"] for r in rows if r["manual"]}
    rank = {s: i for i, s in enumerate(dict.fromkeys(r["service"] for r in rows))}
    rows.sort(key=lambda r: (r["wave"], r["service"] in manual_services, position.get(r["service"], 0),
                             rank[r["service"]]))
    columns = STEP_COLUMNS + DIAGNOSIS_COLUMNS
    return PlanRecords(rows=_numbered(rows, columns), columns=columns, order=list(base.order),
                       root_causes=sorted(roots), remedies=remedies, project=project, compose_files=files)


def plan_diagnosis(diagnosis: Any, budget_s: float | None = None) -> PlanRecords:
    """The plan that follows a diagnosis given as records (``DiagnosisRecords``-shaped): ``findings`` and
    ``status`` (lists of dicts, today's frame columns), ``catalog`` (the Catalog, or its rows), ``project``
    and ``compose_files``. ``status`` must be set (a stack without an engine: the expected-vs-actual rows
    of an empty inventory)."""
    catalog = getattr(diagnosis.catalog, "rows", diagnosis.catalog)
    return plan_records_from_diagnosis(diagnosis.findings, diagnosis.status, catalog,
                                       project=diagnosis.project, compose_files=list(diagnosis.compose_files or []),
                                       budget_s=budget_s)
