"""A recovery plan run over its rows: the guard rails, the step loop, the audit and the text form.

No pandas and no docker SDK here: the dry-run of `runbook plan` runs entirely in this module
(audited, no engine call at all). A real run passes ``steps``, the object that makes the
engine calls (``engine.actions.DockerSteps``); ``engine.actions.apply_plan`` is this run with
the plan and the log as frames. The guard rails are described in ``engine.actions``.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from runbook_lib import redact
from runbook_lib.engine.audit_log import AuditLog
from runbook_lib.engine.run_summary import format_summary, run_summary
from runbook_lib.exceptions import ActionRefused, EngineTimeout

__all__ = ["ALLOWED_ACTIONS", "COMPOSE_ACTIONS", "COMPOSE_TIMEOUT_S", "FORBIDDEN_WORDS", "LOG_COLUMNS",
           "MUTATING_ACTIONS", "RESUME_HINT", "PlanRun", "Progress", "Steps", "Verify", "compose_argv",
           "compose_binary", "format_plan_rows", "guard", "run_plan"]

ALLOWED_ACTIONS = frozenset({"start", "restart", "unpause", "wait", "fix", "build", "recreate",
                             "service-update-force", "service-scale"})  # the last two: engine/swarm_actions.py
MUTATING_ACTIONS = frozenset({"start", "restart", "unpause", "build", "recreate"})
COMPOSE_ACTIONS = {"recreate": ("up", "-d", "--no-deps"), "build": ("build",)}
FORBIDDEN_WORDS = frozenset({"down", "rm", "-v", "--volumes", "prune", "kill", "stop", "--force-recreate",
                             "--remove-orphans", "--renew-anon-volumes", "-V"})
COMPOSE_TIMEOUT_S = {"recreate": 300.0, "build": 1800.0}
LOG_COLUMNS = ["wave", "step", "service", "container", "action", "condition", "outcome", "detail",
               "started_at", "duration_s", "audit_id"]

Progress = Callable[[str], None]
Verify = Callable[[str], "tuple[bool, str]"]
RESUME_HINT = "runbook plan --apply --resume"


class Steps(Protocol):
    """The engine calls of a real run (``engine.actions.DockerSteps``); a dry-run makes none."""

    def call(self, action: str, container: str) -> None: ...

    def wait(self, container: str, condition: str, timeout_s: float, poll_interval_s: float) -> tuple[str, str]: ...

    def compose(self, argv: list[str], timeout_s: float) -> tuple[str, str]: ...

    def container_after_recreate(self, project: str | None, service: str, old: Any) -> str | None: ...


@dataclass
class PlanRun:
    """The execution log (LOG_COLUMNS rows) and what the frame keeps in ``attrs`` (status, stopped_at …)."""

    rows: list[dict[str, Any]]
    attrs: dict[str, Any] = field(default_factory=dict)


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


def positive(value: Any) -> float | None:
    """A positive number of seconds, or None (None, NaN, 0, junk)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f > 0 else None


