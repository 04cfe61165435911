"""Diagnosis: evidence -> findings (cause, fix, evidence), root causes first.

``diagnose(evidence, catalog, status)`` classifies each container's evidence with the
signature table (``signatures.classify``) and joins the findings with "blocked by"
from the catalog: a failing service none of whose dependencies fails is a *root
cause*; the services that depend on it are listed as what it *blocks*, and their own
findings come after the root causes, except those that are the service's own fault
(``OWN_FAULT``: a missing module, calling localhost …), which lead too. Pure over frames.

``run_diagnosis(stack)`` is what ``runbook diagnose`` and the recovery report run over a
gathered ``Stack``: it reads the failing containers' logs through the stack's client,
joins them with the catalog and the compose lint, and returns a ``Diagnosis``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis.blocked import with_blocked
from runbook_lib.analysis.classify import Finding, classify
from runbook_lib.analysis.expected import dependency_graph, expected_vs_actual, root_causes
from runbook_lib.analysis.fold import crash_loops, fold, root_services
from runbook_lib.analysis.lint import lint_catalog
from runbook_lib.compose.catalog import Catalog
from runbook_lib.engine.evidence_frame import gather_evidence
from runbook_lib.stack import Stack

FINDING_COLUMNS = [
    "service", "container", "category", "title", "severity", "kind", "cause", "fix", "evidence",
    "root_cause", "blocked_by", "blocks", "match_count", "source", "details",
]
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# A finding in one of these categories is the service's own fault: bringing its dependencies
# back will not fix it, so it counts as a root cause even when the service is also blocked.
OWN_FAULT = frozenset({
    "missing-module", "typescript-compile-error", "localhost-connection-refused", "port-in-use",
    "healthcheck-command-missing", "command-not-found", "missing-npm-script", "missing-env-var",
    "permission-denied", "oom", "disk-full", "engine-unreachable", "db-auth-failure", "slow-startup",
    "not-created", "stopped",
})
DOWN_ACTUAL = {"not-created", "created", "running-unhealthy", "restarting", "exited", "paused", "dead"}


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})


def _graph(catalog: Any) -> dict[str, list[str]]:
    """service -> services it depends on, from a Catalog (or its frame)."""
    raw = getattr(catalog, "raw", None)
    if isinstance(raw, Mapping) and raw:
        return {str(s): sorted({str(d["service"]) for d in (spec.get("depends_on") or [])}) for s, spec in raw.items()}
    frame = getattr(catalog, "frame", catalog)
    if isinstance(frame, pd.DataFrame) and "depends_on" in frame.columns:
        return dependency_graph(frame)
    return {}


def blocking(findings: pd.DataFrame, catalog: Any = None, status: pd.DataFrame | None = None
             ) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
    """(root-cause services, service -> blocked by, service -> blocks).

    From the expected-vs-actual frame when given (its down set covers services with no
    container at all), else from the catalog's depends_on over the services that have
    findings; with neither, every service with a finding is its own root cause.
    """
    failing = {str(s) for s in findings.get("service", []) if s is not None}
    if status is not None and len(status) and {"root_cause", "blocked_by", "blocks"} <= set(status.columns):
        roots = {str(s) for s, r in zip(status["service"], status["root_cause"]) if bool(r)}
        blocked_by = {str(s): list(b) for s, b in zip(status["service"], status["blocked_by"]) if list(b or [])}
        blocks = {str(s): list(b) for s, b in zip(status["service"], status["blocks"]) if list(b or [])}
        known = set(str(s) for s in status["service"])
        roots |= {s for s in failing if s not in known or (s not in blocked_by)}
        return roots, blocked_by, blocks
    graph = _graph(catalog)
    if not graph:
        return failing, {}, {}
    for s in failing:
        graph.setdefault(s, [])
    return root_causes(graph, failing)


def _status_findings(status: pd.DataFrame | None, have: set[str]) -> list[Finding]:
    """Services down with no container evidence (not created, created but never started)."""
    rows: list[Finding] = []
    if status is None or not len(status) or "actual" not in status.columns:
        return rows
    for r in status.to_dict("records"):
        svc = str(r["service"])
        if svc in have or not r.get("expected", True) or r.get("actual") not in ("not-created", "created"):
            continue
        rows.append(Finding(
            service=svc, container=r.get("container"), category=str(r["actual"]),
            title="Not created" if r["actual"] == "not-created" else "Created, never started",
            severity="high", kind="cause",
            cause=f"the compose file declares {svc} but no container of it "
                  + ("exists" if r["actual"] == "not-created" else "was started"),
            fix=f"docker compose up -d {svc}", evidence=[str(r.get("detail") or r["actual"])],
        ))
    return rows


def diagnose(evidence: pd.DataFrame | list[Mapping[str, Any]], catalog: Any = None,
             status: pd.DataFrame | None = None, signatures: Any = None) -> pd.DataFrame:
    """Findings (FINDING_COLUMNS), root causes first, then what they block; evidence masked."""
    ev = evidence if isinstance(evidence, pd.DataFrame) else pd.DataFrame(list(evidence))
    found = classify(ev, catalog=catalog, signatures=signatures) if len(ev) else classify([])
    rows = found.to_dict("records") + [asdict(f) for f in _status_findings(status, set(found.get("service", [])))]
    if not rows:
        return empty_findings()
    df = pd.DataFrame(rows)
    roots, blocked_by, blocks = blocking(df, catalog, status)
    df["root_cause"] = [s in roots or s is None or (c in OWN_FAULT and k == "cause")
                        for s, c, k in zip(df["service"], df["category"], df["kind"])]
    df["blocked_by"] = [list(blocked_by.get(str(s), [])) for s in df["service"]]
    df["blocks"] = [list(blocks.get(str(s), [])) for s in df["service"]]
    df["evidence"] = [[redact.mask_text(str(e)) for e in (v if isinstance(v, list) else [v])] for v in df["evidence"]]
    for c in ("cause", "fix"):
        df[c] = df[c].map(lambda v: redact.mask_text(str(v)) if v is not None else v)
    for c in FINDING_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df.assign(_root=(~df["root_cause"].astype(bool)).astype(int),
                   _sev=df["severity"].map(SEVERITY_RANK).fillna(9),
                   _kind=(df["kind"] != "cause").astype(int),
                   _blocks=-df["blocks"].map(len))
    df = df.sort_values(["_root", "_sev", "_kind", "_blocks", "service", "category"], kind="stable")
    return df[FINDING_COLUMNS].reset_index(drop=True)


def root_cause_summary(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per root-cause service: its worst finding and what it blocks (for headlines)."""
    out: list[dict[str, Any]] = []
    if findings is None or not len(findings):
        return out
    seen: set[str] = set()
    for r in findings[findings["root_cause"].astype(bool)].to_dict("records"):
        svc = str(r["service"])
        if svc in seen:
            continue
        seen.add(svc)
        out.append({"service": svc, "category": r["category"], "cause": r["cause"], "fix": r["fix"],
                    "severity": r["severity"], "blocks": list(r["blocks"] or [])})
    return out


