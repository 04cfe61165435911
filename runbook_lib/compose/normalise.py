"""One shape per compose key: environment/labels (list or mapping), depends_on (list or
mapping with condition/required/restart), healthcheck (string or list test, durations),
ports (short and long syntax), volumes and networks.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib.compose.yamlload import Override, Reset
from runbook_lib.exceptions import ComposeError

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
# Docker's HEALTHCHECK defaults (seconds / count).
HEALTHCHECK_DEFAULTS = {"interval_s": 30.0, "timeout_s": 30.0, "retries": 3, "start_period_s": 0.0}


def scalar_text(v: Any) -> str | None:
    """A YAML scalar as compose prints it (``true``, ``5`` not ``5.0``); None stays None."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def key_values(obj: Any, what: str, file: str, service: str, env: Mapping[str, str] | None = None) -> dict:
    """Mapping or ``KEY=VALUE`` list -> dict of str -> str | None."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        if env is None:
            return {str(k): scalar_text(v) for k, v in obj.items()}
        # "KEY:" with no value, like "- KEY": the value comes from the shell / .env, if any.
        return {str(k): scalar_text(v) if v is not None else env.get(str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        out: dict[str, str | None] = {}
        for item in obj:
            item = str(item)
            k, sep, v = item.partition("=")
            if not sep:
                # "KEY" alone: the value comes from the shell / .env, if any.
                out[k.strip()] = (env or {}).get(k.strip())
            else:
                out[k.strip()] = v
        return out
    raise ComposeError(f"'{what}' must be a mapping or a list of KEY=VALUE.", file=file, service=service,
                       fix=f"write {what} as 'KEY: value' lines or '- KEY=value' items.")


def duration_s(value: Any, what: str, file: str, service: str) -> float | None:
    """Compose duration (``1m30s``, ``500ms``, ``10s``) -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if _NUMBER_RE.fullmatch(text):
        return float(text)
    parts = _DURATION_PART_RE.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ComposeError(f"{what} '{text}' is not a duration.", file=file, service=service,
                           fix="write durations like 10s, 1m30s or 500ms.")
    return sum(float(a) * _UNITS_S[b] for a, b in parts)


_NUMBER_RE = re.compile(r"[0-9.]+")
_DURATION_PART_RE = re.compile(r"([0-9]*\.?[0-9]+)(ms|us|µs|ns|h|m|s)")
_UNITS_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def normalise_healthcheck(hc: Any, file: str, service: str) -> dict | None:
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
        v = duration_s(hc.get(key), f"healthcheck.{key}", file, service)
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


def normalise_depends_on(obj: Any, file: str, service: str) -> dict[str, dict]:
    """``depends_on`` list or mapping -> {service: {condition, required, restart}}."""
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
    """List or mapping of networks -> {name: options}."""
    if obj is None:
        return {}
    if isinstance(obj, list):
        return {str(n): None for n in obj}
    return {str(k): v for k, v in obj.items()}


def pre_normalise(spec: dict, file: str, service: str, env: Mapping[str, str]) -> dict:
    """Bring merge-relevant keys into one shape so overrides merge by key."""
    out = dict(spec)
    for key, value in spec.items():
        if isinstance(value, Override):  # normalise inside the tag, keep the tag
            out[key] = Override(pre_normalise({key: value.value}, file, service, env)[key])
    if isinstance(out.get("environment"), (list, dict)):
        out["environment"] = key_values(out["environment"], "environment", file, service, env)
    for key in ("labels", "sysctls", "annotations"):
        if key in out and isinstance(out[key], (list, dict)):
            out[key] = key_values(out[key], key, file, service)
    if isinstance(out.get("depends_on"), (list, dict)):
        out["depends_on"] = normalise_depends_on(out["depends_on"], file, service)
    if "networks" in out and isinstance(out["networks"], (list, dict)):
        out["networks"] = _networks(out["networks"])
    if isinstance(out.get("build"), str):
        out["build"] = {"context": out["build"]}
    if isinstance(out.get("build"), dict):  # args and labels merge by key, in list or mapping form
        build = dict(out["build"])
        for key in ("args", "labels"):
            if isinstance(build.get(key), (list, dict)):
                build[key] = key_values(build[key], f"build.{key}", file, service)
        out["build"] = build
    if isinstance(out.get("env_file"), (str, dict)):
        out["env_file"] = [out["env_file"]]
    for key in ("dns", "dns_search", "tmpfs", "profiles"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    if isinstance(out.get("healthcheck"), dict) and isinstance(out["healthcheck"].get("test"), str):
        out["healthcheck"] = {**out["healthcheck"], "test": ["CMD-SHELL", out["healthcheck"]["test"]]}
    return out


def check_fragment(spec: dict, file: str, service: str) -> None:
    """Validate the keys one file writes for a service, so an error names that file.

    Ports, volumes and healthcheck durations are otherwise read only after the merge,
    when the override that wrote a bad entry can no longer be told from the base file.
    """
    ports = spec.get("ports")
    if isinstance(ports, list):
        for entry in ports:
            parse_port(entry, file, service)
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for entry in volumes:
            if isinstance(entry, dict):
                parse_volume(entry, file=file, service=service)
    hc = spec.get("healthcheck")
    if hc is not None and not isinstance(hc, (dict, Override, Reset)):
        normalise_healthcheck(hc, file, service)
    if isinstance(hc, dict):
        for key in ("interval", "timeout", "start_period", "start_interval"):
            duration_s(hc.get(key), f"healthcheck.{key}", file, service)
        if hc.get("test") is not None:
            normalise_healthcheck(hc, file, service)
