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
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import yaml

from runbook_lib import redact
from runbook_lib.engine import action_calls as calls, dockerpy
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.engine.connection import engine_target
from runbook_lib.engine.run_summary import format_summary, run_summary
from runbook_lib.exceptions import ActionRefused, EngineTimeout, ParameterError

ALLOWED_ACTIONS = frozenset({"start", "restart", "unpause", "wait", "fix", "build", "recreate",
                             "service-update-force", "service-scale"})  # the last two: engine/swarm_actions.py
MUTATING_ACTIONS = frozenset({"start", "restart", "unpause", "build", "recreate"})
COMPOSE_ACTIONS = {"recreate": ("up", "-d", "--no-deps"), "build": ("build",)}
FORBIDDEN_WORDS = frozenset({"down", "rm", "-v", "--volumes", "prune", "kill", "stop", "--force-recreate",
                             "--remove-orphans", "--renew-anon-volumes", "-V"})
COMPOSE_TIMEOUT_S = {"recreate": 300.0, "build": 1800.0}
RESTART_STOP_TIMEOUT_S = 10
LOG_COLUMNS = ["wave", "step", "service", "container", "action", "condition", "outcome", "detail",
               "started_at", "duration_s", "audit_id"]

Progress = Callable[[str], None]
Verify = Callable[[str], "tuple[bool, str]"]
RESUME_HINT = "runbook plan --apply --resume"


def guard(action: Any) -> str:
    """Return the action name if it is allowed; raise ActionRefused otherwise."""
    name = str(action)
    if name not in ALLOWED_ACTIONS:
        raise ActionRefused(
            f"Action '{redact.mask_text(name)}' is refused: runbook only runs "
            f"{', '.join(sorted(ALLOWED_ACTIONS))}. It never removes volumes, prunes or runs `down -v`; "
            f"do such things by hand, deliberately, after a backup.")
    return name


def compose_argv(action: str, service: str, project: str | None, files: Iterable[str],
                 binary: list[str] | None = None) -> list[str]:
    """The argv of an allowed compose step; anything else raises ActionRefused.

    recreate -> ``docker compose -p P -f F… up -d --no-deps SVC``; build -> ``… build SVC``.
    """
    if action not in COMPOSE_ACTIONS:
        raise ActionRefused(f"Action '{redact.mask_text(str(action))}' is not a compose step runbook runs "
                            f"(only {', '.join(sorted(COMPOSE_ACTIONS))}).")
    argv = list(binary or ["docker", "compose"]) + (["-p", str(project)] if project else [])
    for f in files:
        argv += ["-f", str(f)]
    argv += list(COMPOSE_ACTIONS[action]) + [str(service)]
    bad = [w for w in argv if w in FORBIDDEN_WORDS or w.startswith("-") and w not in
           ("-p", "-f", "-d", "--no-deps")]
    if bad or str(service).startswith("-"):
        raise ActionRefused(f"compose step refused ({', '.join(bad) or service}): runbook only runs "
                            f"`up -d --no-deps SVC` and `build SVC`. It never removes volumes, prunes or runs "
                            f"`down -v`.")
    return argv


