"""Findings per container as records: log and health signatures plus the ones read from container state.

``classify_records(evidence, catalog)`` turns evidence rows (one per container) into
finding records (``logmatch.FINDING_COLUMNS`` keys), worst first: one finding per
(category, key fields) from the matched lines, and the signatures that are not in the
logs (OOM kill / exit 137, crash loop, slow start-up, engine unreachable, failing health
check). A failing container that matches nothing is still reported, as ``unclassified``,
with its last lines. Pure, and no pandas: ``analysis.classify.classify`` gives the frame.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.evidence import (
    events, flag, health_outputs, is_failing, last_lines, time_to_healthy_s,
)
from runbook_lib.analysis.frames import as_float, cell
from runbook_lib.analysis.match_context import MatchContext, catalog_rows, context_from_catalog
from runbook_lib.analysis.logmatch import (
    FIELD_SIGNATURES, FINDING_COLUMNS, SEVERITY_RANK, Hit, MatchTexts, line_hits, materialize,
)
from runbook_lib.analysis.stopped import STOPPED, operator_stop, stopped_finding_text
from runbook_lib.knowledge.signatures import Signature


@dataclass(frozen=True)
class Finding:
    """One finding about one container: what failed, why, how to fix it, and the lines that show it."""

    service: str | None
    container: str | None
    category: str
    title: str
    severity: str
    kind: str
    cause: str
    fix: str
    evidence: list[str]
    match_count: int = 1
    first_line: int | None = None
    source: str = "state"
    details: list[dict] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """As a dict in field order (``dataclasses.asdict`` without its deep copy: the lists are the finding's own)."""
        return dict(vars(self))


def _row(ev: Mapping[str, Any], category: str, cause: str, fix: str, evidence: list[str], *,
         severity: str | None = None, title: str | None = None, kind: str | None = None, count: int = 1,
         first_line: int | None = None, source: str = "state", details: list[dict] | None = None) -> Finding:
    meta = FIELD_SIGNATURES.get(category)
    return Finding(
        service=cell(ev, "service"), container=cell(ev, "container") or cell(ev, "name"),
        category=category, title=title or (meta.title if meta else category),
        severity=severity or (meta.severity if meta else "medium"), kind=kind or (meta.kind if meta else "cause"),
        cause=redact.mask_text(cause), fix=redact.mask_text(fix),
        evidence=[redact.mask_text(e) for e in evidence], match_count=int(count),
        first_line=first_line, source=source, details=details or [],
    )


def _aggregate(ev: Mapping[str, Any], blob: str, hits: list[Hit], texts: MatchTexts, source: str,
               max_evidence: int, max_details: int = 10, max_keys: int = 5) -> list[Finding]:
    """One finding per (category, key fields); only the few kept lines are masked and cut.

    A crash loop repeating one error 10 000 times costs one regex per line, not 10 000
    findings; a category with more than ``max_keys`` distinct keys (10 000 different
    targets) becomes one finding that says how many variants it saw.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
    keys_per_category: dict[str, set] = {}
    variant_of: dict[tuple, tuple] = {}  # (sig, captured items) -> (group key, variant id)
    variants_seen: dict[tuple, dict[tuple, Hit]] = {}
    for h in hits:
        sig, raw = h[1], h[2]
        items = (id(sig), tuple(raw.items()))
        known = variant_of.get(items)
        if known is None:
            key = (sig.category, tuple(str(raw.get(k, "")) for k in sig.key_fields))
            known = variant_of[items] = (key, (id(sig), tuple(sorted(raw.items()))))
            keys_per_category.setdefault(sig.category, set()).add(key[1])
        groups.setdefault(known[0], []).append(h)
        variants_seen.setdefault(known[0], {}).setdefault(known[1], h)
    crowded = {c for c, keys in keys_per_category.items() if len(keys) > max_keys}
    if crowded:
        merged: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
        merged_variants: dict[tuple, dict[tuple, Hit]] = {}
        for (cat, key), hs in groups.items():
            new_key = (cat, () if cat in crowded else key)
            merged.setdefault(new_key, []).extend(hs)
            for vid, h in variants_seen[(cat, key)].items():
                merged_variants.setdefault(new_key, {}).setdefault(vid, h)
        groups = {k: sorted(v, key=lambda h: h[0]) for k, v in merged.items()}
        variants_seen = merged_variants
    rows: list[Finding] = []
    for gkey, group in groups.items():
        first = materialize(blob, group[0], texts, source)
        evidence: list[str] = []
        for h in group:
            m = first if h is group[0] else materialize(blob, h, texts, source)
            for text in (m.line, *m.context):
                if text not in evidence:
                    evidence.append(text)
            if len(evidence) >= max_evidence:
                break
        variants = variants_seen[gkey]
        details = [dict(texts.get(h[1], h[2])[0]) for h in list(variants.values())[:max_details]]
        cause = first.cause
        if len(variants) > 1:
            cause += f" (and {len(variants) - 1} more like it)"
        rows.append(_row(ev, first.category, cause, first.fix, evidence[:max_evidence],
                         severity=first.severity, title=first.title, kind=first.kind, count=len(group),
                         first_line=first.line_no, source=source, details=details))
    return rows


def classify_one(ev: Mapping[str, Any], context: MatchContext | None = None,
                 signatures: Sequence[Signature] | None = None, crash_loop_restarts: int = 3,
                 max_evidence: int = 5) -> list[Finding]:
    """Findings (one record per category and key) for one container's evidence."""
    service = cell(ev, "service")
    ctx = context or MatchContext(service=service)
    if ctx.service is None and service:
        ctx = MatchContext(service=service, port_services=ctx.port_services, services=ctx.services)
    rows: list[Finding] = []
    engine_error = cell(ev, "engine_error")
    if engine_error:
        rows.append(_row(ev, "engine-unreachable",
                         "the Docker engine does not answer, so nothing can be inspected or restarted",
                         "start the engine (`systemctl start docker` / restart Docker Desktop) and check "
                         "DOCKER_HOST / the socket; then re-run `runbook diagnose`",
                         [str(engine_error)], source="engine"))
    log_lines = cell(ev, "log_lines")
    log_lines = [] if log_lines is None else list(log_lines)
    outputs = health_outputs(ev)
    texts = MatchTexts(ctx)
    for source, lines in (("log", log_lines), ("health", outputs)):
        blob, hits = line_hits(lines, source, signatures, max_hits=10_000)
        rows += _aggregate(ev, blob, hits, texts, source, max_evidence)

    exit_code = as_float(cell(ev, "exit_code"))
    oom_killed = flag(ev, "oom_killed") or any(e.get("action") == "oom" for e in events(ev))
    stop = operator_stop(ev)
    if stop is not None:  # docker stop / kill: down on purpose, not "killed" or "unclassified" (stopped.py)
        return rows + [_row(ev, STOPPED, *stopped_finding_text(ev, stop), source="events")]
    log_oom = [r for r in rows if r.category == "oom"]
    if exit_code == 137 and not oom_killed and not log_oom:  # SIGKILL without any sign of memory trouble
        rows.append(_row(ev, "killed",
                         "the process was killed with SIGKILL (exit 137) and the kernel did not report an "
                         "out-of-memory kill: `docker kill`, a stop that outlived its grace period, or another "
                         "process sent SIGKILL",
                         "start it again (`docker compose up -d <service>`); to see who killed it run `docker "
                         "events --filter event=kill`; if stops time out, handle SIGTERM or raise "
                         "`stop_grace_period`",
                         [f"exit code 137, OOMKilled={oom_killed}"], severity="high"))
    elif oom_killed or exit_code == 137:
        rows = [r for r in rows if r.category != "oom"]
        text = ("the kernel killed the process for exceeding its memory limit (OOMKilled)" if oom_killed else
                "the process was killed by SIGKILL (exit 137) after it logged running out of memory")
        code_txt = int(exit_code) if exit_code is not None else "?"
        rows.append(_row(ev, "oom", text,
                         "raise the memory limit (`deploy.resources.limits.memory` / `mem_limit`) or lower "
                         "the runtime heap (NODE_OPTIONS=--max-old-space-size, -Xmx); check `docker stats`",
                         [f"exit code {code_txt}, OOMKilled={oom_killed}",
                          *[e for r in log_oom for e in r.evidence][:max_evidence - 1]],
                         severity="critical" if oom_killed else "high",
                         count=1 + sum(r.match_count for r in log_oom)))

    restarts = as_float(cell(ev, "restart_count")) or 0
    growth = as_float(cell(ev, "restart_growth")) or 0
    state = cell(ev, "state")
    if growth > 0 or state == "restarting" or (restarts >= crash_loop_restarts and is_failing(ev)):
        grew = f" (+{int(growth)} since the previous sample)" if growth else ""
        exit_txt = f", last exit code {int(exit_code)}" if exit_code is not None else ""
        rows.append(_row(ev, "crash-loop",
                         f"restarted {int(restarts)} times{grew}{exit_txt}: the process keeps exiting and the "
                         f"restart policy hides it",
                         "fix the first error in its logs (the findings above); restarting again will not help",
                         [f"restart_count={int(restarts)}, growth={int(growth)}, state={state}"]))

    start_period = as_float(cell(ev, "start_period_s"))
    to_healthy = time_to_healthy_s(ev) if start_period is not None else None
    if start_period is not None and to_healthy is not None and to_healthy > start_period:
        rows.append(_row(ev, "slow-startup",
                         f"it needs {to_healthy:.0f} s to become healthy, but the health check's start period "
                         f"is {start_period:.0f} s: failures before that count and mark it unhealthy",
                         f"raise `healthcheck.start_period` to at least {int(to_healthy * 1.5) + 1}s (and "
                         f"dependants' wait budget), or make start-up faster (compile at build time)",
                         [f"start_period={start_period:.0f}s, time_to_healthy={to_healthy:.0f}s"]))

    has_health_finding = any(r.source == "health" for r in rows)
    if cell(ev, "health") == "unhealthy" and not has_health_finding:
        rows.append(_row(ev, "healthcheck-failing",
                         "the health check fails" + (f": {outputs[-1][:200]}" if outputs else ""),
                         "run the health-check command by hand (`docker exec <container> <test>`) and fix what "
                         "it reports; check the port and path it calls",
                         last_lines(outputs, 3), source="health"))

    if not rows and is_failing(ev):
        exit_txt = f" (exit code {int(exit_code)})" if exit_code is not None else ""
        rows.append(_row(ev, "unclassified",
                         f"no known signature matched{exit_txt}; read the last lines",
                         "read the last lines below; if this recurs, add a signature to "
                         "runbook_lib/knowledge/signatures.yaml",
                         last_lines(log_lines) or last_lines(outputs) or ["(no log lines)"],
                         source="log"))
    return rows


def _order(r: Mapping[str, Any]) -> tuple:
    """Worst first, causes before symptoms, then service and category (missing ones last, as pandas sorts)."""
    svc, cat = r.get("service"), r.get("category")
    return (SEVERITY_RANK.get(r.get("severity"), 9), r.get("kind") != "cause",
            svc is None, "" if svc is None else svc, cat is None, "" if cat is None else cat)


def classify_records(evidence: Iterable[Mapping[str, Any]], catalog: Any = None,
                     signatures: Sequence[Signature] | None = None, crash_loop_restarts: int = 3,
                     max_evidence: int = 5) -> list[dict[str, Any]]:
    """Evidence rows (one per container) -> finding records (FINDING_COLUMNS keys), worst first.

    Each evidence row may hold: service, container, state, health, log_lines, health_outputs,
    exit_code, oom_killed, restart_count, restart_growth, start_period_s, time_to_healthy_s,
    engine_error, failing. ``catalog`` (a Catalog, its frame or its rows) names services for hints.
    """
    base = context_from_catalog(catalog) if catalog is not None else MatchContext()
    periods = start_periods(catalog)
    rows: list[Finding] = []
    for ev in evidence:
        service = cell(ev, "service")
        if cell(ev, "start_period_s") is None and service in periods:
            ev = {**ev, "start_period_s": periods[service]}
        ctx = MatchContext(service=service, port_services=base.port_services, services=base.services)
        rows += classify_one(ev, ctx, signatures, crash_loop_restarts, max_evidence)
    return sorted((r.record() for r in rows), key=_order)


def start_periods(catalog: Any) -> dict[str, float]:
    """service -> healthcheck start_period_s, from a Catalog, its frame or its rows."""
    out = {}
    for row in catalog_rows(catalog) or []:
        hc = row.get("healthcheck")
        if isinstance(hc, Mapping) and hc.get("start_period_s") is not None:
            out[str(row["service"])] = float(hc["start_period_s"])
    return out
