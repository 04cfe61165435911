"""Compose files -> Catalog: what *should* be running, one row per service.

Reads one or more compose files the way ``docker compose -f a -f b config`` does:
YAML 1.2 scalars (``22:22`` stays a string, ``yes`` stays a string), anchors and
merge keys, ``x-`` extension fields, ``.env`` next to the first file, ``${VAR}``
interpolation (``:-`` ``-`` ``:?`` ``?`` ``:+`` ``+``, nesting, ``$$``), override
merge (mappings merged, ``ports``/``expose``/``dns`` appended unique, volumes by
target, ``command``/``entrypoint``/``healthcheck.test`` replaced, environment and
labels merged by key in list or mapping form, ``!reset``/``!override``), ``extends``,
``profiles`` and ``depends_on`` in both forms. Broken input raises ComposeError
naming the file, the service and the fix.

``Catalog.frame`` is masked (safe to display); ``Catalog.raw`` keeps unmasked
environment and command for probes' credentials and is never displayed.
"""
from __future__ import annotations

import graphlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from runbook_lib import config as rb_config
from runbook_lib import knowledge, redact
from runbook_lib.exceptions import ComposeError

COLUMNS = [
    "service", "file", "container_name", "image", "build", "tier", "profiles", "depends_on",
    "healthcheck", "has_healthcheck", "ports", "environment", "command", "restart", "volumes",
    "networks", "labels",
]
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
# Docker's HEALTHCHECK defaults (seconds / count).
HEALTHCHECK_DEFAULTS = {"interval_s": 30.0, "timeout_s": 30.0, "retries": 3, "start_period_s": 0.0}
_APPEND_UNIQUE = {"ports", "expose", "dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop",
                  "external_links", "links", "security_opt", "devices", "group_add", "profiles",
                  "env_file", "volumes_from", "extra_hosts"}
_REPLACE = {"command", "entrypoint"}


# --------------------------------------------------------------------------- YAML
class _Reset:
    """Marker for ``!reset`` (drop the inherited value)."""


class _Override:
    """Marker for ``!override`` (replace the inherited value instead of merging)."""

    def __init__(self, value: Any) -> None:
        self.value = value


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with YAML 1.2 core-schema scalars, as compose (go-yaml v3) reads them."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers
         if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                        "tag:yaml.org,2002:timestamp")]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


_SCALAR_RESOLVERS: dict[str, list] = {}


def _fast_resolve(self: Any, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
    """Resolver.resolve without path resolvers (compose uses none): one lookup per scalar."""
    if kind is yaml.ScalarNode:
        if implicit[0]:
            first = value[0] if value else ""
            resolvers = _SCALAR_RESOLVERS.get(first)
            if resolvers is None:
                table = self.yaml_implicit_resolvers
                resolvers = table.get(first or "", []) + table.get(None, [])
                _SCALAR_RESOLVERS[first] = resolvers
            for tag, regexp in resolvers:
                if regexp.match(value):
                    return tag
        return self.DEFAULT_SCALAR_TAG
    return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


_Loader.resolve = _fast_resolve  # type: ignore[method-assign]
_Loader.descend_resolver = lambda self, parent, index: None  # type: ignore[method-assign]
_Loader.ascend_resolver = lambda self: None  # type: ignore[method-assign]


def _construct_int(loader: Any, node: yaml.Node) -> int:
    v = loader.construct_scalar(node)
    if v.startswith("0x"):
        return int(v[2:], 16)
    if v.startswith("0o"):
        return int(v[2:], 8)
    return int(v, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("!reset", lambda loader, node: _Reset())
_Loader.add_constructor("!override", lambda loader, node: _Override(
    loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode)
    else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
    else loader.construct_scalar(node)))


_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE, _MAP, _SEQ = (
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "merge", "map", "seq"))


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _NodeBuilder:
    """Nodes -> Python objects, faster than PyYAML's generator-based constructor.

    Same results for the compose subset: YAML 1.2 scalars, anchors/aliases (shared
    objects), merge keys (``<<: *a`` / ``<<: [*a, *b]``, explicit keys win, earlier
    sources win), ``!reset``/``!override``; other tags go to the safe constructor.
    Duplicate keys are refused, as compose does.
    """

    MAX_EXPANDED = 2_000_000  # values after alias expansion ("billion laughs" guard)

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.memo: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}  # node -> expanded size, for the guard
        self.expanded = 0

    def build(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self.memo:
            self.expanded += self.sizes.get(key, 1)
            if self.expanded > self.MAX_EXPANDED:
                raise yaml.constructor.ConstructorError(
                    None, None, "excessive aliasing: the document expands to millions of values", node.start_mark)
            return self.memo[key]
        before = self.expanded
        self.expanded += 1
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            value: Any = node.value
            if tag == _STR:
                out: Any = value
            elif tag == _INT:
                out = _construct_int(self.loader, node)
            elif tag == _NULL:
                out = None
            elif tag == _BOOL:
                out = value.lower() == "true"
            elif tag == _FLOAT:
                low = value.lower()
                out = float("nan") if low == ".nan" else float(low.replace(".inf", "inf"))
            elif tag == "!reset":
                out = _Reset()
            elif tag == "!override":
                out = _Override(value)
            else:
                out = self.loader.construct_object(node, deep=True)
        elif isinstance(node, yaml.SequenceNode):
            out = []
            self.memo[key] = out
            out.extend(self.build(child) for child in node.value)
            if tag == "!reset":
                out = _Reset()
            elif tag == "!override":
                out = _Override(out)
            elif tag != _SEQ:
                out = self.loader.construct_object(node, deep=True)
        else:
            out = {}
            self.memo[key] = out
            merged: dict = {}
            for knode, vnode in node.value:
                if knode.tag == _MERGE:
                    sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
                    for src in sources:
                        data = self.build(src)
                        if not isinstance(data, dict):
                            raise yaml.constructor.ConstructorError(
                                "while constructing a mapping", node.start_mark,
                                "a merge key '<<' needs a mapping or a list of mappings", src.start_mark)
                        for k, v in data.items():
                            merged.setdefault(k, v)
                    continue
                k = self.build(knode)
                try:
                    if k in out:
                        raise _DuplicateKey(k, knode.start_mark.line + 1)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "found an unhashable key",
                        knode.start_mark) from None
                out[k] = self.build(vnode)
            for k, v in merged.items():
                out.setdefault(k, v)
            if tag == "!reset":
                out = _Reset()
            elif tag == "!override":
                out = _Override(out)
            elif tag != _MAP:
                out = self.loader.construct_object(node, deep=True)
        self.memo[key] = out
        self.sizes[key] = self.expanded - before
        return out


