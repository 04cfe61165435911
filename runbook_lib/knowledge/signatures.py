"""The log-signature table: typed, validated records read from ``signatures.yaml``.

``log_signatures()`` gives the failure patterns read from text (log lines, health-check
outputs), in match order; ``state_signatures()`` the ones read from container state
(OOM kill, crash loop …). Each record is checked when it is built: a known severity and
kind, lower-case needles, patterns that compile. The matcher lives in
``runbook_lib.analysis.signatures``; this module only knows the data.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SIGNATURES_PATH = Path(__file__).with_name("signatures.yaml")
SWARM_ERRORS_PATH = Path(__file__).with_name("swarm_errors.yaml")
SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
KINDS = ("cause", "symptom")
SOURCES = ("log", "health")


@dataclass(frozen=True)
class Signature:
    """One failure pattern. ``cause``/``fix`` are templates over the named groups.

    category: the stable id (the finding's category).
    needles: lower-case substrings, any of which must occur in the line (cheap pre-filter).
    patterns: regexes (named groups become template fields; ``_name`` groups stay internal).
    sources: which text the signature reads: "log" lines and/or "health" outputs.
    key_fields: captured fields that split findings (e.g. one finding per missing module).
    enrich: name of an enricher adding computed fields (catalog-aware hints).
    kind: "cause" (a root cause) or "symptom" (points at a cause elsewhere).
    context_after: following lines kept as evidence (e.g. Node's require stack).
    technology: the technology record it is typical of, if any.
    """

    category: str
    title: str
    severity: str
    needles: tuple[str, ...]
    patterns: tuple[str, ...]
    cause: str
    fix: str
    sources: tuple[str, ...] = ("log",)
    key_fields: tuple[str, ...] = ()
    enrich: str | None = None
    kind: str = "cause"
    context_after: int = 0
    ignore_case: bool = True
    technology: str | None = None

    def __post_init__(self) -> None:
        where = f"signature {self.category}"
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"{where}: severity must be one of {SEVERITIES}")
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {KINDS}")
        if not self.needles or any(n != n.lower() for n in self.needles):
            raise ValueError(f"{where}: needles must be non-empty and lower-case")
        if not self.patterns or not set(self.sources) <= set(SOURCES) or not self.sources:
            raise ValueError(f"{where}: needs patterns and sources among {SOURCES}")
        flags = re.MULTILINE | (re.IGNORECASE if self.ignore_case else 0)
        try:
            compiled = tuple(re.compile(p, flags) for p in self.patterns)
        except re.error as exc:
            raise ValueError(f"{where}: a pattern does not compile: {exc}") from exc
        object.__setattr__(self, "_compiled", compiled)

    @property
    def id(self) -> str:  # noqa: A003 - the record's id is its category slug
        return self.category

    @property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return self._compiled  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StateSignature:
    """A signature read from container state, not text: its display title, severity and kind."""

    category: str
    title: str
    severity: str
    kind: str = "cause"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK or self.kind not in KINDS:
            raise ValueError(f"state signature {self.category}: bad severity or kind")


_FIELDS = ("title", "severity", "cause", "fix", "enrich", "kind", "context_after", "ignore_case", "technology")


def _signature(raw: Mapping[str, Any]) -> Signature:
    unknown = set(raw) - {"id", "needles", "patterns", "sources", "key_fields", *_FIELDS}
    if unknown:
        raise ValueError(f"signature {raw.get('id')}: unknown keys {sorted(unknown)}")
    lists = {k: tuple(str(v) for v in raw[k]) for k in ("needles", "patterns", "sources", "key_fields") if k in raw}
    return Signature(category=str(raw["id"]), **lists, **{k: raw[k] for k in _FIELDS if k in raw})


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple[Signature, ...], tuple[StateSignature, ...]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(SIGNATURES_PATH.read_text(encoding="utf-8"), Loader=loader)
    logs = tuple(_signature(r) for r in data["log_signatures"])
    states = tuple(StateSignature(category=str(r["id"]), title=str(r["title"]), severity=str(r["severity"]),
                                  kind=str(r.get("kind") or "cause")) for r in data.get("state_signatures") or ())
    ids = [s.category for s in logs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{SIGNATURES_PATH}: signature ids must be unique")
    return logs, states


def log_signatures() -> tuple[Signature, ...]:
    """The signatures read from log lines and health outputs, in match order."""
    return _table()[0]


def state_signatures() -> tuple[StateSignature, ...]:
    """The signatures read from container state (OOM kill, crash loop, slow start-up …)."""
    return _table()[1]


@functools.lru_cache(maxsize=1)
def swarm_task_errors() -> tuple[dict[str, str], ...]:
    """Swarm's task-error rules (id, title, severity, pattern, cause, fix), in match order; validated."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = yaml.load(SWARM_ERRORS_PATH.read_text(encoding="utf-8"), Loader=loader)["task_errors"]
    keys = {"id", "title", "severity", "pattern", "cause", "fix"}
    for r in rows:
        if set(r) != keys or r["severity"] not in SEVERITIES:
            raise ValueError(f"{SWARM_ERRORS_PATH}: rule {r.get('id')} needs exactly {sorted(keys)} "
                             f"and a severity of {SEVERITIES}")
        re.compile(r["pattern"])
    return tuple({k: str(v) for k, v in r.items()} for r in rows)