def compose_binary() -> list[str] | None:
    """``docker compose`` (v2 plugin) when it answers, else ``docker-compose``, else None."""
    if shutil.which("docker"):
        try:
            ok = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20,
                                check=False).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return ["docker", "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


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


def _positive(value: Any) -> float | None:
    """A positive number of seconds, or None (None, NaN, 0, junk)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f > 0 else None


def _now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc))


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
    """
    say = progress or (lambda _msg: None)
    audit = audit or AuditLog()
    # refuse the whole plan before doing anything if one action is not allowed
    for a in (plan["action"] if len(plan) else []):
        if str(a) not in ALLOWED_ACTIONS:
            audit.event(str(a), None, "refused", "action not on the allow-list; plan not executed",
                        dry_run=dry_run)
            guard(a)
    project = getattr(catalog, "project", None) or plan.attrs.get("project")
    files = [str(f) for f in (compose_files if compose_files is not None else plan.attrs.get("compose_files") or [])]
    confirmed = {str(c) for c in confirmed}
    plan_id = audit.started("apply-plan", project or "plan", {
        "steps": int(len(plan)), "services": sorted(set(plan["service"])) if len(plan) else [],
        "budget_s": budget_s, "confirmed": sorted(confirmed)}, dry_run=dry_run)
    rows: list[dict[str, Any]] = []
    stopped_at: str | None = None
    recreated: dict[str, str | None] = {}
    binary: list[str] | None = None
    ordered = plan
    if len(plan):  # in a wave: services that need no person (started, then awaited), then the others
        manual = set(plan.loc[plan["action"] == "fix", "service"])
        ordered = plan.assign(_m=plan["service"].isin(manual).astype(int),
                              _w=((plan["action"] == "wait") & ~plan["service"].isin(manual)).astype(int))
        ordered = ordered.sort_values(["wave", "_m", "_w", "step"], kind="stable")
        ordered.attrs = {}  # a new frame: iterrows would deep-copy the plan's attrs (remedies) into every row
    for _, step in ordered.iterrows():
        base = {"wave": int(step["wave"]), "step": int(step["step"]), "service": step["service"],
                "container": step["container"], "action": step["action"],
                "condition": step["condition"] if step["action"] == "wait" else None}
        if stopped_at is not None:
            rows.append({**base, "outcome": "not-run", "detail": f"stopped at {stopped_at}",
                         "started_at": None, "duration_s": None, "audit_id": None})
            continue
        action = guard(step["action"])
        svc = str(step["service"])
        target = step["container"] if isinstance(step["container"], str) else None
        if svc in recreated:
            target = recreated[svc]
        params = {"service": svc, "wave": int(step["wave"])}
        if "finding" in step.index and isinstance(step["finding"], str):
            params["finding"] = step["finding"]
        if action == "wait":
            timeout = _positive(budget_s) or _positive(step["timeout_s"]) or 30.0
            params.update({"condition": step["condition"], "timeout_s": timeout})
        t0, started_at = time.monotonic(), _now()
        done = {"started_at": started_at, "duration_s": 0.0}
        if action == "fix":
            reason = str(step.get("reason") or "")
            if svc in confirmed:
                aid = audit.event(action, svc, "confirmed", f"fix reported made: {reason}", params, dry_run=dry_run)
                say(f"[wave {base['wave']}] fix {svc}: reported made; checked once it is back")
                rows.append({**base, "outcome": "confirmed", "detail": reason, **done, "audit_id": aid})
            elif dry_run:
                aid = audit.event(action, svc, "dry-run", f"manual: {reason}", params, dry_run=True)
                rows.append({**base, "outcome": "dry-run", "detail": f"manual: {reason}", **done, "audit_id": aid})
            else:
                aid = audit.event(action, svc, "manual", reason, params, dry_run=dry_run)
                say(f"[wave {base['wave']}] MANUAL STEP for {svc}: {reason}\n"
                    f"  Make this fix, then run `{RESUME_HINT}` (it checks that the fix took). Stopping here.")
                rows.append({**base, "outcome": "manual", "detail": f"{reason}; then run `{RESUME_HINT}`", **done,
                             "audit_id": aid})
                stopped_at = svc
            continue
        manual_why = None
        if action in COMPOSE_ACTIONS:
            cmd = step.get("command") or f"docker compose up -d --no-deps {svc}"
            missing = [f for f in files if not Path(f).is_file()]
            if binary is None and files and not missing:
                binary = compose or compose_binary()
            if missing or not files:
                manual_why = "the compose files are not on this machine" if files else "no compose files"
            elif binary is None:
                manual_why = "neither `docker compose` nor `docker-compose` is installed"
            else:
                params["argv"] = compose_argv(action, svc, project, files, binary)
                target = svc
        elif target is None and action == "wait" and dry_run and svc in {r["service"] for r in rows}:
            target = svc  # created by the (dry-run) recreate before it
        elif target is None:
            cmd = step.get("command") or f"docker compose up -d {svc}"
            manual_why = "no container"
        if manual_why is not None:
            aid = audit.event(action, svc, "manual", f"{manual_why}: run `{cmd}`, then run the plan again", params,
                              dry_run=dry_run)
            say(f"[wave {base['wave']}] {action} {svc}: {manual_why}; run `{cmd}`; stopping here")
            rows.append({**base, "outcome": "manual", "detail": f"{manual_why}: run `{cmd}`", **done,
                         "audit_id": aid})
            stopped_at = svc
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
                if svc in confirmed and verify is not None:  # a fresh diagnosis says whether the fix took
                    took, why = verify(svc)
                    outcome, detail = ("ok", f"{detail}; the fix took ({why})") if took and outcome == "ok" \
                        else ("failed", f"{detail}; the fix did not take: {why}")
            elif action in COMPOSE_ACTIONS:
                say(f"[wave {base['wave']}] {action} {svc}: {' '.join(params['argv'])} …")
                outcome, detail = _run_compose(client, params["argv"], COMPOSE_TIMEOUT_S[action])
                if outcome == "ok" and action == "recreate":
                    recreated[svc] = _service_container(client, project, svc, step["container"])
            else:
                say(f"[wave {base['wave']}] {action} {step['service']} ({target}) …")
                _call(client, action, target)
                outcome, detail = "ok", f"{action} accepted"
        except KeyboardInterrupt:
            audit.outcome(aid, action, target, "interrupted", "interrupted by the user", params, dry_run=dry_run)
            raise
        except EngineTimeout as exc:  # a hung engine: the run stops here, audited, never a hang
            outcome, detail = "timeout", redact.mask_text(str(exc))[:500]
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
    summary = run_summary(log, stopped_at)  # exactly what ran, what was skipped, where it stopped
    text = format_summary(status, summary)
    audit.outcome(plan_id, "apply-plan", project or "plan", status, redact.mask_text(text), summary, dry_run=dry_run)
    say(text)
    manual_stop = bool(stopped_at) and len(log) and (log["outcome"] == "manual").any()
    log.attrs.update({"status": status, "stopped_at": stopped_at, "not_run": summary["not_run"],
                      "ran": summary["ran"], "skipped": summary["skipped"], "unchecked": summary["unchecked"],
                      "audit_log": str(audit.path), "manual": bool(manual_stop)})
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
    """The plan as a plain-text, left-aligned table for the terminal."""
    if len(plan) == 0:
        return "Nothing to do: every expected service is up."
    cols = ["wave", "step", "service", "action"] + (["remedy"] if "remedy" in plan.columns else []) + \
        ["condition", "timeout_s", "reason"]
    rows = [[str(c) for c in cols]]
    for r in plan.to_dict("records"):
        t = r["timeout_s"]
        rows.append([str(r["wave"]), str(r["step"]), str(r["service"]), str(r["action"])]
                    + ([str(r.get("remedy") or "")] if "remedy" in plan.columns else [])
                    + [str(r["condition"] or ""), f"{t:g}" if isinstance(t, (int, float)) and t == t else "",
                       str(r["reason"])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    fixes = list(dict.fromkeys(plan.loc[plan["action"] == "fix", "service"]))
    if fixes:
        lines.append(f"\n{len(fixes)} service(s) need a person first (fix steps): {', '.join(map(str, fixes))}. "
                     f"`runbook plan --apply` runs what it may and stops at the first fix step; make that fix, "
                     f"then run `{RESUME_HINT}`.")
    missing = sorted(set(plan.loc[plan["manual"].astype(bool) & (plan["action"] != "fix"), "service"]))
    if missing:
        proj = f" -p {project}" if project else ""
        lines.append(f"\n{len(missing)} service(s) have no container; create them first: "
                     f"docker compose{proj} up -d {' '.join(missing)}")
    return "\n".join(lines)