def _read_yaml(path: Path) -> tuple[dict, bool]:
    """Parse one compose file -> (mapping, whether it uses !reset/!override tags)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError("compose file not found.", file=str(path),
                           fix="check the path given with --compose / -f.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"cannot be read ({exc}).", file=str(path),
                           fix="check the file's permissions and encoding (UTF-8).") from None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = _NodeBuilder(loader).build(node) if node is not None else None
        finally:
            loader.dispose()
    except _DuplicateKey as exc:
        raise ComposeError(f"line {exc.line}: key '{exc.key}' is defined twice in the same mapping.",
                           file=str(path), fix="keep one of them (compose refuses duplicate keys).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ComposeError(f"{where}not valid YAML ({problem}).", file=str(path),
                           fix="correct the YAML at that line (indentation, a missing colon or quote).") from None
    if data is None:
        return {}, False
    if not isinstance(data, dict):
        raise ComposeError("the top level is not a mapping.", file=str(path),
                           fix="a compose file starts with keys such as 'services:'.")
    return data, ("!reset" in text or "!override" in text)


# ---------------------------------------------------------------- .env and ${VAR}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SERVICE_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")


def parse_env_file(path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read a ``.env`` file: KEY=VALUE lines, comments, ``export``, quotes, ${VAR} in values."""
    path = Path(path)
    env: dict[str, str] = {}
    lookup = dict(environ or {})
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("export "):
            s = s[7:].lstrip()
        key, sep, value = s.partition("=")
        key = key.strip()
        if not sep or not _NAME_RE.fullmatch(key):
            raise ComposeError(f"line {lineno} is not KEY=VALUE.", file=str(path),
                               fix="write one KEY=VALUE per line (comments start with #).")
        value = value.strip()
        if value[:1] == "'" and value.rfind("'") > 0:
            value = value[1:value.rfind("'")]
        else:
            if value[:1] == '"' and value.rfind('"') > 0:
                value = value[1:value.rfind('"')].replace("\\n", "\n").replace('\\"', '"')
            else:
                value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
            value = interpolate(value, {**lookup, **env}, file=str(path))
        env[key] = value
    return env


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
            m = _NAME_RE.match(text, i + 1)
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
    m = _NAME_RE.match(body)
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


def _interpolate_value(obj: Any, env: Mapping[str, str], file: str, service: str | None, unset: set[str]) -> Any:
    if isinstance(obj, str):
        return interpolate(obj, env, file=file, service=service, unset=unset) if "$" in obj else obj
    if isinstance(obj, dict):
        return {k: _interpolate_value(v, env, file, service, unset) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_interpolate_value(v, env, file, service, unset) for v in obj]
    if isinstance(obj, _Override):
        return _Override(_interpolate_value(obj.value, env, file, service, unset))
    return obj


def _interpolate_tree(data: dict, env: Mapping[str, str], file: str, unset: set[str]) -> dict:
    """Interpolate every string value of a parsed compose file (keys stay as written)."""
    out = {}
    for key, value in data.items():
        if key == "services" and isinstance(value, dict):
            out[key] = {name: _interpolate_value(spec, env, file, str(name), unset) for name, spec in value.items()}
        else:
            out[key] = _interpolate_value(value, env, file, None, unset)
    return out


