"""Log signatures: match text against the signature table from ``knowledge`` (no pandas).

The table (``knowledge/signatures.yaml``: category, cause, fix, severity, needles,
patterns …) is data; this module is the matcher. Matching joins a container's lines
once, finds needle hits with one Aho-Corasick pass (``str.find`` per needle without
it), and runs a pattern only on a bounded window around each hit, so 40 containers x
10 000 lines take a fraction of a second and a 1 MB line costs no more than a short one.
A line is attributed to the first signature (table order) that matches it. Every
evidence line and every captured value is masked with ``redact.mask_text``.

``analysis.signatures`` is the public face (it adds ``signature_table``, a frame); findings
per container live in ``analysis.classify_records``.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.evidence import ANSI_RE, MAX_LINE_CHARS, cut_line
from runbook_lib.analysis.match_context import ENRICHERS, MatchContext, context_from_catalog, port_service_map
from runbook_lib.knowledge.signatures import SEVERITIES, SEVERITY_RANK, Signature, log_signatures, state_signatures

try:  # one pass for every needle; without it each needle is one str.find (about 5x slower)
    import ahocorasick_rs as _ac
except ImportError:  # pragma: no cover - the fallback is exercised by tests via monkeypatch
    _ac = None

__all__ = ["FIELD_SIGNATURES", "FINDING_COLUMNS", "MAX_LINE_CHARS", "SEVERITIES", "SEVERITY_RANK", "SIGNATURES",
           "Hit", "Match", "MatchContext", "MatchTexts", "Signature", "context_from_catalog", "cut_line", "line_hits",
           "match_lines", "materialize", "port_service_map"]

FINDING_COLUMNS = [
    "service", "container", "category", "title", "severity", "kind", "cause", "fix",
    "evidence", "match_count", "first_line", "source", "details",
]
# The signature tables (tests and callers may swap SIGNATURES for another list).
SIGNATURES: list[Signature] = list(log_signatures())
FIELD_SIGNATURES = {s.category: s for s in state_signatures()}

_WINDOW_BEFORE = 400   # chars of a line searched before a needle hit
_WINDOW_AFTER = 800    # chars searched after it


@dataclass(frozen=True)
class Match:
    """One line attributed to one signature; text masked, long lines cut."""

    category: str
    severity: str
    title: str
    kind: str
    cause: str
    fix: str
    line_no: int
    line: str
    fields: Mapping[str, str]
    source: str
    key: tuple[str, ...]
    context: tuple[str, ...] = ()


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _ascii_lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # a few Unicode letters change length when lowered: keep positions
        low = text.translate(_ASCII_LOWER)
    return low


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _prepare(lines: Sequence[str]) -> tuple[str, str]:
    try:
        blob = "\n".join(lines)
    except TypeError:  # bytes or other values: decode with replacement, never fail
        lines = [ln.decode("utf-8", "replace") if isinstance(ln, (bytes, bytearray)) else str(ln) for ln in lines]
        blob = "\n".join(lines)
    if blob.count("\n") != max(len(lines) - 1, 0):
        blob = "\n".join(ln.replace("\r", " ").replace("\n", " ") for ln in lines)
    if "\x1b" in blob:
        blob = ANSI_RE.sub("", blob)
    return blob, _ascii_lower(blob)


def _needle_hits(low: str, needle: str, limit: int) -> dict[int, int]:
    """line start -> first hit position of ``needle`` in that line (at most ``limit`` lines)."""
    starts: dict[int, int] = {}
    pos = low.find(needle)
    while pos != -1 and len(starts) < limit:
        starts[low.rfind("\n", 0, pos) + 1] = pos
        nl = low.find("\n", pos)
        if nl == -1:
            break
        pos = low.find(needle, nl)
    return starts


@functools.lru_cache(maxsize=16)
def _automaton(needles: tuple[str, ...]) -> Any:
    """One Aho-Corasick automaton over every needle (None when ahocorasick_rs is missing)."""
    if _ac is None:
        return None
    return _ac.AhoCorasick(list(needles), matchkind=_ac.MatchKind.Standard)


def _all_needle_hits(low: str, needles: tuple[str, ...], limit: int) -> dict[str, dict[int, int]]:
    """needle -> {line start: first hit}: one pass for all needles (Aho-Corasick), else one find each."""
    auto = _automaton(needles)
    if auto is None:
        return {n: _needle_hits(low, n, limit) for n in needles}
    out: dict[str, dict[int, int]] = {}  # only the needles found
    for idx, start, _end in auto.find_matches_as_indexes(low, overlapping=True):
        starts = out.setdefault(needles[idx], {})
        if len(starts) >= limit:
            continue
        ls = low.rfind("\n", 0, start) + 1
        if ls not in starts:
            starts[ls] = start
    return out


def _signature_hits(sig: Signature, blob: str, low: str, cache: dict[str, dict[int, int]],
                    max_hits: int, claimed: dict[int, tuple]) -> None:
    """Claim for ``sig`` each unclaimed line (by start offset) where one of its patterns matches."""
    starts: dict[int, int] = {}
    for needle in sig.needles:
        for ls, pos in cache.get(needle, {}).items():
            if ls not in claimed:
                starts.setdefault(ls, pos)
    found = 0
    for ls in sorted(starts):
        hit = starts[ls]
        le = low.find("\n", ls)
        le = len(low) if le == -1 else le
        w0, w1 = max(ls, hit - _WINDOW_BEFORE), min(le, hit + _WINDOW_AFTER)
        for rx in sig.compiled:
            m = rx.search(blob, w0, w1)
            if m is not None:
                claimed[ls] = (sig, m.groupdict(), le, m.start())
                found += 1
                break
        if found >= max_hits:
            break


Hit = tuple  # (line_no, Signature, raw fields, line start, line end, match position)


def line_hits(lines: Sequence[str], source: str, signatures: Sequence[Signature] | None,
          max_hits: int) -> tuple[str, list[Hit]]:
    """(joined text, hits in line order): each line attributed to the first signature that matches it."""
    sigs = [s for s in (SIGNATURES if signatures is None else signatures) if source in s.sources]
    if lines is None or len(lines) == 0 or not sigs:
        return "", []
    blob, low = _prepare(lines)
    needles = tuple(sorted({n for sig in sigs for n in sig.needles}))
    cache = _all_needle_hits(low, needles, max_hits * 4)
    claimed: dict[int, tuple] = {}  # line start -> (sig, groups, line end, match pos); table order wins
    found = {n for n, starts in cache.items() if starts}
    for sig in sigs:
        if not found.isdisjoint(sig.needles):  # a signature none of whose needles occurs claims nothing
            _signature_hits(sig, blob, low, cache, max_hits, claimed)
    out: list[Hit] = []
    line_no, counted_to = 0, 0
    for ls in sorted(claimed):
        line_no += blob.count("\n", counted_to, ls)
        counted_to = ls
        sig, groups, le, mpos = claimed[ls]
        out.append((line_no, sig, {k: v for k, v in groups.items() if v is not None and k[0] != "_"}, ls, le, mpos))
    return blob, out


class MatchTexts:
    """Masked fields, cause, fix and key per (signature, captured values), computed once each."""

    def __init__(self, ctx: MatchContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple, tuple[dict, str, str, tuple[str, ...]]] = {}

    def get(self, sig: Signature, raw: Mapping[str, Any]) -> tuple[dict, str, str, tuple[str, ...]]:
        k = (id(sig), tuple(sorted((a, str(b)) for a, b in raw.items())))
        out = self._cache.get(k)
        if out is None:
            fields = {a: redact.mask_text(str(b))[:200] for a, b in raw.items()}
            if sig.enrich:
                ENRICHERS[sig.enrich](fields, self.ctx)
            tmpl = _Defaults(fields)
            tmpl.setdefault("service", self.ctx.service or "<service>")
            out = (fields, redact.mask_text(sig.cause.format_map(tmpl)), redact.mask_text(sig.fix.format_map(tmpl)),
                   tuple(str(fields.get(f, "")) for f in sig.key_fields))
            self._cache[k] = out
        return out


def materialize(blob: str, hit: Hit, texts: MatchTexts, source: str) -> Match:
    line_no, sig, raw, ls, le, mpos = hit
    fields, cause, fix, key = texts.get(sig, raw)
    after: tuple[str, ...] = ()
    if sig.context_after:
        nxt, extra = le, []
        for _ in range(sig.context_after):
            if nxt >= len(blob):
                break
            end = blob.find("\n", nxt + 1)
            end = len(blob) if end == -1 else end
            extra.append(redact.mask_text(cut_line(blob[nxt + 1:end])))
            nxt = end
        after = tuple(x for x in extra if x.strip())
    return Match(category=sig.category, severity=sig.severity, title=sig.title, kind=sig.kind, cause=cause,
                 fix=fix, line_no=line_no, line=redact.mask_text(cut_line(blob[ls:le], around=mpos - ls)),
                 fields=dict(fields), source=source, key=key, context=after)


def match_lines(lines: Sequence[str], context: MatchContext | None = None, source: str = "log",
                signatures: Sequence[Signature] | None = None, max_hits: int = 10_000) -> list[Match]:
    """Attribute each matching line to the first signature (table order) that matches it.

    ``source`` picks the signatures that read this text ("log" or "health"); at most
    ``max_hits`` lines are attributed per signature.
    """
    blob, hits = line_hits(lines, source, signatures, max_hits)
    texts = MatchTexts(context or MatchContext())
    return [materialize(blob, h, texts, source) for h in hits]
