"""Diagnosis over records: evidence -> findings (cause, fix, evidence), root causes first (no pandas).

``diagnose_records(evidence, catalog, status)`` classifies each container's evidence with the
signature table (``classify_records``) and joins the findings with "blocked by" from the
catalog: a failing service none of whose dependencies fails is a *root cause*; the services
that depend on it are listed as what it *blocks*, and their own findings come after the root
causes, except those that are the service's own fault (``OWN_FAULT``: a missing module,
calling localhost …), which lead too. ``format_findings`` and ``findings_json`` show them.
Pure over lists of dicts; ``analysis.diagnosis`` gives the same as frames.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.classify_records import Finding, classify_records
from runbook_lib.analysis.expected_records import dependency_graph_rows, root_causes
from runbook_lib.analysis.frames import as_list, is_missing, rows_of
from runbook_lib.analysis.match_context import catalog_rows

FINDING_COLUMNS = [
    "service", "container", "category", "title", "severity", "kind", "cause", "fix", "evidence",
    "root_cause", "blocked_by", "blocks", "match_count", "source", "details",
]
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
SEVERE = frozenset({"critical", "high"})  # a finding this bad makes `runbook diagnose` exit 1
# A finding in one of these categories is the service's own fault: bringing its dependencies
# back will not fix it, so it counts as a root cause even when the service is also blocked.
OWN_FAULT = frozenset({
    "missing-module", "typescript-compile-error", "localhost-connection-refused", "port-in-use",
    "healthcheck-command-missing", "command-not-found", "missing-npm-script", "missing-env-var",
    "permission-denied", "oom", "disk-full", "engine-unreachable", "db-auth-failure", "slow-startup",
    "not-created", "stopped",
})
DOWN_ACTUAL = {"not-created", "created", "running-unhealthy", "restarting", "exited", "paused", "dead"}


def catalog_graph(catalog: Any) -> dict[str, list[str]]:
    """service -> services it depends on, from a Catalog (raw specs), its frame or its rows."""
    raw = getattr(catalog, "raw", None)
    if isinstance(raw, Mapping) and raw:
        return {str(s): sorted({str(d["service"]) for d in (spec.get("depends_on") or [])}) for s, spec in raw.items()}
    rows = catalog_rows(catalog) if catalog is not None else None
    if rows and "depends_on" in rows[0]:
        return dependency_graph_rows(rows)
    return {}


def blocking_records(findings: list[Mapping[str, Any]], catalog: Any = None,
                     status: list[Mapping[str, Any]] | None = None
                     ) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
    """(root-cause services, service -> blocked by, service -> blocks).

    From the expected-vs-actual rows when given (their down set covers services with no
    container at all), else from the catalog's depends_on over the services that have
    findings; with neither, every service with a finding is its own root cause.
    """
    failing = {str(r["service"]) for r in findings if r.get("service") is not None}
    if status and {"root_cause", "blocked_by", "blocks"} <= set(status[0]):
        roots = {str(r["service"]) for r in status if bool(r["root_cause"])}
        blocked_by = {str(r["service"]): as_list(r["blocked_by"]) for r in status if as_list(r["blocked_by"])}
        blocks = {str(r["service"]): as_list(r["blocks"]) for r in status if as_list(r["blocks"])}
        known = {str(r["service"]) for r in status}
        roots |= {s for s in failing if s not in known or (s not in blocked_by)}
        return roots, blocked_by, blocks
    graph = catalog_graph(catalog)
    if not graph:
        return failing, {}, {}
    for s in failing:
        graph.setdefault(s, [])
    return root_causes(graph, failing)


def _status_findings(status: list[Mapping[str, Any]] | None, have: set[str]) -> list[Finding]:
    """Services down with no container evidence (not created, created but never started)."""
    rows: list[Finding] = []
    if not status or "actual" not in status[0]:
        return rows
    for r in status:
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


def _order(r: Mapping[str, Any]) -> tuple:
    """Root causes first, then worst, causes before symptoms, most blocked, service, category (missing last)."""
    svc, cat = r["service"], r["category"]
    return (not bool(r["root_cause"]), SEVERITY_RANK.get(r["severity"], 9), r["kind"] != "cause", -len(r["blocks"]),
            svc is None, "" if svc is None else svc, cat is None, "" if cat is None else cat)


def diagnose_records(evidence: Iterable[Mapping[str, Any]], catalog: Any = None,
                     status: list[Mapping[str, Any]] | None = None, signatures: Any = None) -> list[dict[str, Any]]:
    """Finding records (FINDING_COLUMNS keys), root causes first, then what they block; evidence masked."""
    found = classify_records(rows_of(evidence), catalog=catalog, signatures=signatures)
    status = rows_of(status) if status is not None else None
    rows = found + [f.record() for f in _status_findings(status, {r["service"] for r in found})]
    if not rows:
        return []
    roots, blocked_by, blocks = blocking_records(rows, catalog, status)
    out = []
    for r in rows:
        s = r["service"]
        r = {**r, "root_cause": s in roots or s is None or (r["category"] in OWN_FAULT and r["kind"] == "cause"),
             "blocked_by": list(blocked_by.get(str(s), [])), "blocks": list(blocks.get(str(s), []))}
        ev = r["evidence"]
        r["evidence"] = [redact.mask_text(str(e)) for e in (ev if isinstance(ev, list) else [ev])]
        for c in ("cause", "fix"):
            r[c] = redact.mask_text(str(r[c])) if r[c] is not None else r[c]
        out.append({c: r.get(c) for c in FINDING_COLUMNS})
    return sorted(out, key=_order)


def is_root(finding: Mapping[str, Any]) -> bool:
    """True when a finding is a root cause (a missing flag reads as False)."""
    v = finding.get("root_cause")
    return False if is_missing(v) else bool(v)


def root_cause_summary(findings: Any) -> list[dict[str, Any]]:
    """One entry per root-cause service: its worst finding and what it blocks (for headlines); rows or a frame."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows_of(findings):
        if not is_root(r):
            continue
        svc = str(r["service"])
        if svc in seen:
            continue
        seen.add(svc)
        out.append({"service": svc, "category": r["category"], "cause": r["cause"], "fix": r["fix"],
                    "severity": r["severity"], "blocks": list(r["blocks"] or [])})
    return out


