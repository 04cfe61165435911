"""`--host NAME=URL` on the engine commands: gather every named engine, run the per-host analysis,
print frames/JSON with a ``host`` column. An unreachable host shows as ``unknown`` with its reason
and never changes the exit code the other hosts earn.

The commands call ``named_hosts(args)`` first; an empty list keeps their one-engine path unchanged.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis.diagnosis import findings_records, format_findings, run_diagnosis
from runbook_lib.analysis.swarm import compose_replicas, diagnose_swarm, format_swarm, swarm_kpis, swarm_recovery_plan
from runbook_lib.cli.hostargs import named_hosts  # noqa: F401 - where the commands found it
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.engine.hosts import HostAudit, HostSpec
from runbook_lib.exceptions import RunbookError
from runbook_lib.engine.swarm import gather_swarm
from runbook_lib.engine.swarm_actions import apply_swarm_plan
from runbook_lib.multistack import MultiStack, gather_hosts
from runbook_lib.probes.discovery import standardisation
from runbook_lib.probes.rows import PROBE_COLUMNS, format_table, probe_summary, rows_to_json


def gather_named(args, hosts: list[HostSpec], **kw: Any) -> MultiStack:
    """gather_hosts with the command's project, compose files, config and timeout."""
    return gather_hosts(hosts, project=args.project, compose_files=list(args.compose or []), config=args.config,
                        profiles=getattr(args, "profile", None) or None,
                        engine_timeout_s=float(args.engine_timeout or 5.0), **kw)


def _with_host(df: pd.DataFrame, host: str) -> pd.DataFrame:
    df = df.copy()
    if "host" in df.columns:
        df = df.drop(columns=["host"])
    df.insert(0, "host", host)
    return df


def hosts_records(multi: MultiStack) -> list[dict[str, Any]]:
    return json.loads(multi.hosts_frame().to_json(orient="records"))


def print_hosts(multi: MultiStack) -> None:
    hf = multi.hosts_frame()[["host", "url", "reachable", "containers", "error"]]
    print(hf.fillna("").to_string(index=False))
    for reason in multi.degraded_reasons:
        print(f"runbook: degraded: {reason}", file=sys.stderr)


def _swarm_findings(multi: MultiStack, stack_name: str | None = None) -> dict[str, tuple[pd.DataFrame, dict]]:
    """host -> (Swarm findings, KPIs) for every reachable host that is a Swarm manager."""
    out = {}
    for host, frames in multi.swarm(stack_name).items():
        found = diagnose_swarm(frames.nodes, frames.services, frames.tasks, frames.logs)
        out[host] = (_with_host(found, host), swarm_kpis(frames.services))
    return out


def swarm_diagnosis(client: Any, host: str | None = None) -> tuple[pd.DataFrame, dict, str] | None:
    """(findings, KPIs, text) of Swarm's own failures when ``client`` is a Swarm manager; else None."""
    if client is None:
        return None
    frames = gather_swarm(client)
    if not frames.is_manager:
        return None
    found = diagnose_swarm(frames.nodes, frames.services, frames.tasks, frames.logs)
    kpis = swarm_kpis(frames.services)
    return found, kpis, format_swarm(found, kpis, host) + "\n"


def diagnose_hosts(args, hosts: list[HostSpec]) -> int:
    """`runbook diagnose --host ...`: one diagnosis per reachable host (plus Swarm's on a manager)."""
    multi = gather_named(args, hosts)
    findings, lints, notes, severe = [], [], list(multi.notes), False
    texts: list[str] = []
    for host, st in multi.stacks.items():
        if st.client is None:
            texts.append(f"== host {host}: unknown ({redact.mask_text(str(st.engine_error))})\n")
            continue
        out = run_diagnosis(st, all_containers=bool(args.all))
        severe = severe or out.has_severe
        findings.append(_with_host(out.findings, host))
        if out.lint is not None:
            lints.append(_with_host(out.lint, host))
        notes.extend(f"[{host}] {n}" for n in out.notes)
        texts.append(f"== host {host}\n" + format_findings(out.findings, out.lint, out.notes))
    swarm = _swarm_findings(multi)
    for host, (found, kpis) in swarm.items():
        severe = severe or bool(len(found) and found["severity"].isin(["critical", "high"]).any())
        texts.append(format_swarm(found, kpis, host) + "\n")
    if args.json:
        doc = {"hosts": hosts_records(multi),
               "findings": [r for df in findings for r in findings_records(df)],
               "lint": [r for df in lints for r in findings_records(df)],
               "swarm": {h: {"kpis": k, "findings": findings_records(f)} for h, (f, k) in swarm.items()},
               "notes": list(dict.fromkeys(notes)), "degraded_reasons": multi.degraded_reasons}
        print(json.dumps(redact.mask_obj(doc), indent=2, default=str, ensure_ascii=False))
    else:
        print_hosts(multi)
        print()
        print("\n".join(texts), end="")
    sys.stdout.flush()
    return 1 if severe else 0