def _in_run_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In a wave: services that need no person (started, then awaited), then the others; then by step."""
    manual = {r["service"] for r in rows if r["action"] == "fix"}
    return sorted(rows, key=lambda r: (r["wave"], r["service"] in manual,
                                       r["action"] == "wait" and r["service"] not in manual, r["step"]))


def run_plan(plan: Iterable[Mapping[str, Any]], plan_attrs: Mapping[str, Any] | None = None, catalog: Any = None,
             audit: AuditLog | None = None, budget_s: float | None = None, progress: Progress | None = print,
             dry_run: bool = False, poll_interval_s: float = 0.5, *, compose_files: Iterable[str] | None = None,
             confirmed: Iterable[str] = (), verify: Verify | None = None, compose: list[str] | None = None,
             steps: Steps | None = None) -> PlanRun:
    """Execute a plan's rows wave by wave (``engine.actions.apply_plan``'s contract); return the log rows.

    ``plan_attrs``: project and compose_files of the plan (``PlanRecords.attrs`` or the frame's
    attrs). ``steps`` makes the engine calls; a dry-run needs none and makes none.
    """
    plan = [dict(r) for r in plan]
    attrs = dict(plan_attrs or {})
    say = progress or (lambda _msg: None)
    audit = audit or AuditLog()
    # refuse the whole plan before doing anything if one action is not allowed
    for a in (r["action"] for r in plan):
        if str(a) not in ALLOWED_ACTIONS:
            audit.event(str(a), None, "refused", "action not on the allow-list; plan not executed",
                        dry_run=dry_run)
            guard(a)
    if not dry_run and steps is None:
        raise ActionRefused("a real run needs the engine calls (steps); only a dry-run runs without them.")
    project = getattr(catalog, "project", None) or attrs.get("project")
    files = [str(f) for f in (compose_files if compose_files is not None else attrs.get("compose_files") or [])]
    confirmed = {str(c) for c in confirmed}
    plan_id = audit.started("apply-plan", project or "plan", {
        "steps": len(plan), "services": sorted({r["service"] for r in plan}),
        "budget_s": budget_s, "confirmed": sorted(confirmed)}, dry_run=dry_run)
    rows: list[dict[str, Any]] = []
    seen: set[Any] = set()  # services with a row in the log
    stopped_at: str | None = None
    recreated: dict[str, str | None] = {}
    binary: list[str] | None = None
    missing_files: list[str] | None = None  # compose files not on this machine, looked up once per run
    for step in _in_run_order(plan):
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
        params: dict[str, Any] = {"service": svc, "wave": int(step["wave"])}
        if isinstance(step.get("finding"), str):
            params["finding"] = step["finding"]
        if action == "wait":
            timeout = positive(budget_s) or positive(step["timeout_s"]) or 30.0
            params.update({"condition": step["condition"], "timeout_s": timeout})
        t0, started_at = time.monotonic(), datetime.now(timezone.utc)
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
            seen.add(step["service"])
            continue
        manual_why = None
        if action in COMPOSE_ACTIONS:
            cmd = step.get("command") or f"docker compose up -d --no-deps {svc}"
            if missing_files is None:
                missing_files = [f for f in files if not Path(f).is_file()]
            if binary is None and files and not missing_files:
                binary = compose or compose_binary()
            if missing_files or not files:
                manual_why = "the compose files are not on this machine" if files else "no compose files"
            elif binary is None:
                manual_why = "neither `docker compose` nor `docker-compose` is installed"
            else:
                params["argv"] = compose_argv(action, svc, project, files, binary)
                target = svc
        elif target is None and action == "wait" and dry_run and svc in seen:
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
            seen.add(step["service"])
            stopped_at = svc
            continue
        aid = audit.started(action, target, params, dry_run=dry_run)
        try:
            if dry_run:
                outcome, detail = "dry-run", "not executed (dry-run)"
            elif action == "wait":
                say(f"[wave {base['wave']}] wait for {step['service']} to be {params['condition']} "
                    f"(up to {params['timeout_s']:g} s) …")
                outcome, detail = steps.wait(target, str(step["condition"]), params["timeout_s"], poll_interval_s)
                if svc in confirmed and verify is not None:  # a fresh diagnosis says whether the fix took
                    took, why = verify(svc)
                    outcome, detail = ("ok", f"{detail}; the fix took ({why})") if took and outcome == "ok" \
                        else ("failed", f"{detail}; the fix did not take: {why}")
            elif action in COMPOSE_ACTIONS:
                say(f"[wave {base['wave']}] {action} {svc}: {' '.join(params['argv'])} …")
                outcome, detail = steps.compose(params["argv"], COMPOSE_TIMEOUT_S[action])
                if outcome == "ok" and action == "recreate":
                    recreated[svc] = steps.container_after_recreate(project, svc, step["container"])
            else:
                say(f"[wave {base['wave']}] {action} {step['service']} ({target}) …")
                steps.call(action, target)
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
        seen.add(step["service"])
        if outcome not in ("ok", "dry-run"):
            stopped_at = str(step["service"])
    status = "stopped" if stopped_at else ("dry-run" if dry_run else "complete")
    summary = run_summary(rows, stopped_at)  # exactly what ran, what was skipped, where it stopped
    text = format_summary(status, summary)
    audit.outcome(plan_id, "apply-plan", project or "plan", status, redact.mask_text(text), summary, dry_run=dry_run)
    say(text)
    manual_stop = bool(stopped_at) and any(r["outcome"] == "manual" for r in rows)
    return PlanRun(rows=rows, attrs={"status": status, "stopped_at": stopped_at, "not_run": summary["not_run"],
                                     "ran": summary["ran"], "skipped": summary["skipped"],
                                     "unchecked": summary["unchecked"], "audit_log": str(audit.path),
                                     "manual": bool(manual_stop)})


def format_plan_rows(plan: Iterable[Mapping[str, Any]], project: str | None = None,
                     columns: Iterable[str] | None = None) -> str:
    """The plan as a plain-text, left-aligned table for the terminal (``columns``: the plan's; default: the
    first row's keys)."""
    plan = list(plan)
    if len(plan) == 0:
        return "Nothing to do: every expected service is up."
    has_remedy = "remedy" in (list(columns) if columns is not None else plan[0])
    cols = ["wave", "step", "service", "action"] + (["remedy"] if has_remedy else []) + \
        ["condition", "timeout_s", "reason"]
    rows = [[str(c) for c in cols]]
    for r in plan:
        t = r["timeout_s"]
        rows.append([str(r["wave"]), str(r["step"]), str(r["service"]), str(r["action"])]
                    + ([str(r.get("remedy") or "")] if has_remedy else [])
                    + [str(r["condition"] or ""), f"{t:g}" if isinstance(t, (int, float)) and t == t else "",
                       str(r["reason"])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    fixes = list(dict.fromkeys(r["service"] for r in plan if r["action"] == "fix"))
    if fixes:
        lines.append(f"\n{len(fixes)} service(s) need a person first (fix steps): {', '.join(map(str, fixes))}. "
                     f"`runbook plan --apply` runs what it may and stops at the first fix step; make that fix, "
                     f"then run `{RESUME_HINT}`.")
    missing = sorted({r["service"] for r in plan if bool(r["manual"]) and r["action"] != "fix"})
    if missing:
        proj = f" -p {project}" if project else ""
        lines.append(f"\n{len(missing)} service(s) have no container; create them first: "
                     f"docker compose{proj} up -d {' '.join(missing)}")
    return "\n".join(lines)