# ------------------------------------------------------------- normalisation
def _scalar_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _kv(obj: Any, what: str, file: str, service: str, env: Mapping[str, str] | None = None) -> dict:
    """Mapping or ``KEY=VALUE`` list -> dict of str -> str | None."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return {str(k): _scalar_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        out: dict[str, str | None] = {}
        for item in obj:
            item = str(item)
            k, sep, v = item.partition("=")
            if not sep:
                # "KEY" alone: the value comes from the shell environment, if any.
                out[k.strip()] = (env or {}).get(k.strip())
            else:
                out[k.strip()] = v
        return out
    raise ComposeError(f"'{what}' must be a mapping or a list of KEY=VALUE.", file=file, service=service,
                       fix=f"write {what} as 'KEY: value' lines or '- KEY=value' items.")


def _duration_s(value: Any, what: str, file: str, service: str) -> float | None:
    """Compose duration (``1m30s``, ``500ms``, ``10s``) -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"[0-9.]+", text):
        return float(text)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ms|us|µs|ns|h|m|s)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ComposeError(f"{what} '{text}' is not a duration.", file=file, service=service,
                           fix="write durations like 10s, 1m30s or 500ms.")
    return sum(float(a) * units[b] for a, b in parts)


def _healthcheck(hc: Any, file: str, service: str) -> dict | None:
    if hc is None:
        return None
    if not isinstance(hc, dict):
        raise ComposeError("'healthcheck' must be a mapping (test, interval, timeout, retries, start_period).",
                           file=file, service=service, fix="see the compose healthcheck reference.")
    if hc.get("disable") is True:
        return None
    test = hc.get("test")
    if test is None:
        return None  # e.g. only interval overridden: the image's HEALTHCHECK runs (unknown here)
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    test = [str(t) for t in test]
    if not test or test[0] == "NONE":
        return None
    if test[0] not in ("CMD", "CMD-SHELL"):
        raise ComposeError(f"healthcheck test must start with CMD, CMD-SHELL or NONE, not {test[0]!r}.",
                           file=file, service=service, fix='write test: ["CMD", "pg_isready"] or a shell string.')
    out = {"test": test}
    for key, name in (("interval", "interval_s"), ("timeout", "timeout_s"), ("start_period", "start_period_s"),
                      ("start_interval", "start_interval_s")):
        v = _duration_s(hc.get(key), f"healthcheck.{key}", file, service)
        out[name] = v if v is not None else HEALTHCHECK_DEFAULTS.get(name, 5.0)
    retries = hc.get("retries")
    out["retries"] = int(retries) if retries is not None else HEALTHCHECK_DEFAULTS["retries"]
    return out


def _split_port_range(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(text)]


def parse_port(entry: Any, file: str = "", service: str = "") -> list[dict]:
    """One ports entry (short or long syntax) -> rows of host_ip, host_port, container_port, protocol.

    Compose publishes every ``ports`` entry: ``"3000"`` gets an ephemeral host port,
    shown as ``host_port`` None (``expose`` entries are never published).
    """
    try:
        if isinstance(entry, dict):
            target = entry.get("target")
            if target is None:
                raise ValueError("long syntax needs 'target'")
            proto = str(entry.get("protocol") or "tcp")
            published = entry.get("published")
            host_ip = entry.get("host_ip")
            containers = _split_port_range(str(target))
            hosts = _split_port_range(str(published)) if published not in (None, "") else [None] * len(containers)
        else:
            text = str(entry).strip()
            proto = "tcp"
            if "/" in text:
                text, proto = text.rsplit("/", 1)
            host_ip = None
            if text.startswith("["):  # [::1]:8080:80
                close = text.index("]")
                host_ip, text = text[1:close], text[close + 2:]
            parts = text.rsplit(":", 2) if text.count(":") <= 2 else [":".join(text.split(":")[:-2])] + text.split(":")[-2:]
            if len(parts) == 3:
                host_ip = host_ip or parts[0] or None
                host_part, cont_part = parts[1], parts[2]
            elif len(parts) == 2:
                host_part, cont_part = parts
            else:
                host_part, cont_part = "", parts[0]
            containers = _split_port_range(cont_part)
            if host_part:
                hosts = _split_port_range(host_part)
                if len(hosts) == 1 and len(containers) > 1:
                    hosts = hosts + [None] * (len(containers) - 1)
            else:
                hosts = [None] * len(containers)
        if len(hosts) != len(containers):
            if len(containers) == 1:  # published range onto one port: compose picks one of them
                hosts = hosts[:1]
            else:
                raise ValueError("host and container port ranges differ in length")
    except (ValueError, IndexError) as exc:
        raise ComposeError(f"port {entry!r} cannot be parsed ({exc}).", file=file, service=service,
                           fix="write ports as 'HOST:CONTAINER', 'IP:HOST:CONTAINER/udp' or the long syntax.") from None
    # Every ``ports`` entry is published; host_port None means an ephemeral host port.
    return [{"host_ip": host_ip or "0.0.0.0",
             "host_port": int(h) if h is not None else None, "container_port": int(c), "protocol": proto}
            for h, c in zip(hosts, containers)]