def _unknown_probe_row(host: str, reason: str, columns: list[str]) -> pd.DataFrame:
    row = {c: None for c in columns}
    row.update(host=host, state="unknown", ok=False, error="host unavailable", detail=redact.mask_text(reason))
    return pd.DataFrame([row], columns=["host", *[c for c in columns if c != "host"]])


def probe_hosts(args, hosts: list[HostSpec]) -> int:
    """`runbook probe --host ...`: one probe round per reachable host; rows with a ``host`` column."""
    # imported here, not at the top: diagnose and plan import this module and need no probe kinds (cli defers imports)
    from runbook_lib.probes.stack_round import probe_stack  # noqa: PLC0415
    multi = gather_named(args, hosts)
    parts, notes = [], list(multi.notes)
    audits: dict[str, dict] = {}
    for host, st in multi.stacks.items():
        if st.client is None:
            parts.append((host, str(st.engine_error), None))
            continue
        try:
            res = probe_stack(st, timeout_s=args.timeout)
        except RunbookError as exc:  # this host has no catalog: its row says why, the others go on
            parts.append((host, str(exc), None))
            continue
        parts.append((host, None, res.rows))
        audits[host] = standardisation(res.audit)
        notes.extend(f"[{host}] {n}" for n in res.notes)
    columns = next((list(r.columns) for _h, _e, r in parts if r is not None and len(r.columns)), PROBE_COLUMNS)
    frames = [_with_host(r, h) if r is not None else _unknown_probe_row(h, e or "", columns) for h, e, r in parts]
    rows = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    notes = list(dict.fromkeys(notes))
    for note in notes:
        print(f"runbook: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"hosts": hosts_records(multi), "summary": probe_summary(rows), "rows": rows_to_json(rows), "endpoint_audit": audits,
                          "notes": list(dict.fromkeys(notes)), "degraded_reasons": multi.degraded_reasons}, default=str, indent=2))
    else:
        print_hosts(multi)
        print()
        for host, part in rows.groupby("host", sort=False):
            print(f"== host {host}")
            print(format_table(part.drop(columns=["host"])))
        s = probe_summary(rows)
        print(f"\n{s['probes_total']} checks: " + ", ".join(f"{k} {v}" for k, v in s["probes_by_state"].items()))
    return 0 if rows.empty or not (rows["state"] == "down").any() else 1


def plan_swarm_stack(args, hosts: list[HostSpec]) -> int:
    """`runbook plan --stack NAME [--host ...]`: the Swarm recovery plan on each manager; dry-run unless --apply."""
    multi = gather_named(args, hosts, load_compose=False)
    result: dict[str, Any] = {"stack": args.stack, "dry_run": not args.apply, "hosts": {}}
    # the compose file (when given) says which dependencies go first and how many replicas to scale back to
    cat = load_catalog(list(args.compose), project_name=args.stack) if args.compose else None
    frame, replicas = (cat.frame, compose_replicas(cat.raw, args.stack)) if cat is not None else (None, None)
    status = 0
    for host, st in multi.stacks.items():
        if st.client is None:
            result["hosts"][host] = {"status": "unknown", "error": redact.mask_text(str(st.engine_error))}
            continue
        frames = gather_swarm(st.client, args.stack, with_logs=False)
        if not frames.is_manager:
            result["hosts"][host] = {"status": "not a swarm manager", "swarm_state": frames.swarm_state}
            continue
        plan = swarm_recovery_plan(frames.services, args.stack, frame, replicas)
        audit = HostAudit(host, args.audit_log)
        log = apply_swarm_plan(st.client, plan, audit, dry_run=not args.apply, host=host,
                               progress=None if args.json else print)
        if not args.json:
            print(f"Swarm stack {args.stack} on {host}: {len(plan)} step(s), "
                  f"{'applied' if args.apply else 'dry-run'} (audit: {audit.path})")
        status = max(status, 1 if log.attrs.get("status") == "stopped" else 0)
        result["hosts"][host] = {"plan": json.loads(plan.to_json(orient="records")),
                                 "log": json.loads(log.to_json(orient="records", date_format="iso")),
                                 "audit_log": str(audit.path)}
    if args.json:
        print(json.dumps(redact.mask_obj(result), indent=2, default=str))
    return status
