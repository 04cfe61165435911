"""Override merge (``-f a -f b``) and ``extends``, with compose's per-key rules.

Mappings merge by key (``build.args`` too, in list or mapping form); ``ports``/``expose``/
``dns``… append unique; volumes merge by target; ``command``/``entrypoint``/``healthcheck.test``
are replaced; ``!reset`` drops and ``!override`` replaces the inherited value. ``extends``
inherits everything but ``extends`` itself, ``depends_on`` included (the compose spec and
Compose v2, docker/compose#12360; docker-compose 1.29 refused to extend such a service).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_lib.compose.interpolate import interpolate_tree
from runbook_lib.compose.normalise import check_fragment, pre_normalise
from runbook_lib.compose.yamlload import Override, Reset, read_yaml
from runbook_lib.exceptions import ComposeError

_APPEND_UNIQUE = {"ports", "expose", "dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop",
                  "external_links", "links", "security_opt", "devices", "group_add", "profiles",
                  "env_file", "volumes_from", "extra_hosts", "cache_from"}
_REPLACE = {"command", "entrypoint"}


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


def merge(base: Any, over: Any, key: str | None = None, parent: str | None = None) -> Any:
    """Merge an override value onto a base value with compose's rules."""
    if isinstance(over, Reset):
        return Reset()
    if isinstance(over, Override):
        return over.value
    if isinstance(base, (Reset, Override)) or base is None:
        return over.value if isinstance(over, Override) else over
    if key in _REPLACE or (parent == "healthcheck" and key == "test"):
        return over
    if key == "volumes" and parent == "service" and isinstance(base, list) and isinstance(over, list):
        return _merge_volumes(base, over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        child_parent = "healthcheck" if key == "healthcheck" else ("service" if parent == "services" else key)
        for k, v in over.items():
            if k in out:
                merged = merge(out[k], v, str(k), child_parent)
                if isinstance(merged, Reset):
                    del out[k]
                else:
                    out[k] = merged
            elif not isinstance(v, Reset):
                out[k] = v.value if isinstance(v, Override) else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in _APPEND_UNIQUE or parent == "service":
            return _unique_append(base, over)
        return over
    return over


def strip_markers(obj: Any) -> Any:
    """Drop ``!reset`` leftovers and unwrap ``!override`` values."""
    if isinstance(obj, dict):
        return {k: strip_markers(v) for k, v in obj.items() if not isinstance(v, Reset)}
    if isinstance(obj, list):
        return [strip_markers(v) for v in obj if not isinstance(v, Reset)]
    if isinstance(obj, Override):
        return strip_markers(obj.value)
    return obj


def resolve_extends(name: str, services: dict, file: str, base_dir: Path, env: Mapping[str, str],
                    unset: set[str], seen: tuple = (), dep_files: dict[str, str] | None = None) -> dict:
    """The service spec with its ``extends`` chain merged in (same file or ``file:``).

    ``depends_on`` is inherited (compose spec). ``dep_files`` (if given) receives, for each
    dependency, the file that names it, so an error about it names that file. The extended
    service's own keys are checked against its file, so an error there names that file.
    """
    spec = services[name]
    ext = spec.get("extends") if isinstance(spec, dict) else None
    if not ext:
        return spec
    if isinstance(ext, str):
        ext = {"service": ext}
    if not isinstance(ext, dict) or not ext.get("service"):
        raise ComposeError("'extends' must name a service (extends: NAME or extends: {service: NAME, file: F}).",
                           file=file, service=name, fix="add 'service:' under 'extends'.")
    parent_name = str(ext.get("service"))
    key = (file, parent_name)
    if key in seen:
        raise ComposeError(f"extends forms a cycle: {' -> '.join(s for _, s in seen + (key,))}.",
                           file=file, service=name, fix="remove one of the 'extends' in the cycle.")
    parent_file, parent_dir, parent_services = file, base_dir, services
    if ext.get("file"):
        other = (base_dir / str(ext["file"])).resolve()
        if not other.is_file():
            raise ComposeError(f"extends names file {ext['file']!r}, which does not exist ({other}).",
                               file=file, service=name, fix="fix the 'extends.file' path (relative to this file).")
        parent_file, parent_dir = str(other), other.parent
        parent_services = interpolate_tree(read_yaml(other)[0], env, str(other), unset).get("services") or {}
        if parent_name not in parent_services:
            raise ComposeError(f"extends names service '{parent_name}' which {other} does not define.",
                               file=file, service=name, fix="fix the 'extends.service' name or 'extends.file'.")
    elif parent_name not in services:
        raise ComposeError(f"extends names unknown service '{parent_name}'.", file=file, service=name,
                           fix=f"define '{parent_name}' in this file or add 'file:' to extends.")
    if not isinstance(parent_services[parent_name], dict):
        raise ComposeError("a service definition must be a mapping.", file=parent_file, service=parent_name,
                           fix="indent the service's keys (image, ports, …) under its name.")
    parent = resolve_extends(parent_name, parent_services, parent_file, parent_dir, env, unset, seen + (key,),
                             dep_files)
    parent = pre_normalise(parent, parent_file, parent_name, env)
    if parent_file != file:
        parent = _anchor_env_files(parent, parent_dir)
    check_fragment(parent, parent_file, parent_name)
    if dep_files is not None:
        for dep in parent.get("depends_on") or {}:
            dep_files.setdefault(str(dep), parent_file)
    parent = {k: v for k, v in parent.items() if k != "extends"}
    child = {k: v for k, v in pre_normalise(spec, file, name, env).items() if k != "extends"}
    if dep_files is not None:
        for dep in child.get("depends_on") or {}:
            dep_files[str(dep)] = file
    return merge(parent, child, name, "services")


def _anchor_env_files(spec: dict, base_dir: Path) -> dict:
    """Make relative ``env_file`` paths absolute against the folder of the file that names them.

    A service pulled in with ``extends: file:`` reads its env files from that file's folder.
    """
    entries = spec.get("env_file")
    if not isinstance(entries, list):
        return spec
    out = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("path") is not None and not Path(str(entry["path"])).is_absolute():
            entry = {**entry, "path": str(base_dir / str(entry["path"]))}
        elif isinstance(entry, str) and not Path(entry).is_absolute():
            entry = str(base_dir / entry)
        out.append(entry)
    return {**spec, "env_file": out}
