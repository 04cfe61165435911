"""Report parameter values as given on the command line or by plain papermill (YAML text; light: yaml only)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def parse_value(raw: str) -> Any:
    """A ``-p`` value read as YAML (7d stays a string; true, 3, [a, b] get their types)."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def as_list(value: str | Iterable[str] | None) -> list[str]:
    """A list parameter as given by plain papermill (``-p hosts '[a=unix:///s, b=…]'`` arrives as text)."""
    if value is None:
        return []
    if isinstance(value, str):
        loaded = parse_value(value)
        value = [loaded] if isinstance(loaded, str) else list(loaded or [])
    return [str(v) for v in value]
