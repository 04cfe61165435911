"""Guarded execution of a recovery plan: the ONLY module that changes anything on the engine.

Guard rails:
- dry-run by default: ``runbook plan`` prints the plan and makes no mutating call;
  ``--apply`` executes it;
- an allow-list of actions (start, restart, unpause, wait); any other name, and above all
  anything destructive, raises ActionRefused before a single call is made. There is no
  code path here that removes a container or a volume, prunes, or runs ``down -v``;
- every step is written to the audit log (fsync'ed) BEFORE its Docker call, and its
  outcome after;
- wave by wave, dependencies first; the run stops at the first service that does not
  come up within its budget, and none of its dependents (nor any later wave) is touched.
  A service that was never created needs ``docker compose up -d <svc>``: the run reports
  that step and stops there.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.audit import AuditLog
from runbook_lib.exceptions import ActionRefused, ParameterError

ALLOWED_ACTIONS = frozenset({"start", "restart", "unpause", "wait",
                             "service-update-force", "service-scale"})  # the last two: engine/swarm_actions.py
MUTATING_ACTIONS = frozenset({"start", "restart", "unpause"})
RESTART_STOP_TIMEOUT_S = 10
LOG_COLUMNS = ["wave", "step", "service", "container", "action", "condition", "outcome", "detail",
               "started_at", "duration_s", "audit_id"]

Progress = Callable[[str], None]


def guard(action: Any) -> str:
    """Return the action name if it is allowed; raise ActionRefused otherwise."""
    name = str(action)
    if name not in ALLOWED_ACTIONS:
        raise ActionRefused(
            f"Action '{redact.mask_text(name)}' is refused: runbook only runs "
            f"{', '.join(sorted(ALLOWED_ACTIONS))}. It never removes volumes, prunes or runs `down -v`; "
            f"do such things by hand, deliberately, after a backup.")
    return name


def _call(client, action: str, container: str) -> None:
    """The Docker API call for one allowed, mutating action."""
    api = client.api
    if action == "start":
        api.start(container)
    elif action == "restart":
        api.restart(container, timeout=RESTART_STOP_TIMEOUT_S)
    elif action == "unpause":
        api.unpause(container)
    else:  # pragma: no cover - guard() ran before
        raise ActionRefused(f"Action '{action}' has no Docker call.")


def _health_tail(state: dict) -> str:
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return ""
    out = str(log[-1].get("Output") or "").strip().replace("\n", " ")
    return redact.mask_text(out[:200])


def wait_for(client, container: str, condition: str, timeout_s: float, poll_interval_s: float = 0.5
             ) -> tuple[str, str]:
    """Poll the container until the condition holds: ('ok'|'failed'|'timeout', detail)."""
    import docker.errors

    deadline = time.monotonic() + max(0.0, float(timeout_s))
    last = ""
    while True:
        try:
            info = client.api.inspect_container(container)
        except docker.errors.NotFound:
            return "failed", f"container {container} no longer exists"
        st = info.get("State") or {}
        status = st.get("Status") or ""
        health = (st.get("Health") or {}).get("Status")
        policy = ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
        if condition == "completed":
            if status in ("exited", "dead"):
                code = st.get("ExitCode")
                return ("ok", "completed (exit code 0)") if code == 0 else ("failed", f"exited with code {code}")
        elif status == "running":
            if condition == "started" or health is None:
                return "ok", "running" if condition == "started" else "running (container has no healthcheck)"
            if health == "healthy":
                return "ok", "healthy"
        elif status in ("exited", "dead") and policy in ("no", ""):
            oom = ", OOM killed" if st.get("OOMKilled") else ""
            return "failed", f"{status} with code {st.get('ExitCode')}{oom}"
        last = f"state {status}" + (f", health {health}" if health else "")
        tail = _health_tail(st)
        if tail:
            last += f": {tail}"
        if time.monotonic() >= deadline:
            return "timeout", f"not {condition} after {timeout_s:g} s ({last})"
        time.sleep(min(poll_interval_s, max(0.05, deadline - time.monotonic())))


def _positive(value: Any) -> float | None:
    """A positive number of seconds, or None (None, NaN, 0, junk)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f > 0 else None