# -- JSON / terminal ------------------------------------------------------------------
def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return str(v)
    return v


def findings_records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings as JSON-safe dicts (masked)."""
    if findings is None or not len(findings):
        return []
    return [_json_safe(r) for r in findings.to_dict("records")]  # fields are masked where made


def format_findings(findings: pd.DataFrame, lint: pd.DataFrame | None = None, notes: list[str] | None = None,
                    max_evidence: int = 4, width: int = 160) -> str:
    """Findings for a terminal: root causes, then blocked services, then compose lint."""
    lines: list[str] = []

    def cut(text: Any) -> str:
        s = str(text).replace("\n", " ")
        return s if len(s) <= width else s[: width - 1] + "…"

    def block(title: str, df: pd.DataFrame) -> None:
        lines.append(f"{title} ({len(df)})")
        for r in df.to_dict("records"):
            extra = f"  blocks: {', '.join(r['blocks'])}" if r["blocks"] else ""
            extra += f"  blocked by: {', '.join(r['blocked_by'])}" if r["blocked_by"] else ""
            lines.append(f"  [{r['severity']}] {r['service'] or '(engine)'}: {r['category']}{extra}")
            lines.append(f"      cause: {cut(r['cause'])}")
            lines.append(f"      fix:   {cut(r['fix'])}")
            for e in list(r["evidence"] or [])[:max_evidence]:
                lines.append(f"      | {cut(e)}")
        lines.append("")

    if findings is None or not len(findings):
        lines += ["No findings: every container is running and healthy (or none matched).", ""]
    else:
        roots = findings[findings["root_cause"].astype(bool)]
        rest = findings[~findings["root_cause"].astype(bool)]
        block("ROOT CAUSES", roots)
        if len(rest):
            block("BLOCKED (fix the root causes first)", rest)
    if lint is not None and len(lint):
        lines.append(f"COMPOSE LINT ({len(lint)})")
        for r in lint.to_dict("records"):
            lines.append(f"  [{r['severity']}] {r['file']}: {r['service']}: {r['key']}: {r['category']}")
            lines.append(f"      {cut(r['message'])}")
            lines.append(f"      fix: {cut(r['fix'])}")
        lines.append("")
    for n in notes or []:
        lines.append(f"note: {n}")
    # every field was masked where it was made (classify, lint, gather): masking the joined
    # text again would eat lines such as "auth: missing-module" (a key named like a secret)
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class Diagnosis:
    """What `runbook diagnose` and the recovery report show: findings first, then what they rest on."""

    findings: pd.DataFrame
    evidence: pd.DataFrame
    lint: pd.DataFrame | None = None
    status: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None
    catalog: Catalog | None = None
    project: str | None = None
    compose_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)

    @property
    def root_causes(self) -> pd.DataFrame:
        """The findings that are root causes (the rest are blocked by them)."""
        if self.findings is None or not len(self.findings):
            return empty_findings()
        return self.findings[self.findings["root_cause"].astype(bool)].reset_index(drop=True)

    @property
    def has_severe(self) -> bool:
        """True when a finding is critical or high (`runbook diagnose` exits 1)."""
        return bool(len(self.findings)) and bool(self.findings["severity"].isin(["critical", "high"]).any())


def run_diagnosis(stack: Stack, *, all_containers: bool = False, tail_lines: int = 200,
                  since: datetime | pd.Timestamp | None = None) -> Diagnosis:
    """Diagnose a gathered stack, degrading instead of failing (no engine: one finding, lint still runs).

    Reads the logs of the failing containers (every container with ``all_containers``)
    through the stack's client; never connects on its own.
    """
    notes = list(stack.notes)
    degraded = list(stack.degraded_reasons)
    catalog = stack.catalog
    inv = stack.inventory if stack.engine_ok else None
    status = None
    if catalog is not None and inv is not None:
        status = crash_loops(expected_vs_actual(catalog.frame, inv, project=stack.project), inv,
                             now=stack.gathered_at)
    lint_df = None
    if catalog is not None:
        try:
            lint_df = lint_catalog(catalog)
        except Exception as exc:  # noqa: BLE001 - lint is a side section: degrade, never fail the diagnosis
            notes.append(redact.mask_text(f"lint failed: {exc}"))
            degraded.append("lint")
    if not stack.engine_ok:
        if "engine" not in degraded:
            degraded.insert(0, "engine")
        evidence = pd.DataFrame([{"service": None, "name": None,
                                  "engine_error": redact.mask_text(
                                      str(stack.engine_error or "the Docker engine was not contacted")),
                                  "log_lines": [], "state": None}])
        findings = diagnose(evidence, catalog=None, status=None)
    else:
        evidence = gather_evidence(stack.client, inv, all=all_containers, tail_lines=tail_lines, since=since)
        notes += [n for n in evidence.attrs.get("notes", []) if n not in notes]
        findings = diagnose(evidence, catalog=catalog, status=status)
        if status is not None:
            findings = fold(findings, status, catalog.frame)
            status = with_blocked(status, catalog.frame, root_services(findings))
        else:
            findings = fold(findings)
    return Diagnosis(findings=findings, evidence=evidence, lint=lint_df, status=status, inventory=inv,
                     catalog=catalog, project=stack.project, compose_files=list(stack.compose_files),
                     notes=notes, degraded_reasons=degraded)