def parse_volume(entry: Any, named: Iterable[str] = (), file: str = "", service: str = "") -> dict:
    """One volumes entry -> {type: named|anonymous|bind|tmpfs|…, source, target, read_only}."""
    if isinstance(entry, dict):
        vtype = str(entry.get("type") or "volume")
        source = entry.get("source")
        target = entry.get("target")
        if target is None:
            raise ComposeError(f"volume {entry!r} has no target.", file=file, service=service,
                               fix="add 'target: /path/in/container'.")
        if vtype == "volume":
            vtype = "named" if source else "anonymous"
        return {"type": vtype, "source": source, "target": str(target), "read_only": bool(entry.get("read_only"))}
    text = str(entry)
    parts = text.split(":")
    # Windows drive letters (C:\x:/y) keep their colon.
    if len(parts) >= 2 and len(parts[0]) == 1 and parts[0].isalpha() and parts[1][:1] in ("\\", "/"):
        parts = [parts[0] + ":" + parts[1]] + parts[2:]
    if len(parts) == 1:
        return {"type": "anonymous", "source": None, "target": parts[0], "read_only": False}
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else ""
    is_path = source.startswith((".", "/", "~", "\\")) or (len(source) > 1 and source[1] == ":")
    return {"type": "bind" if is_path else "named", "source": source, "target": target,
            "read_only": "ro" in mode.split(",")}


def _depends(obj: Any, file: str, service: str) -> dict[str, dict]:
    if obj is None:
        return {}
    if isinstance(obj, list):
        return {str(d): {"condition": "service_started", "required": True, "restart": False} for d in obj}
    if isinstance(obj, dict):
        out = {}
        for name, spec in obj.items():
            spec = spec or {}
            if not isinstance(spec, dict):
                raise ComposeError(f"depends_on.{name} must be a mapping (condition, required, restart).",
                                   file=file, service=service, fix="write 'condition: service_healthy' under it.")
            cond = str(spec.get("condition") or "service_started")
            if cond not in CONDITIONS:
                raise ComposeError(f"depends_on.{name} has unknown condition {cond!r}.", file=file, service=service,
                                   fix=f"use one of {', '.join(CONDITIONS)}.")
            out[str(name)] = {"condition": cond, "required": spec.get("required", True) is not False,
                              "restart": bool(spec.get("restart", False))}
        return out
    raise ComposeError("'depends_on' must be a list or a mapping.", file=file, service=service,
                       fix="write '- postgres' items or 'postgres: {condition: service_healthy}'.")


def _networks(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, list):
        return {str(n): None for n in obj}
    return {str(k): v for k, v in obj.items()}


