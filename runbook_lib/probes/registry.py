"""The probe kinds by name: a dict, ``register``, and a ``lookup`` whose failure names what exists."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook_lib.exceptions import RunbookError
from runbook_lib.probes.kinds import BUILTIN
from runbook_lib.probes.kinds.base import FunctionKind, ProbeKind

KINDS: dict[str, ProbeKind] = {}


def register(kind: str | ProbeKind, func: Callable[..., Any] | None = None) -> Any:
    """Register a kind: ``register(Postgres())``, ``register("name", fn)`` or ``@register("name")``."""
    if isinstance(kind, ProbeKind):
        KINDS[kind.name] = kind
        return kind

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        KINDS[kind] = f if isinstance(f, ProbeKind) else FunctionKind(kind, f)
        return f
    return deco(func) if func is not None else deco


def lookup(kind: str) -> ProbeKind:
    """The kind named ``kind``; the error names the kinds that exist."""
    try:
        return KINDS[kind]
    except KeyError:
        raise RunbookError(f"No probe kind named '{kind}'. Known kinds: {', '.join(sorted(KINDS))}. "
                           "Fix the 'kind' in the probes: section of runbook.yaml.") from None


def describe_kinds() -> list[dict[str, Any]]:
    """One record per registered kind: name, default port, path, image patterns, libraries."""
    return [{"kind": k.name, "default_port": k.default_port, "path": k.default_path,
             "image_patterns": list(k.image_patterns), "libraries": list(k.libraries),
             "handles_exec": k.handles_exec} for k in KINDS.values()]


for _cls in BUILTIN:
    register(_cls())
