"""Docker Swarm, read: KPIs, a diagnosis of Swarm's own failures, and a recovery plan (pure).

Inputs are the frames of ``engine.swarm`` (nodes, services, tasks) and the logs it read for
services that do not converge. Nothing here connects.

The diagnosis reads what ``docker service ps --no-trunc`` shows: each failing service's
latest task error names the cause (no suitable node, an image missing on the node, a bad
mount, a port conflict, a non-zero exit); an exiting task's logs go through the log
signatures of ``analysis.signatures``; drained or down nodes and paused or rolled-back
updates are findings of their own.

The recovery plan orders the services of a stack by the ``depends_on`` of its compose file
(dependencies first), then asks for ``service-update-force`` (``docker service update
--force``) or ``service-scale`` back to the compose file's replica count. It never
removes a service, a stack or a volume.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis.frames import as_list, is_missing
from runbook_lib.analysis.plan import topological_order
from runbook_lib.analysis.signatures import FINDING_COLUMNS, match_lines
from runbook_lib.knowledge.signatures import SEVERITY_RANK, swarm_task_errors

SWARM_FINDING_COLUMNS = [*FINDING_COLUMNS, "stack", "node", "task"]
PLAN_COLUMNS = ["wave", "step", "service", "stack", "action", "replicas", "depends_on", "reason", "command"]
SWARM_ACTIONS = ("service-update-force", "service-scale")


@dataclass(frozen=True)
class TaskErrorRule:
    """A task error (Status.Err / Status.Message) that names a Swarm failure."""

    category: str
    title: str
    severity: str
    pattern: str
    cause: str
    fix: str


# Swarm's own messages (moby/swarmkit), checked in order; the first that matches wins.
TASK_ERROR_RULES: tuple[TaskErrorRule, ...] = tuple(
    TaskErrorRule(r["id"], r["title"], r["severity"], r["pattern"], r["cause"], r["fix"])
    for r in swarm_task_errors())
UPDATE_FINDINGS = {
    "paused": ("swarm_update_paused", "Update paused", "high",
               "the service's rolling update paused: {message}",
               "fix the cause of the failing new tasks, then `docker service update --force SVC` "
               "(or `docker service rollback SVC`)."),
    "rollback_completed": ("swarm_update_rolled_back", "Update rolled back", "high",
                           "the service's update failed and was rolled back: {message}",
                           "the previous spec runs again; fix the new image or config before deploying it again."),
    "rollback_paused": ("swarm_rollback_paused", "Rollback paused", "critical",
                        "the rollback of the service's update paused: {message}",
                        "inspect the tasks (`docker service ps --no-trunc SVC`), then `docker service update "
                        "--force SVC`."),
}


def _int(v: Any) -> int:
    return 0 if is_missing(v) else int(v)


def swarm_kpis(services: pd.DataFrame) -> dict[str, Any]:
    """Services converged X/Y and replicas running A/B (global services count their tasks)."""
    total = int(len(services))
    if not total:
        return {"services_total": 0, "services_converged": 0, "replicas_desired": 0, "replicas_running": 0,
                "converged_pct": None, "headline": "no Swarm services"}
    desired = services["desired_replicas"].map(_int)
    running = services["running_replicas"].map(_int)
    converged = int((running >= desired).sum())
    out = {"services_total": total, "services_converged": converged,
           "replicas_desired": int(desired.sum()), "replicas_running": int(running.clip(upper=desired).sum()),
           "converged_pct": round(100.0 * converged / total, 1)}
    out["headline"] = (f"services converged {converged}/{total}, "
                       f"replicas running {out['replicas_running']}/{out['replicas_desired']}")
    return out


def kpis_by_stack(services: pd.DataFrame) -> pd.DataFrame:
    """One row of KPIs per stack namespace (services outside a stack under '-')."""
    if not len(services):
        return pd.DataFrame(columns=["stack", "services_total", "services_converged", "replicas_desired",
                                     "replicas_running"])
    rows = []
    for name, grp in services.groupby(services["stack"].fillna("-"), sort=True):
        k = swarm_kpis(grp)
        rows.append({"stack": name, **{c: k[c] for c in ("services_total", "services_converged",
                                                         "replicas_desired", "replicas_running")}})
    return pd.DataFrame(rows)


def _finding(category: str, title: str, severity: str, cause: str, fix: str, *, service: str | None = None,
             stack: str | None = None, node: str | None = None, task: str | None = None,
             evidence: list[str] | None = None, kind: str = "cause", source: str = "swarm") -> dict[str, Any]:
    ev = [redact.mask_text(e) for e in (evidence or []) if e]
    return {"service": service, "container": task, "category": category, "title": title, "severity": severity,
            "kind": kind, "cause": redact.mask_text(cause), "fix": fix, "evidence": ev,
            "match_count": max(1, len(ev)), "first_line": ev[0] if ev else None, "source": source,
            "details": {}, "stack": stack, "node": node, "task": task}


def classify_task_error(error: str, message: str = "") -> TaskErrorRule | None:
    """The rule that names this task error, or None."""
    text = f"{error} {message}".lower()
    for rule in TASK_ERROR_RULES:
        if re.search(rule.pattern, text):
            return rule
    return None


def _latest_problem_tasks(tasks: pd.DataFrame, service_id: str) -> pd.DataFrame:
    mine = tasks[tasks["service_id"] == service_id]
    return mine[mine["state"] != "running"].sort_values("updated_at", ascending=False, na_position="last")


def _service_findings(svc: Mapping[str, Any], tasks: pd.DataFrame, logs: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    desired, running = _int(svc.get("desired_replicas")), _int(svc.get("running_replicas"))
    upd = svc.get("update_state")
    if not is_missing(upd) and upd in UPDATE_FINDINGS:
        cat, title, sev, cause, fix = UPDATE_FINDINGS[str(upd)]
        out.append(_finding(cat, title, sev, cause.format(message=svc.get("update_message") or "no message"),
                            fix.replace("SVC", str(svc["service"])), service=svc["service"], stack=svc.get("stack"),
                            evidence=[f"UpdateStatus.State={upd}: {svc.get('update_message') or ''}"]))
    problems = _latest_problem_tasks(tasks, svc["service_id"]) if len(tasks) else tasks
    if running >= desired and not out and not len(problems[problems["state"].isin(["failed", "rejected"])]):
        return out
    seen: set[str] = set()
    for t in problems.to_dict("records"):
        rule = classify_task_error(str(t.get("error") or ""), str(t.get("message") or ""))
        if rule is None or rule.category in seen:
            continue
        if running >= desired and rule.category.startswith("swarm_no_suitable"):
            continue  # an old pending task of a service that converged since
        seen.add(rule.category)
        code = t.get("exit_code")
        cause = rule.cause.format(error=t.get("error") or t.get("message"),
                                  exit_code="?" if is_missing(code) else int(code))
        ev = [f"task {t['task_id'][:12]} on {t.get('node') or 'no node'}: {t.get('state')} "
              f"({t.get('message') or ''}) {t.get('error') or ''}".strip()]
        out.append(_finding(rule.category, rule.title, rule.severity, cause, rule.fix, service=svc["service"],
                            stack=svc.get("stack"), node=t.get("node"), task=t["task_id"], evidence=ev))
        if rule.category == "swarm_task_exiting" and logs:
            out.extend(_log_findings(svc, logs))
    if not out and running < desired:
        out.append(_finding("swarm_not_converged", "Replicas missing", "high",
                            f"{running} of {desired} replicas run and no task says why",
                            f"`docker service ps --no-trunc {svc['service']}`; then "
                            f"`docker service update --force {svc['service']}`.",
                            service=svc["service"], stack=svc.get("stack"), kind="symptom"))
    return out


def _log_findings(svc: Mapping[str, Any], logs: list[str]) -> list[dict[str, Any]]:
    """The log signatures (analysis.signatures) over a service's logs, one finding per signature."""
    rows: dict[str, dict[str, Any]] = {}
    for m in match_lines(logs):
        row = rows.get(m.category)
        if row is None:
            row = _finding(m.category, m.title, m.severity, m.cause, m.fix, service=svc["service"],
                           stack=svc.get("stack"), kind=m.kind, source="log")
            row["evidence"], row["match_count"], row["first_line"] = [], 0, m.line
            rows[m.category] = row
        row["match_count"] += 1
        if len(row["evidence"]) < 3:
            row["evidence"].append(m.line)
    return list(rows.values())


