"""Safe YAML loading for compose files: YAML 1.2 scalars, anchors and merge keys, ``!reset``/``!override``.

A fast node builder replaces PyYAML's constructor for the compose subset; it refuses
duplicate keys (as compose does). Input is bounded before anything is built:

- a compose (or ``.env``) file larger than ``RUNBOOK_MAX_COMPOSE_BYTES`` (default 8 MiB) is
  refused unread;
- the composed node graph is measured as if every alias were expanded ("billion laughs",
  or one big string aliased thousands of times): more than ``MAX_EXPANDED`` values or
  ``RUNBOOK_MAX_EXPANDED_BYTES`` (default 32 MiB) of scalar text is refused, in time
  proportional to the file. The node builder measures as it builds (one walk); an aliased
  node is built once and shared, never copied, so nothing expanded is ever allocated.

Errors are ComposeError naming the file.
"""
from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.exceptions import ComposeError

MAX_FILE_BYTES_ENV = "RUNBOOK_MAX_COMPOSE_BYTES"
MAX_EXPANDED_BYTES_ENV = "RUNBOOK_MAX_EXPANDED_BYTES"
DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_EXPANDED_BYTES = 32 * 1024 * 1024
MAX_EXPANDED = 2_000_000  # values after alias expansion


def _limit(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A byte ceiling from the environment (a positive whole number), else the default."""
    raw = (os.environ if environ is None else environ).get(name, "")
    if not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ComposeError(f"{name}={raw!r} is not a positive number of bytes.",
                           fix=f"set {name} to a whole number such as {default}, or unset it.")
    return value


def max_file_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The size ceiling of one compose or ``.env`` file (``RUNBOOK_MAX_COMPOSE_BYTES``)."""
    return _limit(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES, environ)


def max_expanded_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The ceiling of a document's text once aliases and ``${VAR}`` are expanded (``RUNBOOK_MAX_EXPANDED_BYTES``)."""
    return _limit(MAX_EXPANDED_BYTES_ENV, DEFAULT_MAX_EXPANDED_BYTES, environ)


def read_bounded(path: Path, what: str = "compose file") -> str:
    """The UTF-8 text of ``path``, refusing files over ``max_file_bytes()`` without reading them whole."""
    cap = max_file_bytes()
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise ComposeError(f"{what} not found.", file=str(path),
                           fix="check the path given with --compose / -f.") from None
    except OSError as exc:
        raise ComposeError(f"cannot be read ({exc}).", file=str(path),
                           fix="check the file's permissions.") from None
    if len(data) > cap:
        raise ComposeError(f"the {what} is larger than {cap} bytes; runbook refuses it unread.", file=str(path),
                           fix=f"check that this is the right file, or raise the ceiling with {MAX_FILE_BYTES_ENV}.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError(f"cannot be read ({exc}).", file=str(path),
                           fix="check the file's encoding (UTF-8).") from None


class _TooLarge(Exception):
    def __init__(self, values: int, chars: int, line: int) -> None:
        super().__init__(values)
        self.values, self.chars, self.line = values, chars, line


def check_expanded_size(root: yaml.Node, max_values: int = MAX_EXPANDED,
                        max_chars: int | None = None) -> tuple[int, int]:
    """The node graph's (values, characters) with every alias expanded; _TooLarge past the limits.

    Shared (aliased) nodes are measured once and counted at each use, so the walk is linear in
    the file while the totals are those of the expanded document. A recursive alias counts once.
    """
    cap = max_expanded_bytes() if max_chars is None else max_chars
    sizes: dict[int, tuple[int, int]] = {}
    scalar = yaml.ScalarNode

    def size(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        got = sizes.get(key)
        if got is not None:
            return got
        sizes[key] = (1, 0)  # in progress: a recursive alias counts once
        if isinstance(node, yaml.ScalarNode):
            total = (1, len(node.value))
        else:
            values, chars = 1, 0
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            for child in children:
                if type(child) is scalar:  # most nodes: counted in place, no call (same totals)
                    values, chars = values + 1, chars + len(child.value)
                else:
                    cv, cc = size(child)
                    values, chars = values + cv, chars + cc
                if values > max_values or chars > cap:
                    raise _TooLarge(values, chars, node.start_mark.line + 1)
            total = (values, chars)
        sizes[key] = total
        return total

    values, chars = size(root)
    if values > max_values or chars > cap:
        raise _TooLarge(values, chars, root.start_mark.line + 1)
    return values, chars


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


_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> its tag: keys and values repeat across services
_PLAIN_TAGS_MAX = 50_000


def _fast_resolve(self: Any, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
    """Resolver.resolve without path resolvers (compose uses none): one lookup per scalar."""
    if kind is yaml.ScalarNode:
        if implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is not None:
                return tag
            if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
                _PLAIN_TAGS.clear()
            _PLAIN_TAGS[value] = tag = _resolve_plain(self, value)
            return tag
        return self.DEFAULT_SCALAR_TAG
    return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


def _resolve_plain(self: Any, value: str) -> str:
    """The implicit tag of a plain scalar (bool, int, float, null, merge, else str)."""
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
    """Nodes -> Python objects, faster than PyYAML's generator-based constructor, guarding the size as it goes.

    Same results for the compose subset: YAML 1.2 scalars, anchors/aliases (shared
    objects), merge keys (``<<: *a`` / ``<<: [*a, *b]``, explicit keys win, earlier
    sources win), ``!reset``/``!override``; other tags go to the safe constructor.
    Duplicate keys are refused, as compose does.

    The one walk also measures the document as if every alias were expanded, with the very
    totals, order and stopping point of ``check_expanded_size`` (an aliased node is built and
    measured once, then counted at each use), and raises _TooLarge where that would. A shared
    node is never copied, so a refused bomb costs time and memory linear in the file.
    """

    def __init__(self, loader: Any, max_values: int = MAX_EXPANDED, max_chars: int | None = None) -> None:
        self.loader = loader
        self.max_values = max_values
        self.max_chars = max_expanded_bytes() if max_chars is None else max_chars
        self.memo: dict[int, Any] = {}  # collection node -> its object (aliases share it)
        self.sizes: dict[int, tuple[int, int]] = {}  # node -> expanded (values, chars); (1, 0) while in progress
        self.open: set[int] = set()  # collection nodes being built

    def document(self, root: yaml.Node) -> Any:
        """The document's object; _TooLarge when it would expand past the limits."""
        if type(root) is _SCALAR:
            if 1 > self.max_values or len(root.value) > self.max_chars:
                raise _TooLarge(1, len(root.value), root.start_mark.line + 1)
            return self.scalar(root)
        out, values, chars = self.node(root)
        if values > self.max_values or chars > self.max_chars:
            raise _TooLarge(values, chars, root.start_mark.line + 1)
        return out

    def scalar(self, node: yaml.Node) -> Any:
        """One scalar's value by its resolved tag."""
        tag = node.tag
        value: Any = node.value
        if tag == _STR:
            return value
        if tag == _INT:
            return _construct_int(self.loader, node)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return value.lower() == "true"
        if tag == _FLOAT:
            low = value.lower()
            return float("nan") if low == ".nan" else float(low.replace(".inf", "inf"))
        if tag == "!reset":
            return Reset()
        if tag == "!override":
            return Override(value)
        return self.loader.construct_object(node, deep=True)

    def node(self, node: yaml.Node) -> tuple[Any, int, int]:
        """(object, expanded values, expanded characters) of any node."""
        if type(node) is _SCALAR:
            return self.scalar(node), 1, len(node.value)
        key = id(node)
        got = self.sizes.get(key)
        if got is not None:  # an alias: built and measured once
            if key in self.open:  # used inside its own value: no finite document has it
                raise yaml.constructor.ConstructorError(None, None, "an anchor is used inside its own value "
                                                        "(a recursive alias)", node.start_mark)
            out = self.memo.get(key, _UNBUILT)
            return (self._rebuild(node) if out is _UNBUILT else out), got[0], got[1]
        self.sizes[key] = (1, 0)  # in progress
        self.open.add(key)
        if isinstance(node, yaml.SequenceNode):
            out, values, chars = self._sequence(node, key)
        else:
            out, values, chars = self._mapping(node, key)
        self.open.discard(key)
        self.memo[key] = out
        self.sizes[key] = (values, chars)
        return out, values, chars

    def _sequence(self, node: yaml.Node, key: int) -> tuple[Any, int, int]:
        out: list = []
        self.memo[key] = out
        append = out.append
        values, chars = 1, 0
        max_values, max_chars = self.max_values, self.max_chars
        for child in node.value:
            if type(child) is _SCALAR:  # most nodes: no call, same totals
                text = child.value
                values, chars = values + 1, chars + len(text)
                append(text if child.tag == _STR else self.scalar(child))
            else:
                obj, cv, cc = self.node(child)
                values, chars = values + cv, chars + cc
                append(obj)
            if values > max_values or chars > max_chars:
                raise _TooLarge(values, chars, node.start_mark.line + 1)
        return self._tagged(node, out), values, chars

    def _mapping(self, node: yaml.Node, key: int) -> tuple[Any, int, int]:
        out: dict = {}
        self.memo[key] = out
        merged: dict = {}
        values, chars = 1, 0
        max_values, max_chars = self.max_values, self.max_chars
        for knode, vnode in node.value:
            is_merge = knode.tag == _MERGE
            if type(knode) is _SCALAR:
                text = knode.value
                values, chars = values + 1, chars + len(text)
                if not is_merge:
                    k = text if knode.tag == _STR else self.scalar(knode)
            elif is_merge:  # measured without limits, never built (as before)
                kv, kc = check_expanded_size(knode, max_values=1 << 62, max_chars=1 << 62)
                values, chars = values + kv, chars + kc
            else:  # a complex key
                k, kv, kc = self.node(knode)
                values, chars = values + kv, chars + kc
            if values > max_values or chars > max_chars:
                raise _TooLarge(values, chars, node.start_mark.line + 1)
            if is_merge:
                vv, vc = self._merge(node, vnode, merged)
                values, chars = values + vv, chars + vc
                if values > max_values or chars > max_chars:
                    raise _TooLarge(values, chars, node.start_mark.line + 1)
                continue
            try:
                if k in out:
                    raise _DuplicateKey(k, knode.start_mark.line + 1)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found an unhashable key",
                    knode.start_mark) from None
            if type(vnode) is _SCALAR:
                text = vnode.value
                values, chars = values + 1, chars + len(text)
                out[k] = text if vnode.tag == _STR else self.scalar(vnode)
            else:
                obj, vv, vc = self.node(vnode)
                values, chars = values + vv, chars + vc
                out[k] = obj
            if values > max_values or chars > max_chars:
                raise _TooLarge(values, chars, node.start_mark.line + 1)
        for k, v in merged.items():
            out.setdefault(k, v)
        return self._tagged(node, out), values, chars

    def _merge(self, node: yaml.Node, vnode: yaml.Node, merged: dict) -> tuple[int, int]:
        """Merge the sources of ``<<: *a`` / ``<<: [*a, *b]`` into ``merged``; their expanded size."""
        if not isinstance(vnode, yaml.SequenceNode):
            data, values, chars = self.node(vnode)
            self._merge_one(node, vnode, data, merged)
            return values, chars
        key = id(vnode)  # the list is measured as a sequence; only its items are built
        got = self.sizes.get(key)
        if got is not None:
            for src in vnode.value:
                self._merge_one(node, src, self._built(src), merged)
            return got
        self.sizes[key] = (1, 0)
        values, chars = 1, 0
        for src in vnode.value:
            data, sv, sc = self.node(src)
            values, chars = values + sv, chars + sc
            if values > self.max_values or chars > self.max_chars:
                raise _TooLarge(values, chars, vnode.start_mark.line + 1)
            self._merge_one(node, src, data, merged)
        self.sizes[key] = (values, chars)
        return values, chars

    @staticmethod
    def _merge_one(node: yaml.Node, src: yaml.Node, data: Any, merged: dict) -> None:
        if not isinstance(data, dict):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "a merge key '<<' needs a mapping or a list of mappings", src.start_mark)
        for k, v in data.items():
            merged.setdefault(k, v)

    def _built(self, node: yaml.Node) -> Any:
        """The object of a node in a merge key's list that was measured already."""
        if type(node) is _SCALAR:
            return self.scalar(node)
        out = self.memo.get(id(node), _UNBUILT)
        if out is not _UNBUILT:
            return out
        if id(node) in self.sizes:  # a list measured only as a merge key's sources
            return self._rebuild(node)
        return self.node(node)[0]  # not reached yet (a recursive merge list)

    def _rebuild(self, node: yaml.Node) -> Any:
        """A list measured only as a merge key's list of sources, now used as a value."""
        out = [self._built(child) for child in node.value]
        out = self._tagged(node, out)
        self.memo[id(node)] = out
        return out

    def _tagged(self, node: yaml.Node, out: Any) -> Any:
        tag = node.tag
        if tag == "!reset":
            return Reset()
        if tag == "!override":
            return Override(out)
        if tag != (_SEQ if isinstance(out, list) else _MAP):
            return self.loader.construct_object(node, deep=True)
        return out


_SCALAR = yaml.ScalarNode
_UNBUILT = object()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a document is parsed and built.

    Composing allocates several tracked objects per YAML node (the node, its dict, its
    marks), so the collector would run hundreds of times, and a full collection now and
    then, over a node graph that is freed by reference counting anyway: on a 500-service
    file that was about a quarter of catalog + plan's time. The pause is bounded by the input caps.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(text: str) -> Any:
    """The document's object (None when empty); _TooLarge, _DuplicateKey or yaml.YAMLError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _NodeBuilder(loader).document(node)
        except (yaml.YAMLError, _DuplicateKey):
            check_expanded_size(node)  # the size is refused before any other fault, as ever
            raise
    finally:
        loader.dispose()


def read_yaml(path: Path) -> tuple[dict, bool]:
    """Parse one compose file -> (mapping, whether it uses !reset/!override tags)."""
    text = read_bounded(path)
    try:
        with _gc_paused():
            data = _parse(text)
    except _TooLarge as exc:
        raise ComposeError(f"excessive aliasing: with its aliases expanded the document reaches {exc.values} values "
                           f"and {exc.chars} characters by line {exc.line}, past the limits of {MAX_EXPANDED} values "
                           f"and {max_expanded_bytes()} bytes.", file=str(path),
                           fix=f"use fewer or smaller anchors, or raise {MAX_EXPANDED_BYTES_ENV} if the file is "
                               f"trusted.") from None
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