def _now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc))


def apply_plan(client, plan: pd.DataFrame, catalog: Any = None, audit: AuditLog | None = None,
               budget_s: float | None = None, progress: Progress | None = print, dry_run: bool = False,
               poll_interval_s: float = 0.5) -> pd.DataFrame:
    """Execute a plan wave by wave; return the execution log (attrs: status, stopped_at).

    Every step is audited before its Docker call. The run stops at the first failure (a
    start that errors, a wait that times out, a service that needs compose to be created);
    the remaining steps are logged as ``not-run`` and nothing else is touched.
    With ``dry_run`` the steps are audited and printed, and no mutating call is made.
    """
    say = progress or (lambda _msg: None)
    audit = audit or AuditLog()
    # refuse the whole plan before doing anything if one action is not allowed
    for a in (plan["action"] if len(plan) else []):
        if str(a) not in ALLOWED_ACTIONS:
            audit.event(str(a), None, "refused", "action not on the allow-list; plan not executed",
                        dry_run=dry_run)
            guard(a)
    project = getattr(catalog, "project", None)
    plan_id = audit.started("apply-plan", project or "plan", {
        "steps": int(len(plan)), "services": sorted(set(plan["service"])) if len(plan) else [],
        "budget_s": budget_s}, dry_run=dry_run)
    rows: list[dict[str, Any]] = []
    stopped_at: str | None = None
    ordered = plan.assign(_w=(plan["action"] == "wait").astype(int)).sort_values(["wave", "_w", "step"],
                                                                                  kind="stable") if len(plan) else plan
    for _, step in ordered.iterrows():
        base = {"wave": int(step["wave"]), "step": int(step["step"]), "service": step["service"],
                "container": step["container"], "action": step["action"],
                "condition": step["condition"] if step["action"] == "wait" else None}
        if stopped_at is not None:
            rows.append({**base, "outcome": "not-run", "detail": f"stopped at {stopped_at}",
                         "started_at": None, "duration_s": None, "audit_id": None})
            continue
        action = guard(step["action"])
        target = step["container"] if isinstance(step["container"], str) else None
        params = {"service": step["service"], "wave": int(step["wave"])}
        if action == "wait":
            timeout = _positive(budget_s) or _positive(step["timeout_s"]) or 30.0
            params.update({"condition": step["condition"], "timeout_s": timeout})
        t0, started_at = time.monotonic(), _now()
        if target is None:
            cmd = step.get("command") or f"docker compose up -d {step['service']}"
            aid = audit.event(action, step["service"], "manual",
                              f"no container: run `{cmd}`, then run the plan again", params, dry_run=dry_run)
            say(f"[wave {base['wave']}] {action} {step['service']}: no container; run `{cmd}`; stopping here")
            rows.append({**base, "outcome": "manual", "detail": f"run `{cmd}`", "started_at": started_at,
                         "duration_s": 0.0, "audit_id": aid})
            stopped_at = str(step["service"])
            continue
        aid = audit.started(action, target, params, dry_run=dry_run)
        try:
            if dry_run:
                outcome, detail = "dry-run", "not executed (dry-run)"
            elif action == "wait":
                say(f"[wave {base['wave']}] wait for {step['service']} to be {params['condition']} "
                    f"(up to {params['timeout_s']:g} s) …")
                outcome, detail = wait_for(client, target, str(step["condition"]), params["timeout_s"],
                                           poll_interval_s)
            else:
                say(f"[wave {base['wave']}] {action} {step['service']} ({target}) …")
                _call(client, action, target)
                outcome, detail = "ok", f"{action} accepted"
        except KeyboardInterrupt:
            audit.outcome(aid, action, target, "interrupted", "interrupted by the user", params, dry_run=dry_run)
            raise
        except Exception as exc:  # noqa: BLE001 - any engine error stops the run, recorded as such
            outcome, detail = "failed", redact.mask_text(f"{type(exc).__name__}: {exc}")[:500]
        audit.outcome(aid, action, target, outcome, detail, params, dry_run=dry_run)
        dur = round(time.monotonic() - t0, 3)
        say(f"[wave {base['wave']}] {action} {step['service']}: {outcome} ({detail}, {dur:.1f} s)")
        rows.append({**base, "outcome": outcome, "detail": detail, "started_at": started_at,
                     "duration_s": dur, "audit_id": aid})
        if outcome not in ("ok", "dry-run"):
            stopped_at = str(step["service"])
    log = pd.DataFrame(rows, columns=LOG_COLUMNS)
    status = "stopped" if stopped_at else ("dry-run" if dry_run else "complete")
    skipped = sorted(set(log.loc[log["outcome"] == "not-run", "service"])) if len(log) else []
    audit.outcome(plan_id, "apply-plan", project or "plan", status,
                  f"stopped at {stopped_at}; not touched: {', '.join(skipped) or 'none'}" if stopped_at
                  else f"{len(log)} steps done", {"not_run": skipped}, dry_run=dry_run)
    say(f"plan {status}" + (f" at {stopped_at}; not touched: {', '.join(skipped) or 'none'}" if stopped_at else ""))
    log.attrs.update({"status": status, "stopped_at": stopped_at, "not_run": skipped,
                      "audit_log": str(audit.path)})
    return log


