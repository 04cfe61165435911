"""Guarded execution of a recovery plan: the ONLY module that changes anything on the engine.

Guard rails:
- dry-run by default: ``runbook plan`` prints the plan and makes no mutating call;
  ``--apply`` executes it;
- an allow-list of actions (start, restart, unpause, wait, and the compose steps fix, build,
  recreate); any other name, and above all anything destructive, raises ActionRefused
  before a single call is made. There is no code path here that removes a container or a
  volume, prunes, or runs ``down -v``;
- compose steps run ``docker compose -p P -f … up -d --no-deps SVC`` or ``… build SVC``
  and nothing else (``compose_argv`` checks the words), only when every compose file is on
  this machine; otherwise the step is manual and the run stops there;
- a ``fix`` step is a person's work: the run stops there with what to fix. With
  ``confirmed`` (``runbook plan --apply --resume``) it goes on, and after the service's
  wait ``verify`` (a fresh diagnosis of that service) checks that the fix took;
- every step is written to the audit log (fsync'ed) BEFORE its Docker call, and its
  outcome after; every Docker call has a total deadline (``engine.action_calls``): an
  engine that does not answer in time ends the step as ``timeout`` and the run stops there;
- wave by wave, dependencies first; the run stops at the first service that does not
  come up within its budget, and none of its dependents (nor any later wave) is touched.
  A service that was never created needs ``docker compose up -d <svc>``: the run reports
  that step and stops there.

The step loop, the guard and the plan's text form are ``engine.plan_run`` (over rows, no pandas,
no docker SDK: the dry-run runs there); this module adds the engine calls (``DockerSteps``) and
the frame shapes (``apply_plan``, ``format_plan``).
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable
from typing import Any

import pandas as pd
import yaml

from runbook_lib import redact
from runbook_lib.engine import action_calls as calls, dockerpy
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.engine.connection import engine_target
from runbook_lib.engine.plan_run import (ALLOWED_ACTIONS, COMPOSE_ACTIONS, COMPOSE_TIMEOUT_S, FORBIDDEN_WORDS,
                                         LOG_COLUMNS, MUTATING_ACTIONS, RESUME_HINT, PlanRun, Progress, Verify,
                                         compose_argv, compose_binary, format_plan_rows, guard, positive as _positive,
                                         run_plan)
from runbook_lib.exceptions import ActionRefused, ParameterError

__all__ = ["ALLOWED_ACTIONS", "COMPOSE_ACTIONS", "COMPOSE_TIMEOUT_S", "FORBIDDEN_WORDS", "LOG_COLUMNS",
           "MUTATING_ACTIONS", "RESTART_STOP_TIMEOUT_S", "RESUME_HINT", "DockerSteps", "Progress", "Verify",
           "apply_plan", "compose_argv", "compose_binary", "format_plan", "guard", "last_manual_fix", "log_frame",
           "report_parameters", "resume_confirmed", "strict_bool", "wait_for"]

RESTART_STOP_TIMEOUT_S = 10


def _compose_env(client) -> dict[str, str]:
    """The environment of a compose run: DOCKER_HOST pointed at the engine the plan was made on."""
    env = dict(os.environ)
    target = engine_target(client)
    url = getattr(target, "url", None)
    if isinstance(url, str) and url.startswith(("unix://", "tcp://", "ssh://")):
        env["DOCKER_HOST"] = url
    return env


def _run_compose(client, argv: list[str], timeout_s: float) -> tuple[str, str]:
    """Run one guarded compose command: ('ok'|'failed'|'timeout', detail)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False,
                              env=_compose_env(client))
    except subprocess.TimeoutExpired:
        return "timeout", f"`{' '.join(argv)}` did not finish within {timeout_s:g} s"
    except OSError as exc:
        return "failed", f"cannot run {argv[0]}: {exc}"
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
    detail = redact.mask_text(" | ".join(tail))[:500]
    if proc.returncode != 0:
        return "failed", f"exit code {proc.returncode}: {detail}"
    return "ok", detail or "done"


def _call(client, action: str, container: str) -> None:
    """The Docker API call for one allowed, mutating action, within its total deadline."""
    if action == "start":
        calls.start(client, container)
    elif action == "restart":
        calls.restart(client, container, RESTART_STOP_TIMEOUT_S)
    elif action == "unpause":
        calls.unpause(client, container)
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
    deadline = time.monotonic() + max(0.0, float(timeout_s))
    last = ""
    while True:
        try:
            info = calls.inspect(client, container)
        except dockerpy.not_found():
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


