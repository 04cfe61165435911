"""The probe kinds by name: a mapping, ``register``, and a ``lookup`` whose failure names what exists.

Built-in kinds are loaded on their first lookup (``kinds.BUILTIN``: name -> ``"module:Class"``,
imported with importlib, the documented plugin mechanism), so a stack without temporal never
imports grpc and a stack without redis never imports redis.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from runbook_lib.exceptions import RunbookError
from runbook_lib.probes.kinds import BUILTIN
from runbook_lib.probes.kinds.base import FunctionKind, ProbeKind


class _Kinds(MutableMapping):
    """Registered kinds; a built-in one is imported and instantiated when first read."""

    def __init__(self, lazy: dict[str, str]) -> None:
        self._lazy = dict(lazy)
        self._loaded: dict[str, ProbeKind] = {}

    def __getitem__(self, name: str) -> ProbeKind:
        if name not in self._loaded and name in self._lazy:
            module_name, cls_name = self._lazy[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(module_name), cls_name)()
        return self._loaded[name]

    def __setitem__(self, name: str, kind: ProbeKind) -> None:
        self._lazy.pop(name, None)
        self._loaded[name] = kind

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.fromkeys([*self._lazy, *self._loaded])))

    def __len__(self) -> int:
        return len(set(self._lazy) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._lazy


KINDS: MutableMapping[str, ProbeKind] = _Kinds(BUILTIN)


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