def has_severe(findings: Iterable[Mapping[str, Any]]) -> bool:
    """True when a finding is critical or high."""
    return any(r.get("severity") in SEVERE for r in findings)


# -- JSON / terminal ------------------------------------------------------------------
def json_safe(v: Any) -> Any:
    """A value JSON can write: NaN -> None, timestamps -> ISO text, numpy scalars -> Python ones."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, datetime) and not is_missing(v):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return str(v)
    return v


def findings_json(findings: Any) -> list[dict[str, Any]]:
    """Findings (rows or a frame) as JSON-safe dicts (masked where they were made)."""
    return [json_safe(r) for r in rows_of(findings)]


def format_findings_records(findings: list[Mapping[str, Any]] | None, lint: list[Mapping[str, Any]] | None = None,
                            notes: list[str] | None = None, max_evidence: int = 4, width: int = 160) -> str:
    """Findings for a terminal: root causes, then blocked services, then compose lint."""
    lines: list[str] = []

    def cut(text: Any) -> str:
        s = str(text).replace("\n", " ")
        return s if len(s) <= width else s[: width - 1] + "…"

    def block(title: str, rows: list[Mapping[str, Any]]) -> None:
        lines.append(f"{title} ({len(rows)})")
        for r in rows:
            extra = f"  blocks: {', '.join(r['blocks'])}" if r["blocks"] else ""
            extra += f"  blocked by: {', '.join(r['blocked_by'])}" if r["blocked_by"] else ""
            lines.append(f"  [{r['severity']}] {r['service'] or '(engine)'}: {r['category']}{extra}")
            lines.append(f"      cause: {cut(r['cause'])}")
            lines.append(f"      fix:   {cut(r['fix'])}")
            for e in list(r["evidence"] or [])[:max_evidence]:
                lines.append(f"      | {cut(e)}")
        lines.append("")

    if not findings:
        lines += ["No findings: every container is running and healthy (or none matched).", ""]
    else:
        rest = [r for r in findings if not bool(r["root_cause"])]
        block("ROOT CAUSES", [r for r in findings if bool(r["root_cause"])])
        if rest:
            block("BLOCKED (fix the root causes first)", rest)
    if lint:
        lines.append(f"COMPOSE LINT ({len(lint)})")
        for r in lint:
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
class DiagnosisRecords:
    """What `runbook diagnose` shows, as records: findings first, then what they rest on.

    ``findings``, ``evidence``, ``lint``, ``status``, ``inventory``: lists of dicts with the
    columns of ``analysis.diagnosis.Diagnosis``'s frames (``lint``/``status``/``inventory`` None
    when not gathered); ``catalog`` the stack's catalog (``rows``, ``raw``, ``files``, ``project``).
    """

    findings: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    lint: list[dict[str, Any]] | None = None
    status: list[dict[str, Any]] | None = None
    inventory: list[dict[str, Any]] | None = None
    catalog: Any = None
    project: str | None = None
    compose_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)
    evidence_attrs: dict[str, Any] = field(default_factory=dict)  # what the evidence gatherer said (notes …)

    @property
    def root_causes(self) -> list[dict[str, Any]]:
        """The findings that are root causes (the rest are blocked by them)."""
        return [r for r in self.findings if is_root(r)]

    @property
    def has_severe(self) -> bool:
        """True when a finding is critical or high (`runbook diagnose` exits 1)."""
        return has_severe(self.findings)
