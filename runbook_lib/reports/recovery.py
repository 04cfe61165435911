"""The recovery report's data: headline, KPIs vs the previous report, readiness, findings,
lint, plan, incident timeline and uptime, each section degrading on its own.

``build(...)`` does the I/O (engine, compose files, store, previous report) once and
returns a ``RecoveryReport``; the notebook only displays it. The pure helpers
(``headline``, ``kpi_changes``, ``timeline_frame``, ``error_bursts``) take frames.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis import tiers
from runbook_lib.analysis.diagnosis import root_cause_summary, run_diagnosis
from runbook_lib.analysis.kpis import summary_kpis as container_kpis
from runbook_lib.analysis.plan import plan_from_diagnosis
from runbook_lib.engine.logs import needs_evidence
from runbook_lib.history import uptime
from runbook_lib.reports import archive, uptime as uptime_report
from runbook_lib.stack import Stack, gather

REPORT_KIND = "recovery_report"
ERROR_LINE_RE = re.compile(r"\b(error|fatal|exception|panic|econnrefused|enotfound|killed|failed)\b", re.IGNORECASE)
TIMELINE_COLUMNS = ["service", "time", "kind", "label", "count"]


@dataclass
class RecoveryReport:
    """Everything the recovery report shows; a None frame means that section has no data."""

    project: str | None
    window: str
    start: pd.Timestamp
    end: pd.Timestamp
    findings: pd.DataFrame
    lint: pd.DataFrame | None
    status: pd.DataFrame | None
    inventory: pd.DataFrame | None
    readiness: pd.DataFrame | None
    plan: pd.DataFrame | None
    timeline: pd.DataFrame
    uptime: Any = None
    kpis: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] | None = None
    previous_path: str | None = None
    headline: str = ""
    down_since: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)
    compose_files: list[str] = field(default_factory=list)
    by_host: pd.DataFrame | None = None  # KPIs per host (several engines; ``recovery_hosts``)

    def kpi_tiles(self) -> dict[str, Any]:
        """{label: (value, change since the previous report)} for render.kpis."""
        changes = kpi_changes(self.kpis, (self.previous or {}).get("kpis"))
        return {k.replace("_", " "): (v, changes.get(k, "")) for k, v in self.kpis.items()}

    def summary(self) -> dict[str, Any]:
        """The JSON the notebook publishes (the next report compares its KPIs with these)."""
        f = self.findings
        return {
            "status": "degraded" if self.degraded_reasons else "ok",
            "degraded_reasons": list(self.degraded_reasons),
            "project": self.project, "window": self.window,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "headline": self.headline,
            "down_since": None if self.down_since is None else self.down_since.isoformat(),
            "kpis": self.kpis,
            "previous_report": self.previous_path,
            "root_causes": _root_causes(f),
            **({"kpis_by_host": self.by_host.astype(object).where(self.by_host.notna(), None).to_dict("records")}
               if self.by_host is not None else {}),
            "findings": [{**({"host": r["host"]} if "host" in r else {}), "service": r["service"], "category": r["category"], "severity": r["severity"],
                          "root_cause": bool(r["root_cause"]), "blocked_by": list(r["blocked_by"] or []),
                          "blocks": list(r["blocks"] or [])} for r in f.to_dict("records")],
            "lint": [] if self.lint is None else
            [{**({"host": r["host"]} if "host" in r else {}), "service": r["service"], "key": r["key"], "category": r["category"], "severity": r["severity"]}
             for r in self.lint.to_dict("records")],
            "readiness": [] if self.readiness is None else self.readiness.to_dict("records"),
            "plan_steps": 0 if self.plan is None else int(len(self.plan)),
        }


# -- pure helpers ---------------------------------------------------------------------
def _root_causes(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """The root causes for the summary; with a ``host`` column, per host (same service on two hosts: two)."""
    keep = ("service", "category", "severity", "blocks")
    if findings is None or not len(findings) or "host" not in findings.columns:
        return [{k: v for k, v in r.items() if k in keep} for r in root_cause_summary(findings)]
    return [{"host": h, **{k: v for k, v in r.items() if k in keep}}
            for h, g in findings.groupby("host", sort=False) for r in root_cause_summary(g)]


def with_host(frame: pd.DataFrame | None, columns: list[str]) -> list[str]:
    """``columns``, with ``host`` first when the frame has one (several engines)."""
    return ["host", *columns] if frame is not None and "host" in frame.columns else list(columns)


def down_services(status: pd.DataFrame | None, inventory: pd.DataFrame | None) -> list[str]:
    """Services that are down: from expected-vs-actual, else from the inventory."""
    if status is not None and len(status) and "is_down" in status.columns:
        return sorted(str(s) for s in status.loc[status["is_down"].astype(bool), "service"])
    if inventory is not None and len(inventory):
        return sorted({str(r["service"]) for r in inventory.to_dict("records") if needs_evidence(r)})
    return []


def down_since(inventory: pd.DataFrame | None, services: list[str]) -> pd.Timestamp | None:
    """Earliest time a down service stopped (finished_at) or last (re)started: the outage's start."""
    if inventory is None or not len(inventory) or not services:
        return None
    inv = inventory[inventory["service"].isin(services)]
    times = []
    for r in inv.to_dict("records"):
        t = r.get("finished_at") if r.get("state") != "running" else r.get("started_at")
        if t is not None and not pd.isna(t):
            times.append(pd.Timestamp(t))
    return min(times) if times else None