# -- parameters (plain papermill passes -p values as strings) ---------------------------

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0", "", "none", "null"}


def strict_bool(value: Any, name: str = "apply") -> bool:
    """True only for True / 'true' / 'yes' / 'on' / '1'; a string like 'false' is False, never truthy."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParameterError(f"Parameter '{name}' must be true or false, got {redact.mask_text(str(value))!r}. "
                         f"Example: -p {name} true")


def report_parameters(compose_files: Any, apply: Any, budget_s: Any) -> tuple[list[str], bool, float | None]:
    """Normalise the recovery_plan notebook's parameters: file list, strict apply flag, budget."""
    import yaml
    files = compose_files
    if isinstance(files, str):
        try:
            files = yaml.safe_load(files)
        except yaml.YAMLError:
            pass
        files = [] if files is None else files
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, (list, tuple)):
        raise ParameterError(f"Parameter 'compose_files' must be a list of paths, got {type(files).__name__}. "
                             f"Example: -p compose_files '[docker-compose.yml, docker-compose.prod.yml]'")
    budget = None
    if budget_s not in (None, "", "None", "null"):
        budget = _positive(budget_s)
        if budget is None:
            raise ParameterError(f"Parameter 'budget_s' must be a positive number of seconds, got {budget_s!r}. "
                                 f"Example: -p budget_s 120")
    return [str(f) for f in files], strict_bool(apply), budget


# -- the command line -------------------------------------------------------------

def format_plan(plan: pd.DataFrame, project: str | None = None) -> str:
    """The plan as a plain-text, left-aligned table for the terminal."""
    if len(plan) == 0:
        return "Nothing to do: every expected service is up."
    cols = ["wave", "step", "service", "action", "condition", "timeout_s", "reason"]
    rows = [[str(c) for c in cols]]
    for r in plan.to_dict("records"):
        t = r["timeout_s"]
        rows.append([str(r["wave"]), str(r["step"]), str(r["service"]), str(r["action"]),
                     str(r["condition"] or ""), f"{t:g}" if isinstance(t, (int, float)) and t == t else "",
                     str(r["reason"])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    manual = sorted(set(plan.loc[plan["manual"].astype(bool), "service"]))
    if manual:
        proj = f" -p {project}" if project else ""
        lines.append(f"\n{len(manual)} service(s) have no container; create them first: "
                     f"docker compose{proj} up -d {' '.join(manual)}")
    return "\n".join(lines)
