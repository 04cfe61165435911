"""Report parameters: declared by the notebook, parsed and validated in one place.

The notebook's ``parameters`` cell declares names, types and defaults; papermill's
``inspect_notebook`` reads them. ``-p NAME VALUE`` values are read as YAML (``7d`` stays
a string; ``true``, ``3``, ``[a, b]`` get their types), then checked against the declared
type and, for the names runbook knows (windows, durations, counts), against their range.
Every refusal is a ``ParameterError`` with a one-line message, raised before anything runs.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import papermill as pm

from runbook_lib.exceptions import ParameterError
from runbook_lib.history import uptime
from runbook_lib.reports.values import parse_value  # noqa: F401 - re-exported (cli, tests)

_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
          "dict": (dict,)}
_EXAMPLES = {"str": "text", "int": "3", "float": "2.5", "bool": "true", "list": "'[a, b]'", "dict": "'{k: v}'"}
# Numbers that must be > 0 (timeouts, budgets, windows in hours) and counts that must be >= 0.
_POSITIVE = re.compile(r"(_s|_hours|_timeout)$")
_COUNTS = {"tail_lines", "max_lanes"}
_WINDOWS = {"window"}


@dataclass(frozen=True)
class DeclaredParameter:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    type_name: str  # papermill's inferred type name, e.g. "Optional[str]", "float"
    default: Any
    optional: bool
    help: str = ""


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def declared_parameters(nb_file: str | Path) -> dict[str, DeclaredParameter]:
    """Parameters declared in the notebook's ``parameters`` cell (via ``papermill.inspect_notebook``)."""
    out: dict[str, DeclaredParameter] = {}
    for name, p in pm.inspect_notebook(str(nb_file)).items():
        default = _literal(p.get("default") or "None")
        type_name = p.get("inferred_type_name") or "None"
        if type_name == "None":  # no annotation: the default's type
            type_name = type(default).__name__ if default is not None else "Any"
        optional = default is None or "None" in type_name or "Optional" in type_name
        out[name] = DeclaredParameter(name, type_name, default, optional, p.get("help") or "")
    return out


def _check_range(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"Parameter '{name}' must be a finite number, got {value!r}.")
    if name in _COUNTS and isinstance(value, int) and value < 0:
        raise ParameterError(f"Parameter '{name}' must be 0 or more, got {value!r}. Example: -p {name} 200")
    if _POSITIVE.search(name) and isinstance(value, (int, float)) and value <= 0:
        raise ParameterError(f"Parameter '{name}' must be more than 0, got {value!r}. Example: -p {name} 30")
    if name in _WINDOWS:
        try:
            uptime.parse_window(value)
        except ParameterError as exc:
            raise ParameterError(f"Parameter '{name}': {exc}") from None
        except (ValueError, OverflowError, OSError) as exc:
            raise ParameterError(f"Parameter '{name}': cannot read the window {value!r} ({exc}). "
                                 f"Example: -p {name} 24h") from None


def validate_parameters(declared: dict[str, DeclaredParameter], given: dict[str, Any]) -> dict[str, Any]:
    """Check names, types and ranges; return the parameters with values coerced where safe."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            raise ParameterError(f"Unknown parameter '{name}'. This report declares: "
                                 f"{', '.join(sorted(declared)) or '(none)'}.")
        d = declared[name]
        if value is None:
            if not d.optional:
                raise ParameterError(f"Parameter '{name}' may not be null (expected {d.type_name}).")
            out[name] = None
            continue
        base = [t for t in re.split(r"[\[\]|, ]+", d.type_name.replace("Optional", "")) if t in _TYPES]
        if base:  # Any / unknown annotation: accept as given
            if "str" in base and not isinstance(value, (str, list, dict)):
                value = str(value)  # `-p project 2024` means the string "2024"
            ok = any(isinstance(value, _TYPES[t]) and not (t in ("int", "float") and isinstance(value, bool))
                     for t in base)
            if not ok:
                raise ParameterError(f"Parameter '{name}' expects {d.type_name}, got {type(value).__name__} "
                                     f"{value!r}. Example: -p {name} {_EXAMPLES.get(base[0], 'value')}")
        _check_range(name, value)
        out[name] = value
    return out