def headline(findings: pd.DataFrame, down: list[str], since: pd.Timestamp | None, total: int | None) -> str:
    """One sentence: what is down, since when, the root causes."""

    if not down and (findings is None or not len(findings)):
        return f"All {total} services are up; no findings." if total else "Nothing is down; no findings."
    roots = root_cause_summary(findings)
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since is not None else ""
    head = f"{len(down)} service(s) down{when}: {', '.join(down[:12])}{' …' if len(down) > 12 else ''}."
    if roots:
        head += " Root causes: " + "; ".join(f"{r['service']} ({r['category']})" for r in roots[:8]) + "."
    return head


def kpi_changes(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, str]:
    """{kpi: "+2 since previous" / "no change" / "new"} for numeric KPIs."""
    out: dict[str, str] = {}
    if not before:
        return {k: "no previous report" for k in now}
    for k, v in now.items():
        b = before.get(k)
        if isinstance(v, (int, float)) and isinstance(b, (int, float)):
            d = v - b
            out[k] = "no change" if d == 0 else f"{d:+g} since previous"
        else:
            out[k] = "new" if b is None else ""
    return out


def summary_kpis(status: pd.DataFrame | None, inventory: pd.DataFrame | None, findings: pd.DataFrame,
                 lint: pd.DataFrame | None) -> dict[str, Any]:
    """The report's KPIs (numbers only, so the next report can show the change)."""
    k: dict[str, Any] = {}
    if status is not None and len(status):
        exp = status[status["expected"].astype(bool)]
        k["services_up"] = int(exp["is_up"].sum())
        k["services_down"] = int(exp["is_down"].sum())
        k["services_expected"] = int(len(exp))
    elif inventory is not None:
        down = down_services(None, inventory)
        k["services_down"] = len(down)
        k["services_up"] = int(inventory["service"].nunique()) - len(down)
    f = findings if findings is not None else pd.DataFrame(columns=["root_cause", "severity", "service"])
    k["root_causes"] = int(f.loc[f["root_cause"].astype(bool), "service"].nunique()) if len(f) else 0
    k["findings"] = int(len(f))
    k["critical_findings"] = int((f["severity"] == "critical").sum()) if len(f) else 0
    if inventory is not None and len(inventory):
        c = container_kpis(inventory)  # "running X/Y (%)", "passing A/B (%)" as the hand-written reports had
        for key in ("containers", "running", "running_pct", "with_healthcheck", "healthy", "passing_pct"):
            k[key] = c[key]
        k["restarts"] = int(pd.to_numeric(inventory["restart_count"], errors="coerce").fillna(0).sum())
    if lint is not None:
        k["lint_findings"] = int(len(lint))
    return k