def _pre_normalise(spec: dict, file: str, service: str, env: Mapping[str, str]) -> dict:
    """Bring merge-relevant keys into one shape so overrides merge by key."""
    out = dict(spec)
    for key, value in spec.items():
        if isinstance(value, _Override):  # normalise inside the tag, keep the tag
            out[key] = _Override(_pre_normalise({key: value.value}, file, service, env)[key])
    if isinstance(out.get("environment"), (list, dict)):
        out["environment"] = _kv(out["environment"], "environment", file, service, env)
    for key in ("labels", "sysctls", "annotations"):
        if key in out and isinstance(out[key], (list, dict)):
            out[key] = _kv(out[key], key, file, service)
    if isinstance(out.get("depends_on"), (list, dict)):
        out["depends_on"] = _depends(out["depends_on"], file, service)
    if "networks" in out and isinstance(out["networks"], (list, dict)):
        out["networks"] = _networks(out["networks"])
    if isinstance(out.get("build"), str):
        out["build"] = {"context": out["build"]}
    if isinstance(out.get("env_file"), (str, dict)):
        out["env_file"] = [out["env_file"]]
    for key in ("dns", "dns_search", "tmpfs", "profiles"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    if isinstance(out.get("healthcheck"), dict) and isinstance(out["healthcheck"].get("test"), str):
        out["healthcheck"] = {**out["healthcheck"], "test": ["CMD-SHELL", out["healthcheck"]["test"]]}
    return out


def _unique_append(base: list, over: list) -> list:
    out = list(base)
    for item in over:
        if item not in out:
            out.append(item)
    return out


def _merge_volumes(base: list, over: list) -> list:
    """Volumes merge by container target; the override's entry wins."""
    def target(v: Any) -> str:
        if isinstance(v, dict):
            return str(v.get("target"))
        parts = str(v).split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    index = {target(v): i for i, v in enumerate(base)}
    out = list(base)
    for v in over:
        t = target(v)
        if t in index:
            out[index[t]] = v
        else:
            index[t] = len(out)
            out.append(v)
    return out


def _merge(base: Any, over: Any, key: str | None = None, parent: str | None = None) -> Any:
    """Merge an override value onto a base value with compose's rules."""
    if isinstance(over, _Reset):
        return _Reset()
    if isinstance(over, _Override):
        return over.value
    if isinstance(base, (_Reset, _Override)) or base is None:
        return over.value if isinstance(over, _Override) else over
    if key in _REPLACE or (parent == "healthcheck" and key == "test"):
        return over
    if key == "volumes" and parent == "service" and isinstance(base, list) and isinstance(over, list):
        return _merge_volumes(base, over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        child_parent = "healthcheck" if key == "healthcheck" else ("service" if parent == "services" else key)
        for k, v in over.items():
            if k in out:
                merged = _merge(out[k], v, str(k), child_parent)
                if isinstance(merged, _Reset):
                    del out[k]
                else:
                    out[k] = merged
            elif not isinstance(v, _Reset):
                out[k] = v.value if isinstance(v, _Override) else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in _APPEND_UNIQUE or parent == "service":
            return _unique_append(base, over)
        return over
    return over


def _strip_markers(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_markers(v) for k, v in obj.items() if not isinstance(v, _Reset)}
    if isinstance(obj, list):
        return [_strip_markers(v) for v in obj if not isinstance(v, _Reset)]
    if isinstance(obj, _Override):
        return _strip_markers(obj.value)
    return obj


# -------------------------------------------------------------------- Catalog
@dataclass(frozen=True)
class Catalog:
    """What should run: ``frame`` (masked, displayable) and ``raw`` (unmasked, never displayed)."""

    frame: pd.DataFrame
    raw: dict[str, dict]
    files: tuple[str, ...]
    project: str
    notes: tuple[str, ...] = ()
    inactive: dict[str, list[str]] = field(default_factory=dict)  # service -> profiles (not enabled)
    project_dir: str = ""

    @property
    def services(self) -> list[str]:
        """Service names in file order."""
        return list(self.raw)

    @property
    def graph(self) -> dict[str, set[str]]:
        """service -> set of services it depends on (may name an absent ``required: false`` one)."""
        return {s: {d["service"] for d in spec["depends_on"]} for s, spec in self.raw.items()}

    def dependents(self) -> dict[str, set[str]]:
        """service -> services that depend on it directly."""
        out: dict[str, set[str]] = {s: set() for s in self.raw}
        for s, deps in self.graph.items():
            for d in deps:
                out.setdefault(d, set()).add(s)
        return out


def normalise_project_name(name: str) -> str:
    """Compose's rule: lowercase, only [a-z0-9_-], starting with a letter or digit."""
    name = re.sub(r"[^a-z0-9_-]", "", str(name).lower())
    return name.lstrip("_-")


def _resolve_extends(name: str, services: dict, file: str, base_dir: Path, env: Mapping[str, str],
                     unset: set[str], seen: tuple = ()) -> dict:
    spec = services[name]
    ext = spec.get("extends") if isinstance(spec, dict) else None
    if not ext:
        return spec
    if isinstance(ext, str):
        ext = {"service": ext}
    parent_name = str(ext.get("service"))
    key = (file, parent_name)
    if key in seen:
        raise ComposeError(f"extends forms a cycle: {' -> '.join(s for _, s in seen + (key,))}.",
                           file=file, service=name, fix="remove one of the 'extends' in the cycle.")
    if ext.get("file"):
        other = (base_dir / str(ext["file"])).resolve()
        data = _interpolate_tree(_read_yaml(other)[0], env, str(other), unset)
        other_services = data.get("services") or {}
        if parent_name not in other_services:
            raise ComposeError(f"extends names service '{parent_name}' which {other} does not define.",
                               file=file, service=name, fix="fix the 'extends.service' name or 'extends.file'.")
        parent = _resolve_extends(parent_name, other_services, str(other), other.parent, env, unset, seen + (key,))
        parent = _pre_normalise(parent, str(other), parent_name, env)
    else:
        if parent_name not in services:
            raise ComposeError(f"extends names unknown service '{parent_name}'.", file=file, service=name,
                               fix=f"define '{parent_name}' in this file or add 'file:' to extends.")
        parent = _pre_normalise(_resolve_extends(parent_name, services, file, base_dir, env, unset, seen + (key,)),
                                file, parent_name, env)
    parent = {k: v for k, v in parent.items() if k not in ("depends_on", "extends")}
    child = {k: v for k, v in _pre_normalise(spec, file, name, env).items() if k != "extends"}
    return _merge(parent, child, name, "services")


def _read_env_files(spec: dict, base_dir: Path, file: str, service: str, env: Mapping[str, str],
                    notes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in spec.get("env_file") or []:
        required = True
        if isinstance(entry, dict):
            required = entry.get("required", True) is not False
            entry = entry.get("path")
        p = Path(str(entry))
        p = p if p.is_absolute() else base_dir / p
        if not p.is_file():
            if required:
                notes.append(f"{service}: env_file {entry} not found on this machine; its variables are unknown here.")
            continue
        out.update(parse_env_file(p, env))
    return out


class _RecordingEnv(dict):
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


def load_catalog(files: list[str | Path] | str | Path, env_file: str | Path | None = None,
                 project_name: str | None = None, profiles: Iterable[str] | str | None = None,
                 environ: Mapping[str, str] | None = None,
                 config: rb_config.RunbookConfig | str | Path | None = None) -> Catalog:
    """Read compose files (``-f a -f b`` order) into a Catalog; raise ComposeError on broken input.

    ``environ`` defaults to ``os.environ`` (shell variables win over ``.env``);
    ``profiles`` defaults to COMPOSE_PROFILES; ``config`` gives tier overrides
    (a RunbookConfig, a path, or None to discover ``runbook.yaml``).
    """
    if isinstance(files, (str, Path)):
        files = [files]
    paths = [Path(f) for f in files]
    if not paths:
        raise ComposeError("no compose file given.", fix="pass --compose FILE (repeat it for overrides).")
    shell = dict(os.environ if environ is None else environ)
    project_dir = paths[0].resolve().parent
    dotenv_path = Path(env_file) if env_file else project_dir / ".env"
    dotenv: dict[str, str] = {}
    if env_file and not dotenv_path.is_file():
        raise ComposeError("env file not found.", file=str(dotenv_path), fix="check the path of the env file you passed.")
    if dotenv_path.is_file():
        dotenv = parse_env_file(dotenv_path, shell)
    env = _RecordingEnv({**dotenv, **shell})

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}          # service -> first file defining it
    seen_in: dict[str, list[str]] = {}   # service -> every file touching it
    unset: set[str] = set()
    notes: list[str] = []
    has_markers = False
    for path in paths:
        fname = str(path)
        parsed, tagged = _read_yaml(path)
        has_markers = has_markers or tagged
        data = _interpolate_tree(parsed, env, fname, unset)
        services = data.get("services") or {}
        if not isinstance(services, dict):
            raise ComposeError("'services' must be a mapping of service names.", file=fname,
                               fix="indent each service under 'services:'.")
        normal: dict[str, dict] = {}
        for name in services:
            if not _SERVICE_NAME_RE.fullmatch(str(name)):
                raise ComposeError(f"service name {str(name)!r} is not valid.", file=fname, service=None,
                                   fix="use only letters, digits, '.', '_' and '-' (as docker compose requires).")
            spec = services[name]
            if spec is None:
                spec = {}
                services[name] = spec
            if not isinstance(spec, dict):
                raise ComposeError("a service definition must be a mapping.", file=fname, service=str(name),
                                   fix="indent the service's keys (image, ports, …) under its name.")
        for name in services:
            spec = _resolve_extends(str(name), services, fname, path.resolve().parent, env, unset)
            normal[str(name)] = _pre_normalise(spec, fname, str(name), env)
            origin.setdefault(str(name), fname)
            seen_in.setdefault(str(name), []).append(fname)
        data = {**data, "services": normal}
        merged = _merge(merged, data, None, None) if merged else data
    if has_markers:
        merged = _strip_markers(merged)
    for name in sorted(unset):
        notes.append(f'variable "{name}" is not set; defaulting to a blank string.')
    # Secrets that reach the files through interpolation are masked wherever they appear.
    redact.learn_env(dotenv)
    redact.learn_env({k: v for k, v in env.items() if k in env.used})

    project = project_name or shell.get("COMPOSE_PROJECT_NAME") or dotenv.get("COMPOSE_PROJECT_NAME") \
        or merged.get("name") or project_dir.name
    project = normalise_project_name(str(project))
    redact.learn_identifiers([project, project_dir.name])

    if profiles is None:
        profiles = shell.get("COMPOSE_PROFILES") or dotenv.get("COMPOSE_PROFILES") or ""
    if isinstance(profiles, str):
        profiles = profiles.split(",")
    active_profiles = {str(p).strip() for p in profiles if str(p).strip()}

    services: dict = merged.get("services") or {}
    active: dict[str, dict] = {}
    inactive: dict[str, list[str]] = {}
    for name, spec in services.items():
        sp = [str(p) for p in (spec.get("profiles") or [])]
        if not sp or "*" in active_profiles or active_profiles & set(sp):
            active[name] = spec
        else:
            inactive[name] = sp

    raw: dict[str, dict] = {}
    for name, spec in active.items():
        raw[name] = _final_spec(name, spec, origin[name], seen_in[name], project_dir, env, notes)

    _check_dependencies(raw, inactive, origin)
    if not services:
        notes.append("no services defined in " + ", ".join(str(p) for p in paths) + ".")

    cfg = config if isinstance(config, rb_config.RunbookConfig) else rb_config.load_config(config)
    for name in cfg.tiers:
        if name not in raw and name not in inactive:
            notes.append(f"runbook config: tiers names service '{name}', which the compose files do not define.")
    frame = _frame(raw, cfg.tiers)
    return Catalog(frame=frame, raw=raw, files=tuple(str(p) for p in paths), project=project,
                   notes=tuple(notes), inactive=inactive, project_dir=str(project_dir))


def _final_spec(name: str, spec: dict, file: str, files: list[str], project_dir: Path,
                env: Mapping[str, str], notes: list[str]) -> dict:
    """Normalised, unmasked service spec (the shape of a catalog row, plus extras)."""
    spec = _pre_normalise(spec, file, name, env)
    environment = _read_env_files(spec, project_dir, file, name, env, notes)
    environment.update(spec.get("environment") or {})
    ports: list[dict] = []
    for entry in spec.get("ports") or []:
        for p in parse_port(entry, file, name):
            if p not in ports:
                ports.append(p)
    volumes = [parse_volume(v, file=file, service=name) for v in (spec.get("volumes") or [])]
    deps = [{"service": d, **opts} for d, opts in (spec.get("depends_on") or {}).items()]
    for d in _implicit_dependencies(spec):
        if d != name and all(x["service"] != d for x in deps):
            deps.append({"service": d, "condition": "service_started", "required": True, "restart": False})
    networks = list((spec.get("networks") or {}).keys())
    if not networks and not spec.get("network_mode"):
        networks = ["default"]
    image = spec.get("image")
    build = spec.get("build")
    command = spec.get("command")
    if isinstance(command, list):
        command = [str(c) for c in command]
    elif command is not None:
        command = str(command)
    if image is None and not build:
        notes.append(f"{name}: neither 'image' nor 'build' (an override fragment?): docker compose would refuse it.")
    restart = spec.get("restart")
    if restart is None and isinstance(spec.get("deploy"), dict):
        restart = (spec["deploy"].get("restart_policy") or {}).get("condition")
    hc = _healthcheck(spec.get("healthcheck"), file, name)
    return {
        "service": name, "file": file, "files": list(files),
        "container_name": _scalar_text(spec.get("container_name")),
        "image": _scalar_text(image), "build": bool(build),
        "build_context": (build or {}).get("context") if isinstance(build, dict) else None,
        "profiles": [str(p) for p in (spec.get("profiles") or [])],
        "depends_on": deps, "healthcheck": hc, "has_healthcheck": hc is not None,
        "healthcheck_disabled": bool(isinstance(spec.get("healthcheck"), dict) and (
            spec["healthcheck"].get("disable") is True or (spec["healthcheck"].get("test") or [None])[0] == "NONE")),
        "ports": ports, "expose": [str(e) for e in (spec.get("expose") or [])],
        "environment": environment, "command": command, "entrypoint": spec.get("entrypoint"),
        "restart": _scalar_text(restart), "volumes": volumes, "networks": networks,
        "labels": dict(spec.get("labels") or {}), "extensions": {k: v for k, v in spec.items() if str(k).startswith("x-")},
        "spec": spec,  # the whole merged, interpolated compose definition (deploy, logging, …)
    }


def _implicit_dependencies(spec: dict) -> list[str]:
    """Services compose starts first without depends_on: links, volumes_from, network_mode: service:x."""
    out: list[str] = []
    for link in spec.get("links") or []:
        out.append(str(link).split(":", 1)[0])
    for vf in spec.get("volumes_from") or []:
        v = str(vf)
        if not v.startswith("container:"):
            out.append(v.split(":", 1)[0])
    for key in ("network_mode", "pid", "ipc"):
        mode = spec.get(key)
        if isinstance(mode, str) and mode.startswith("service:"):
            out.append(mode.split(":", 1)[1])
    return out


def _check_dependencies(raw: dict[str, dict], inactive: dict[str, list[str]], origin: dict[str, str]) -> None:
    for name, spec in raw.items():
        for dep in spec["depends_on"]:
            d = dep["service"]
            if d in raw or not dep["required"]:
                continue
            if d in inactive:
                raise ComposeError(f"depends on '{d}', which is only enabled with profile "
                                   f"{', '.join(inactive[d])}.", file=origin[name], service=name,
                                   fix=f"enable the profile (COMPOSE_PROFILES={inactive[d][0]}) "
                                       f"or mark the dependency 'required: false'.")
            known = ", ".join(sorted(raw)) or "none"
            raise ComposeError(f"depends_on names unknown service '{d}'.", file=origin[name], service=name,
                               fix=f"correct the name (services: {known}), add '{d}' to the compose files, "
                                   "or mark it 'required: false'.")
    graph = {s: {d["service"] for d in spec["depends_on"] if d["service"] in raw} for s, spec in raw.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1]) if len(exc.args) > 1 else []
        members = cycle[:-1] if len(cycle) > 1 and cycle[0] == cycle[-1] else cycle
        files = sorted({origin[m] for m in members if m in origin})
        raise ComposeError(f"dependency cycle: {' -> '.join(reversed(cycle))} (each depends on the next).",
                           file=", ".join(files) or None, service=members[0] if members else None,
                           fix=f"remove one depends_on between {', '.join(sorted(members))}.") from None


def _learn_secrets(raw: dict[str, dict]) -> None:
    for spec in raw.values():
        redact.learn_identifiers([spec["service"], spec["container_name"], spec["image"], *spec["networks"],
                                  *(v.get("source") for v in spec["volumes"])])
        redact.learn_env(spec["environment"])
        redact.learn_command(spec["command"])
        redact.learn_command(spec["entrypoint"])
        if spec["healthcheck"]:
            redact.learn_command(spec["healthcheck"]["test"][1:])
        redact.learn_env(spec["labels"])


def _masked_row(spec: dict, tier: str) -> dict:
    hc = spec["healthcheck"]
    if hc is not None:
        hc = {**hc, "test": redact.mask_command(hc["test"])}
    return {
        "service": spec["service"], "file": spec["file"],
        "container_name": redact.mask_identifier(spec["container_name"]),
        "image": redact.mask_identifier(spec["image"]), "build": spec["build"], "tier": tier,
        "profiles": list(spec["profiles"]), "depends_on": [dict(d) for d in spec["depends_on"]],
        "healthcheck": hc, "has_healthcheck": spec["has_healthcheck"],
        "ports": [dict(p) for p in spec["ports"]],
        "environment": redact.mask_env(spec["environment"]),
        "command": redact.mask_command(spec["command"]),
        "restart": spec["restart"],
        "volumes": [{**v, "source": redact.mask_identifier(v["source"])} for v in spec["volumes"]],
        "networks": list(spec["networks"]),
        "labels": redact.mask_obj(spec["labels"]),
    }


def _frame(raw: dict[str, dict], tier_overrides: Mapping[str, str]) -> pd.DataFrame:
    _learn_secrets(raw)
    rows = []
    for name, spec in raw.items():
        tier = knowledge.tier_of(name, spec["image"], spec["build"], tier_overrides)
        spec["tier"] = tier
        rows.append(_masked_row(spec, tier))
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # keep None (not NaN) in text columns
    return frame.astype({"build": bool, "has_healthcheck": bool})


# ------------------------------------------------------------ from the engine
def find_compose_files(inventory_frame: pd.DataFrame, project: str | None = None) -> tuple[list[str], str]:
    """Compose files of a running project, from its containers' compose labels.

    Uses ``config_files`` (comma-separated, relative ones joined to ``working_dir``).
    Raises ComposeError saying to pass --compose when nothing usable is found.
    """
    hint = "pass the files with --compose FILE (repeat for overrides) and --project NAME."
    if inventory_frame is None or inventory_frame.empty or "config_files" not in inventory_frame.columns:
        raise ComposeError("no containers with compose labels found on this engine.", fix=hint)
    df = inventory_frame[inventory_frame["config_files"].fillna("").astype(str).str.strip() != ""]
    if project is not None:
        df = df[df["project"] == project]
    if df.empty:
        what = f"project '{project}'" if project else "any compose project"
        raise ComposeError(f"no container of {what} carries the label com.docker.compose.project.config_files.",
                           fix=hint)
    projects = sorted(p for p in df["project"].dropna().unique())
    if project is None and len(projects) > 1:
        raise ComposeError(f"several compose projects run here ({', '.join(projects)}).",
                           fix="choose one with --project NAME (or pass --compose FILE).")
    chosen = project or (projects[0] if projects else "")
    combos = df.groupby(["config_files", "working_dir"], dropna=False).size().sort_values(ascending=False)
    config_files, working_dir = combos.index[0]
    files: list[str] = []
    for f in str(config_files).split(","):
        f = f.strip()
        if not f:
            continue
        p = Path(f)
        if not p.is_absolute() and isinstance(working_dir, str) and working_dir:
            p = Path(working_dir) / p
        files.append(str(p))
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ComposeError(f"the compose files of project '{chosen}' are not on this machine: "
                           f"{', '.join(missing)}.", fix=hint)
    return files, chosen


# ------------------------------------------------------------------- CLI
def catalog_summary(catalog: Catalog) -> dict[str, Any]:
    """Counts for a header and the report JSON (no secrets: names and numbers only)."""
    f = catalog.frame
    return {
        "project": catalog.project, "files": list(catalog.files), "services": int(len(f)),
        "by_tier": {str(k): int(v) for k, v in f["tier"].value_counts().items()} if len(f) else {},
        "with_healthcheck": int(f["has_healthcheck"].sum()) if len(f) else 0,
        "built_locally": int(f["build"].sum()) if len(f) else 0,
        "inactive_profiles": dict(catalog.inactive), "notes": list(catalog.notes),
    }


def catalog_table(catalog: Catalog) -> pd.DataFrame:
    """A compact, masked, printable view of the catalog."""
    f = catalog.frame
    def deps(ds: list[dict]) -> str:
        return ", ".join(d["service"] + ("" if d["condition"] == "service_started" else
                                         f" ({d['condition'].removeprefix('service_')})") for d in ds)

    def ports(ps: list[dict]) -> str:
        return ", ".join(f"{p['host_port'] or '*'}:{p['container_port']}" + (
            "" if p["protocol"] == "tcp" else f"/{p['protocol']}") for p in ps)

    return pd.DataFrame({
        "service": f["service"], "tier": f["tier"],
        "image": [("build" if b and not i else (f"{i} (build)" if b else i)) for i, b in zip(f["image"], f["build"])],
        "healthcheck": ["yes" if h else "-" for h in f["has_healthcheck"]],
        "depends_on": [deps(d) for d in f["depends_on"]],
        "ports": [ports(p) for p in f["ports"]],
    })
