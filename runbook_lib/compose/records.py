"""Compose files -> catalog records: what *should* be running, one record per service (no pandas).

Reads one or more compose files the way ``docker compose -f a -f b config`` does:
YAML 1.2 scalars (``22:22`` stays a string, ``yes`` stays a string), anchors and
merge keys, ``x-`` extension fields, ``.env`` next to the first file, ``${VAR}``
interpolation (``:-`` ``-`` ``:?`` ``?`` ``:+`` ``+``, nesting, ``$$``), override
merge (mappings merged, ``ports``/``expose``/``dns`` appended unique, volumes by
target, ``command``/``entrypoint``/``healthcheck.test`` replaced, environment and
labels merged by key in list or mapping form, ``!reset``/``!override``), ``extends``,
``profiles`` and ``depends_on`` in both forms. Broken input raises ComposeError
naming the file, the service and the fix.

``CatalogRecords.rows`` are masked (safe to display); ``raw`` keeps unmasked
environment and command for probes' credentials and is never displayed. This module
needs no pandas, so `runbook catalog --json` and `runbook lint` start without it;
``compose.catalog.Catalog`` adds the DataFrame (``frame``) for analyses and reports.
"""
from __future__ import annotations

import graphlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib import config as rb_config
from runbook_lib import knowledge, redact
from runbook_lib.compose.interpolate import RecordingEnv, interpolate_tree, parse_env_file
from runbook_lib.compose.merge import merge, resolve_extends, strip_markers
from runbook_lib.compose.normalise import (check_fragment, normalise_healthcheck, parse_port, parse_volume,
                                           pre_normalise, scalar_text)
from runbook_lib.compose.yamlload import read_yaml
from runbook_lib.exceptions import ComposeError

__all__ = ["COLUMNS", "CatalogRecords", "catalog_summary", "load_records", "normalise_project_name"]

COLUMNS = [
    "service", "file", "container_name", "image", "build", "tier", "profiles", "depends_on",
    "healthcheck", "has_healthcheck", "ports", "environment", "command", "restart", "volumes",
    "networks", "labels",
]
_SERVICE_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")


# -------------------------------------------------------------------- records
@dataclass(frozen=True)
class CatalogRecords:
    """What should run: ``rows`` (one masked, displayable dict per service, COLUMNS keys) and
    ``raw`` (unmasked, never displayed)."""

    rows: tuple[dict[str, Any], ...]
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