def _service_container(client, project: str | None, service: str, old: str | None) -> str | None:
    """The container of a compose service after a recreate: compose v2 and v1 names, else the old one."""
    old = old if isinstance(old, str) and old else None
    names = ([f"{project}-{service}-1", f"{project}_{service}_1"] if project else []) + ([old] if old else [])
    for name in names:
        try:
            return str(calls.inspect(client, name)["Id"])
        except dockerpy.not_found():
            continue
    return old


class DockerSteps:
    """The engine calls of a real run (``plan_run.Steps``): each within its total deadline."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, action: str, container: str) -> None:
        _call(self.client, action, container)

    def wait(self, container: str, condition: str, timeout_s: float, poll_interval_s: float) -> tuple[str, str]:
        return wait_for(self.client, container, condition, timeout_s, poll_interval_s)

    def compose(self, argv: list[str], timeout_s: float) -> tuple[str, str]:
        return _run_compose(self.client, argv, timeout_s)

    def container_after_recreate(self, project: str | None, service: str, old: Any) -> str | None:
        return _service_container(self.client, project, service, old)


def log_frame(run: PlanRun) -> pd.DataFrame:
    """The execution log as a frame (LOG_COLUMNS; ``attrs``: status, stopped_at, not_run, ran …)."""
    log = pd.DataFrame(run.rows, columns=LOG_COLUMNS)
    log.attrs.update(run.attrs)
    return log


def apply_plan(client, plan: pd.DataFrame, catalog: Any = None, audit: AuditLog | None = None,
               budget_s: float | None = None, progress: Progress | None = print, dry_run: bool = False,
               poll_interval_s: float = 0.5, *, compose_files: Iterable[str] | None = None,
               confirmed: Iterable[str] = (), verify: Verify | None = None,
               compose: list[str] | None = None) -> pd.DataFrame:
    """Execute a plan wave by wave; return the execution log (attrs: status, stopped_at).

    Every step is audited before its Docker call. The run stops at the first failure (a
    start that errors, a wait that times out, a service that needs compose to be created)
    and at the first manual ``fix`` step of a service not in ``confirmed``; the remaining
    steps are logged as ``not-run`` and nothing else is touched. Compose steps use
    ``compose_files`` (default: the plan's ``attrs``) and run only when they all exist here.
    After the wait of a ``confirmed`` service, ``verify(service)`` must say the fix took.
    With ``dry_run`` the steps are audited and printed, and no mutating call is made.
    ``plan_run.run_plan`` over the plan's rows, with the log as a frame.
    """
    rows = plan.to_dict("records") if len(plan) else []
    return log_frame(run_plan(rows, plan.attrs, catalog, audit, budget_s, progress, dry_run, poll_interval_s,
                              compose_files=compose_files, confirmed=confirmed, verify=verify, compose=compose,
                              steps=DockerSteps(client)))


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

def last_manual_fix(audit: AuditLog, host: str | None = None) -> str | None:
    """The service of the last fix step a real run stopped at (what ``--resume`` confirms), or None.
    ``host``: only the runs on that named engine host (the audit records it as ``params.engine_host``)."""
    rec = read_audit(audit.path)
    if not len(rec):
        return None
    hit = rec[(rec["action"] == "fix") & (rec["outcome"] == "manual") & ~rec["dry_run"].astype(bool)]
    if host is not None and len(hit):
        hit = hit[hit["params"].map(lambda p: isinstance(p, dict) and p.get("engine_host") == host)]
    if not len(hit):
        return None
    params = hit.iloc[-1]["params"]
    return str(params.get("service")) if isinstance(params, dict) and params.get("service") else None


def resume_confirmed(plan: pd.DataFrame, audit: AuditLog, host: str | None = None) -> list[str]:
    """The fix ``--resume`` takes as made: the one the last run (on ``host``) stopped at, else the plan's
    first fix when no run stopped at one; [] when the run stopped at a fix this plan no longer has."""
    fixes = list(dict.fromkeys(plan.loc[plan["action"] == "fix", "service"])) if len(plan) else []
    last = last_manual_fix(audit, host)
    return [last] if last in fixes else fixes[:1] if last is None else []


def format_plan(plan: pd.DataFrame, project: str | None = None) -> str:
    """The plan as a plain-text, left-aligned table for the terminal (``plan_run.format_plan_rows``)."""
    return format_plan_rows(plan.to_dict("records") if len(plan) else [], project, columns=list(plan.columns))
