"""Safe YAML loading for compose files: YAML 1.2 scalars, anchors and merge keys, ``!reset``/``!override``.

A fast node builder replaces PyYAML's constructor for the compose subset; it refuses
duplicate keys (as compose does) and documents that expand past ``MAX_EXPANDED``
values through aliases ("billion laughs"). Errors are ComposeError naming the file.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.exceptions import ComposeError

class Reset:
    """Marker for ``!reset`` (drop the inherited value)."""


class Override:
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
_Loader.add_constructor("!reset", lambda loader, node: Reset())
_Loader.add_constructor("!override", lambda loader, node: Override(
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
                out = Reset()
            elif tag == "!override":
                out = Override(value)
            else:
                out = self.loader.construct_object(node, deep=True)
        elif isinstance(node, yaml.SequenceNode):
            out = []
            self.memo[key] = out
            out.extend(self.build(child) for child in node.value)
            if tag == "!reset":
                out = Reset()
            elif tag == "!override":
                out = Override(out)
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
                out = Reset()
            elif tag == "!override":
                out = Override(out)
            elif tag != _MAP:
                out = self.loader.construct_object(node, deep=True)
        self.memo[key] = out
        self.sizes[key] = self.expanded - before
        return out


def read_yaml(path: Path) -> tuple[dict, bool]:
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
