"""``.env`` files and ``${VAR}`` interpolation, as docker compose reads them.

``${VAR}``, ``$VAR``, ``:-`` ``-`` ``:?`` ``?`` ``:+`` ``+`` (nested), ``$$`` for a literal ``$``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_lib.compose.yamlload import MAX_EXPANDED_BYTES_ENV, Override, max_expanded_bytes, read_bounded
from runbook_lib.exceptions import ComposeError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_file(path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read a ``.env`` file: KEY=VALUE lines, comments, ``export``, quotes, ${VAR} in values."""
    path = Path(path)
    env: dict[str, str] = {}
    lookup = dict(environ or {})
    for lineno, line in enumerate(read_bounded(path, ".env file").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("export "):
            s = s[7:].lstrip()
        key, sep, value = s.partition("=")
        key = key.strip()
        if not sep or not NAME_RE.fullmatch(key):
            raise ComposeError(f"line {lineno} is not KEY=VALUE.", file=str(path),
                               fix="write one KEY=VALUE per line (comments start with #).")
        value = value.strip()
        quoted = _quoted(value)
        if quoted is not None and value[0] == "'":
            value = quoted  # single quotes: literal, no interpolation
        else:
            if quoted is not None:
                value = quoted.replace("\\n", "\n").replace('\\"', '"')
            else:
                value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
            value = interpolate(value, {**lookup, **env}, file=str(path))
        env[key] = value
    return env


def _quoted(value: str) -> str | None:
    """The inside of a value that opens with a quote, up to its own closing quote.

    What follows the closing quote (``X="" # use "" or "/sub"``) is a comment, not part
    of the value. None when the value is not quoted or the quote never closes.
    """
    q = value[:1]
    if q not in ("'", '"'):
        return None
    i = 1
    while i < len(value):
        c = value[i]
        if c == "\\" and q == '"':
            i += 2
            continue
        if c == q:
            return value[1:i]
        i += 1
    return None


def _find_close(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start``; -1 if none."""
    depth = 1
    i = start
    while i < len(text):
        c = text[i]
        if c == "$" and i + 1 < len(text) and text[i + 1] == "{":
            depth += 1
            i += 2
            continue
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(text: str, env: Mapping[str, str], *, file: str | None = None, service: str | None = None,
                unset: set[str] | None = None) -> str:
    """Substitute ``$VAR``/``${VAR…}`` as compose does; ``$$`` is a literal ``$``.

    ``unset`` collects names that were used without a value (compose warns and uses "").
    """
    if "$" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _find_close(text, i + 2)
            if end < 0:
                raise ComposeError(f"invalid interpolation format in {text!r}: '${{' is never closed.",
                                   file=file, service=service, fix="close it with '}' or write '$$' for a literal '$'.")
            out.append(_substitute(text[i + 2:end], env, file, service, unset))
            i = end + 1
        else:
            m = NAME_RE.match(text, i + 1)
            if m:
                name = m.group(0)
                if name in env:
                    out.append(env[name])
                else:
                    if unset is not None:
                        unset.add(name)
                i = m.end()
            else:
                out.append("$")
                i += 1
    return "".join(out)


def _substitute(body: str, env: Mapping[str, str], file: str | None, service: str | None,
                unset: set[str] | None) -> str:
    m = NAME_RE.match(body)
    if not m:
        raise ComposeError(f"invalid interpolation format '${{{body}}}'.", file=file, service=service,
                           fix="use ${NAME}, ${NAME:-default} or ${NAME:?error}; write '$$' for a literal '$'.")
    name, rest = m.group(0), body[m.end():]
    value = env.get(name)
    if rest == "":
        if value is None and unset is not None:
            unset.add(name)
        return value or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            break
    else:
        raise ComposeError(f"invalid interpolation format '${{{body}}}'.", file=file, service=service,
                           fix="use ${NAME}, ${NAME:-default} or ${NAME:?error}.")
    empty_counts = op.startswith(":")
    is_set = value is not None and (value != "" or not empty_counts)
    if op in (":-", "-"):
        return value if is_set else interpolate(arg, env, file=file, service=service, unset=unset)
    if op in (":+", "+"):
        return interpolate(arg, env, file=file, service=service, unset=unset) if is_set else ""
    if is_set:
        return value
    reason = interpolate(arg, env, file=file, service=service, unset=unset) or "required"
    raise ComposeError(f"required variable {name} is {'empty or ' if empty_counts else ''}unset: {reason}.",
                       file=file, service=service,
                       fix=f"set {name} in the environment or in the .env file next to the compose file.")


class _Budget:
    """Characters ``${VAR}`` may still add to one file (a big variable used thousands of times is refused)."""

    def __init__(self, file: str) -> None:
        self.left, self.file = max_expanded_bytes(), file

    def spend(self, before: str, after: str, service: str | None) -> str:
        self.left -= max(0, len(after) - len(before))
        if self.left < 0:
            raise ComposeError(f"interpolation makes the file larger than {max_expanded_bytes()} characters "
                               f"(a large variable used many times?).", file=self.file, service=service,
                               fix=f"use the variable fewer times, or raise {MAX_EXPANDED_BYTES_ENV} if the "
                                   f"file is trusted.")
        return after


def _interpolate_value(obj: Any, env: Mapping[str, str], file: str, service: str | None, unset: set[str],
                       budget: _Budget | None = None) -> Any:
    if isinstance(obj, str):
        if "$" not in obj:
            return obj
        out = interpolate(obj, env, file=file, service=service, unset=unset)
        return budget.spend(obj, out, service) if budget is not None else out
    if isinstance(obj, dict):  # plain strings (most values) are kept without a call
        return {k: v if type(v) is str and "$" not in v else _interpolate_value(v, env, file, service, unset, budget)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [v if type(v) is str and "$" not in v else _interpolate_value(v, env, file, service, unset, budget)
                for v in obj]
    if isinstance(obj, Override):
        return Override(_interpolate_value(obj.value, env, file, service, unset, budget))
    return obj


def interpolate_tree(data: dict, env: Mapping[str, str], file: str, unset: set[str]) -> dict:
    """Interpolate every string value of a parsed compose file (keys stay as written), within the size ceiling."""
    budget = _Budget(file)
    out = {}
    for key, value in data.items():
        if key == "services" and isinstance(value, dict):
            out[key] = {name: _interpolate_value(spec, env, file, str(name), unset, budget)
                        for name, spec in value.items()}
        else:
            out[key] = _interpolate_value(value, env, file, None, unset, budget)
    return out


class RecordingEnv(dict):
    """The interpolation environment; remembers which variables the files used."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.used: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.used.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> str:
        self.used.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return super().get(key, default)