def _node_findings(nodes: pd.DataFrame, tasks: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for n in nodes.to_dict("records"):
        name = n.get("hostname") or n.get("node_id")
        if n.get("status") == "down":
            out.append(_finding("swarm_node_down", "Node down", "critical",
                                f"node {name} ({n.get('address')}) is down: {n.get('status_message') or 'no heartbeat'}",
                                f"start dockerd on {name} (or remove the node from the Swarm once its tasks moved: "
                                f"`docker node rm {name}`, by hand).", node=name,
                                evidence=[f"Status.State=down, availability {n.get('availability')}"]))
        if n.get("availability") in ("drain", "pause"):
            out.append(_finding({"drain": "swarm_node_drained", "pause": "swarm_node_paused"}[n["availability"]],
                                f"Node {n['availability']}", "medium",
                                f"node {name} is set to {n['availability']}: Swarm places no new task there",
                                f"`docker node update --availability active {name}` when it should take tasks again.",
                                node=name, kind="symptom",
                                evidence=[f"Spec.Availability={n['availability']}"]))
        if n.get("role") == "manager" and n.get("manager_reachability") not in (None, "reachable") \
                and not is_missing(n.get("manager_reachability")):
            out.append(_finding("swarm_manager_unreachable", "Manager unreachable", "critical",
                                f"manager {name} is {n.get('manager_reachability')}: the Raft quorum is at risk",
                                "bring the manager back or demote/replace it (keep an odd number of managers).",
                                node=name))
    return out


def diagnose_swarm(nodes: pd.DataFrame, services: pd.DataFrame, tasks: pd.DataFrame,
                   logs: Mapping[str, list[str]] | None = None) -> pd.DataFrame:
    """Findings for Swarm's own failures, worst first (columns ``SWARM_FINDING_COLUMNS``)."""
    logs = logs or {}
    rows = _node_findings(nodes, tasks)
    for svc in services.to_dict("records"):
        rows.extend(_service_findings(svc, tasks, list(logs.get(str(svc["service"]), []))))
    df = pd.DataFrame(rows, columns=SWARM_FINDING_COLUMNS)
    if len(df):
        df = df.assign(_r=df["severity"].map(SEVERITY_RANK).fillna(9), _k=(df["kind"] != "cause").astype(int))
        df = df.sort_values(["_r", "_k", "service"], na_position="last", kind="stable").drop(columns=["_r", "_k"])
    return df.reset_index(drop=True)


def _stack_deps(catalog_frame: pd.DataFrame | None, stack: str) -> dict[str, list[str]]:
    """``<stack>_<svc>`` -> its dependencies, from the compose file's depends_on."""
    if catalog_frame is None or not len(catalog_frame):
        return {}
    deps: dict[str, list[str]] = {}
    names = set(catalog_frame["service"].astype(str))
    for svc, ds in zip(catalog_frame["service"].astype(str), catalog_frame["depends_on"]):
        targets = [str(d.get("service") if isinstance(d, Mapping) else d) for d in as_list(ds)]
        deps[f"{stack}_{svc}"] = [f"{stack}_{t}" for t in targets if t in names]
    return deps


def compose_replicas(raw_specs: Mapping[str, Mapping[str, Any]] | None, stack: str) -> dict[str, int]:
    """``<stack>_<svc>`` -> deploy.replicas from the compose file (where it names one)."""
    out = {}
    for svc, spec in (raw_specs or {}).items():
        spec = spec or {}
        rep = ((spec.get("spec") or spec).get("deploy") or {}).get("replicas")
        if rep is not None:
            try:
                out[f"{stack}_{svc}"] = int(rep)
            except (TypeError, ValueError):
                continue
    return out


def swarm_recovery_plan(services: pd.DataFrame, stack: str, catalog_frame: pd.DataFrame | None = None,
                        compose_replica_counts: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Steps that bring a stack's services back, dependencies first (pure).

    A service scaled below its compose file's replica count is scaled back to it; any
    other service with fewer running replicas than desired gets a forced update (its
    tasks are replaced). Converged services get no step unless a dependency gets one.
    """
    mine = services[services["stack"] == stack] if len(services) else services
    deps = _stack_deps(catalog_frame, stack)
    for name in mine["service"].astype(str):
        deps.setdefault(name, [])
    order = topological_order({s: [{"service": d} for d in ds] for s, ds in deps.items()})
    want = dict(compose_replica_counts or {})
    by_name = {str(r["service"]): r for r in mine.to_dict("records")}
    action: dict[str, tuple[str, int | None, str]] = {}
    for name in order:
        svc = by_name.get(name)
        if svc is None:
            continue
        desired, running = _int(svc.get("desired_replicas")), _int(svc.get("running_replicas"))
        target = want.get(name)
        if svc.get("mode") == "replicated" and target is not None and desired < target:
            action[name] = ("service-scale", target, f"scaled to {desired}, the compose file asks for {target}")
        elif running < desired:
            action[name] = ("service-update-force", None, f"{running} of {desired} replicas running")
        elif svc.get("update_state") in ("paused", "rollback_paused"):
            action[name] = ("service-update-force", None, f"update {svc.get('update_state')}")
    level: dict[str, int] = {}
    for name in order:
        below = max((level.get(d, 0) for d in deps.get(name, [])), default=0)
        level[name] = below + 1 if name in action else below
    waves = {lv: i + 1 for i, lv in enumerate(sorted({level[s] for s in action}))}
    position = {s: i for i, s in enumerate(order)}
    rows = []
    for name in sorted(action, key=lambda s: (level[s], position[s])):
        act, replicas, reason = action[name]
        cmd = f"docker service scale {name}={replicas}" if act == "service-scale" \
            else f"docker service update --force {name}"
        rows.append({"wave": waves[level[name]], "service": name, "stack": stack, "action": act,
                     "replicas": replicas, "depends_on": deps.get(name, []), "reason": reason, "command": cmd})
    df = pd.DataFrame(rows, columns=[c for c in PLAN_COLUMNS if c != "step"], dtype=object)
    df.insert(1, "step", range(1, len(df) + 1))
    df = df[PLAN_COLUMNS]
    df.attrs["order"] = [s for s in order if s in by_name]
    return df


def format_swarm(findings: pd.DataFrame, kpis: Mapping[str, Any], host: str | None = None) -> str:
    """The Swarm diagnosis as plain text for the terminal (``runbook diagnose`` on a manager)."""
    head = f"Swarm{f' on {host}' if host else ''}: {kpis.get('headline', '')}"
    if not len(findings):
        return head + "\nNo Swarm failures found."
    lines = [head]
    for r in findings.to_dict("records"):
        where = r.get("service") if not is_missing(r.get("service")) else f"node {r.get('node')}"
        lines.append(f"- [{r['severity']}] {where}: {r['title']}: {r['cause']}")
        lines.append(f"    fix: {r['fix']}")
        for ev in list(r.get("evidence") or [])[:2]:
            lines.append(f"    evidence: {ev}")
    return "\n".join(lines)