def error_bursts(evidence: pd.DataFrame | None, freq: str = "1min") -> pd.DataFrame:
    """Error-looking log lines per service per minute (from the engine's line timestamps)."""
    rows = []
    if evidence is None or not len(evidence) or "log_times" not in evidence.columns:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    for r in evidence.to_dict("records"):
        lines, times = r.get("log_lines") or [], r.get("log_times") or []
        for ln, t in zip(lines, times):
            if t and ERROR_LINE_RE.search(ln):
                rows.append({"service": r["service"], "time": t, "line": ln})
    if not rows:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    df = pd.DataFrame(rows)
    df["time"] = pd.to_datetime(df["time"], utc=True, errors="coerce").dt.floor(freq)
    df = df.dropna(subset=["time"])
    g = df.groupby(["service", "time"], sort=True).agg(count=("line", "size"), label=("line", "first")).reset_index()
    g["kind"] = "error burst"
    g["label"] = g["label"].map(lambda s: redact.mask_text(str(s)[:200]))
    return g[TIMELINE_COLUMNS]


def timeline_frame(evidence: pd.DataFrame | None, inventory: pd.DataFrame | None,
                   start: pd.Timestamp | None = None) -> pd.DataFrame:
    """State changes (started/stopped), Docker events and error bursts on one time axis."""
    parts: list[dict] = []
    if inventory is not None and len(inventory):
        for r in inventory.to_dict("records"):
            if r.get("started_at") is not None and not pd.isna(r.get("started_at")):
                parts.append({"service": r["service"], "time": r["started_at"], "kind": "state change",
                              "label": f"started (restarts: {int(r.get('restart_count') or 0)})", "count": 1})
            if r.get("state") != "running" and r.get("finished_at") is not None and not pd.isna(r.get("finished_at")):
                code = r.get("exit_code")
                code_txt = "" if code is None or pd.isna(code) else f" exit {int(code)}"
                oom = " OOMKilled" if r.get("oom_killed") else ""
                parts.append({"service": r["service"], "time": r["finished_at"], "kind": "state change",
                              "label": f"{r.get('state')}{code_txt}{oom}", "count": 1})
    if evidence is not None and len(evidence) and "events" in evidence.columns:
        for r in evidence.to_dict("records"):
            for e in r.get("events") or []:
                if e.get("time"):
                    label = e["action"] + (f" {e['detail']}" if e.get("detail") else "") + \
                        (f" (exit {e['exit_code']})" if e.get("exit_code") is not None else "")
                    parts.append({"service": r["service"], "time": e["time"], "kind": "event",
                                  "label": redact.mask_text(label), "count": 1})
    df = pd.DataFrame(parts, columns=TIMELINE_COLUMNS)
    bursts = error_bursts(evidence)
    if len(bursts):
        df = pd.concat([df, bursts], ignore_index=True) if len(df) else bursts.copy()
    if not len(df):
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    df["time"] = pd.to_datetime(df["time"], utc=True, errors="coerce")
    df = df.dropna(subset=["time"])
    if start is not None:
        df = df[df["time"] >= start]
    return df.sort_values(["time", "service"], kind="stable").reset_index(drop=True)


# -- I/O ------------------------------------------------------------------------------------
def find_previous_report(output_dir: str | Path | None, before: pd.Timestamp | None = None,
                         kind: str = REPORT_KIND) -> Path | None:
    """The newest ``outputs/YYYY-MM-DD/<kind>-HHMMSSZ.json`` written before ``before``."""
    return archive.find_previous(output_dir, kind, before)