def load_records(files: list[str | Path] | str | Path, env_file: str | Path | None = None,
                 project_name: str | None = None, profiles: Iterable[str] | str | None = None,
                 environ: Mapping[str, str] | None = None,
                 config: rb_config.RunbookConfig | str | Path | None = None) -> CatalogRecords:
    """Read compose files (``-f a -f b`` order) into CatalogRecords; raise ComposeError on broken input.

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
    env = RecordingEnv({**dotenv, **shell})

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}          # service -> first file defining it
    seen_in: dict[str, list[str]] = {}   # service -> every file touching it
    dep_origin: dict[tuple[str, str], str] = {}  # (service, dependency) -> first file naming it
    unset: set[str] = set()
    notes: list[str] = []
    has_markers = False
    for path in paths:
        fname = str(path)
        parsed, tagged = read_yaml(path)
        has_markers = has_markers or tagged
        data = interpolate_tree(parsed, env, fname, unset)
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
            dep_files: dict[str, str] = {}  # dependency -> file naming it (an extended file, maybe)
            spec = resolve_extends(str(name), services, fname, path.resolve().parent, env, unset, dep_files=dep_files)
            normal[str(name)] = pre_normalise(spec, fname, str(name), env)
            check_fragment(normal[str(name)], fname, str(name))
            origin.setdefault(str(name), fname)
            seen_in.setdefault(str(name), []).append(fname)
            for dep in normal[str(name)].get("depends_on") or {}:
                dep_origin.setdefault((str(name), str(dep)), dep_files.get(str(dep), fname))
        data = {**data, "services": normal}
        merged = merge(merged, data, None, None) if merged else data
    if has_markers:
        merged = strip_markers(merged)
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

    _check_dependencies(raw, inactive, origin, dep_origin)
    if not services:
        notes.append("no services defined in " + ", ".join(str(p) for p in paths) + ".")

    cfg = config if isinstance(config, rb_config.RunbookConfig) else rb_config.load_config(config)
    for name in cfg.tiers:
        if name not in raw and name not in inactive:
            notes.append(f"runbook config: tiers names service '{name}', which the compose files do not define.")
    rows = _rows(raw, cfg.tiers)
    return CatalogRecords(rows=rows, raw=raw, files=tuple(str(p) for p in paths), project=project,
                   notes=tuple(notes), inactive=inactive, project_dir=str(project_dir))


def _final_spec(name: str, spec: dict, file: str, files: list[str], project_dir: Path,
                env: Mapping[str, str], notes: list[str]) -> dict:
    """Normalised, unmasked service spec (the shape of a catalog row, plus extras)."""
    spec = pre_normalise(spec, file, name, env)
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
    hc = normalise_healthcheck(spec.get("healthcheck"), file, name)
    return {
        "service": name, "file": file, "files": list(files),
        "container_name": scalar_text(spec.get("container_name")),
        "image": scalar_text(image), "build": bool(build),
        "build_context": (build or {}).get("context") if isinstance(build, dict) else None,
        "profiles": [str(p) for p in (spec.get("profiles") or [])],
        "depends_on": deps, "healthcheck": hc, "has_healthcheck": hc is not None,
        "healthcheck_disabled": bool(isinstance(spec.get("healthcheck"), dict) and (
            spec["healthcheck"].get("disable") is True or (spec["healthcheck"].get("test") or [None])[0] == "NONE")),
        "ports": ports, "expose": [str(e) for e in (spec.get("expose") or [])],
        "environment": environment, "command": command, "entrypoint": spec.get("entrypoint"),
        "restart": scalar_text(restart), "volumes": volumes, "networks": networks,
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


def _check_dependencies(raw: dict[str, dict], inactive: dict[str, list[str]], origin: dict[str, str],
                        dep_origin: Mapping[tuple[str, str], str]) -> None:
    """Every required dependency exists and is enabled; no cycles. Errors name the file that wrote the entry."""
    for name, spec in raw.items():
        for dep in spec["depends_on"]:
            d = dep["service"]
            if d in raw or not dep["required"]:
                continue
            if d in inactive:
                raise ComposeError(f"depends on '{d}', which is only enabled with profile "
                                   f"{', '.join(inactive[d])}.", file=dep_origin.get((name, d), origin[name]),
                                   service=name,
                                   fix=f"enable the profile (COMPOSE_PROFILES={inactive[d][0]}) "
                                       f"or mark the dependency 'required: false'.")
            known = ", ".join(sorted(raw)) or "none"
            raise ComposeError(f"depends_on names unknown service '{d}'.", file=dep_origin.get((name, d), origin[name]),
                               service=name,
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


def _rows(raw: dict[str, dict], tier_overrides: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    _learn_secrets(raw)
    rows = []
    for name, spec in raw.items():
        tier = knowledge.tier_of(name, spec["image"], spec["build"], tier_overrides)
        spec["tier"] = tier
        rows.append(_masked_row(spec, tier))
    return tuple(rows)


# ------------------------------------------------------------------- CLI
def catalog_summary(catalog: CatalogRecords) -> dict[str, Any]:
    """Counts for a header and the report JSON (no secrets: names and numbers only)."""
    rows = catalog.rows
    by_tier = Counter(r["tier"] for r in rows)  # most common first, ties in file order
    return {
        "project": catalog.project, "files": list(catalog.files), "services": len(rows),
        "by_tier": {str(k): int(v) for k, v in by_tier.most_common()},
        "with_healthcheck": sum(bool(r["has_healthcheck"]) for r in rows),
        "built_locally": sum(bool(r["build"]) for r in rows),
        "inactive_profiles": dict(catalog.inactive), "notes": list(catalog.notes),
    }