def read_previous(path: str | Path | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def build(project: str | None = None, compose_files: list[str] | None = None, engine_url: str | None = None,
          window: str = "24h", store_path: str | None = None, config_path: str | None = None,
          previous_report: str | None = None, output_dir: str | None = None, engine_timeout_s: float = 30.0,
          tail_lines: int = 200, now: pd.Timestamp | None = None, stack: Stack | None = None) -> RecoveryReport:
    """Assemble every section over one gathered ``stack`` (gathered here when not given); a
    failing section is a degraded reason, not a crash."""
    now = now or pd.Timestamp.now(tz="UTC")
    try:
        start, end = uptime.parse_window(str(window), now)
    except Exception:  # noqa: BLE001 - a bad window: last 24 h
        start, end = now - pd.Timedelta(hours=24), now
    if stack is None:
        stack = gather(engine_url, project=project, compose_files=compose_files or (), config=config_path,
                       engine_timeout_s=engine_timeout_s)
    diag = run_diagnosis(stack, tail_lines=tail_lines, since=start.to_pydatetime())
    degraded = [f"{r}: unavailable" for r in diag.degraded_reasons]
    if "engine" in diag.degraded_reasons and len(diag.findings):
        degraded = [f"engine: {diag.findings.iloc[0]['evidence'][0]}"] + degraded[1:]
    status, inv, findings, lint = diag.status, diag.inventory, diag.findings, diag.lint
    if diag.catalog is None and "engine" not in diag.degraded_reasons:
        degraded.append("no compose files (pass compose_files, or run containers with compose labels): "
                        "no lint, no plan")

    readiness = None
    try:
        if status is not None:
            readiness = tiers.readiness_by_tier(status)
        elif inv is not None and len(inv):
            frame = inv.assign(tier=tiers.assign_tiers(inv.assign(build=False)))
            readiness = tiers.readiness_by_tier(frame)
    except Exception as exc:  # noqa: BLE001
        degraded.append(f"readiness: {exc}")

    # the uptime of the project the report is about: the parameter, else the project of the stack's compose files
    scope = project or (diag.catalog.project if diag.catalog is not None else None) or None
    plan = None
    if diag.catalog is not None and status is not None:
        try:
            plan = plan_from_diagnosis(diag.findings, status, diag.catalog.frame,
                                       project=project or diag.catalog.project, compose_files=diag.compose_files)
        except Exception as exc:  # noqa: BLE001
            degraded.append(redact.mask_text(f"plan: {exc}"))

    up = None
    try:
        up = uptime_report.build(window, store_path=store_path, project=scope, config_path=config_path, now=now)
        degraded.extend(redact.mask_text(r) for r in up.degraded_reasons)
    except Exception as exc:  # noqa: BLE001 - no store yet is normal for a first report
        diag.notes.append(redact.mask_text(f"uptime: {exc}"))

    timeline = timeline_frame(diag.evidence, inv, start)
    down = down_services(status, inv)
    since = down_since(inv, down)
    total = int(len(status)) if status is not None else (int(inv["service"].nunique()) if inv is not None else None)
    prev_path = Path(previous_report) if previous_report else find_previous_report(output_dir, before=now)
    return RecoveryReport(
        project=project or (diag.catalog.project if diag.catalog is not None else None), window=str(window),
        start=start, end=end, findings=findings, lint=lint, status=status, inventory=inv, readiness=readiness,
        plan=plan, timeline=timeline, uptime=up, kpis=summary_kpis(status, inv, findings, lint),
        previous=read_previous(prev_path), previous_path=str(prev_path) if prev_path else None,
        headline=headline(findings, down, since, total), down_since=since, notes=diag.notes,
        degraded_reasons=degraded, compose_files=diag.compose_files)


def findings_display(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings table as shown: evidence joined into one block per finding."""
    if findings is None or not len(findings):
        return pd.DataFrame(columns=["root_cause", "service", "severity", "category", "cause", "fix", "evidence",
                                     "blocked_by", "blocks"])
    out = findings.copy()
    out["evidence"] = out["evidence"].map(lambda v: "\n".join(v or []))
    out["root_cause"] = out["root_cause"].map(lambda b: "root cause" if b else "blocked")
    return out[with_host(out, ["root_cause", "service", "severity", "category", "cause", "fix", "evidence", "blocked_by",
                               "blocks"])]
