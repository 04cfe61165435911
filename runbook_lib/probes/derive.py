"""Catalog (+ inventory, + config) → probe specs, with no configuration (pure, no I/O).

- image → kind, port, HTTP path and credential variables from the technology table
  (``runbook_lib.knowledge``); application services (tier "application": built here, or
  not a known infrastructure image) → http with health-path discovery among
  ``HEALTH_PATHS`` (the path in the service's own healthcheck URL first);
- published port → ``127.0.0.1:<host port>`` (the running container's published ports win
  over the compose file's); a port that is not published on the host → probed from inside
  the running container (``via="exec"``), else a row "unknown: port not published";
- credentials from the service's own unmasked environment/command (``Catalog.raw``):
  used in ``ProbeSpec.options``, never displayed;
- ``probes:`` in runbook.yaml overrides a derived probe of the same kind, adds others,
  and ``enabled: false`` removes one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from runbook_lib import knowledge
from runbook_lib.probes.discovery import HEALTH_PATHS
from runbook_lib.probes.spec import DEFAULT_TIMEOUT_S, ProbeSpec

LOOPBACK_OK = {None, "", "0.0.0.0", "::", "127.0.0.1", "localhost", "::1"}
APP_PORT_VARS: tuple[str, ...] = knowledge.application().probe.port_env
_URL_RE = re.compile(r"https?://(?:[^/\s:'\"@]+@)?([^/\s:'\"]+)(?::(\d+))?(/[^\s'\"|;&)]*)?")
_CONFIG_FIELDS = {"kind", "host", "port", "path", "timeout_s", "via", "container", "enabled"}
_NO_INFO = knowledge.ProbeInfo(kind="")


def _kind_info(kind: str) -> knowledge.ProbeInfo:
    """The knowledge table's probe record of ``kind`` (an empty one when none knows it)."""
    tech = knowledge.by_probe_kind(kind)
    return tech.probe if tech is not None and tech.probe is not None else _NO_INFO


def image_kind(image: str | None) -> tuple[str | None, int | None]:
    """(kind, default container port) for an image reference, or (None, None)."""
    info = knowledge.probe_info(image)
    return (info.kind, info.port) if info is not None else (None, None)


def credential_options(kind: str, environment: Mapping[str, Any] | None) -> dict[str, Any]:
    """Probe options (user/password) for a kind from the service's own (unmasked) environment."""
    info = _kind_info(kind)
    env = dict(environment or {})
    out: dict[str, Any] = {}
    password = next((env[k] for k in info.password_env if env.get(k)), None)
    user = next((env[k] for k in info.user_env if env.get(k)), None)
    if password:
        out["password"] = str(password)
        out["user"] = str(user or info.default_user or "")
    elif user:
        out["user"] = str(user)
    return out


def _clean(value: Any) -> str | None:
    """A usable credential value (not empty, not an unresolved ${VAR})."""
    if value is None:
        return None
    s = str(value)
    if not s or "${" in s:
        return None
    return s


def _first(env: Mapping[str, Any], names: Iterable[str]) -> str | None:
    return next((_clean(env.get(k)) for k in names if _clean(env.get(k))), None)


def postgres_credentials(env: Mapping[str, Any]) -> dict[str, str]:
    """user/password/dbname as the postgres image reads them (POSTGRES_*, DATABASE_*, PG*)."""
    info = _kind_info("postgres")
    e = {str(k): v for k, v in (env or {}).items()}
    trust = str(e.get("POSTGRES_HOST_AUTH_METHOD", "")).lower() == "trust"
    password = _first(e, info.password_env)
    user = _first(e, info.user_env)
    dbname = _first(e, info.database_env)
    if not password and not trust:
        return {}  # POSTGRES_PASSWORD_FILE / secrets: cannot be read from the catalog
    user = user or info.default_user or "postgres"
    out = {"user": user, "dbname": dbname or user}
    if password:
        out["password"] = password
    return out


def redis_credentials(env: Mapping[str, Any], command: Any) -> dict[str, str]:
    """password from ``--requirepass`` in the command, else REDIS_PASSWORD (user from REDIS_USERNAME)."""
    args: list[str]
    if isinstance(command, (list, tuple)):
        args = [str(a) for a in command]
        if len(args) >= 2 and args[0] in ("sh", "bash", "/bin/sh") and args[1] == "-c":
            args = " ".join(args[2:]).split()
    elif command:
        args = str(command).split()
    else:
        args = []
    password = None
    for i, a in enumerate(args):
        if a.startswith("--requirepass="):
            password = a.split("=", 1)[1]
        elif a in ("--requirepass", "requirepass") and i + 1 < len(args):
            password = args[i + 1]
    password = _clean(password.strip("'\"")) if password else None
    info = _kind_info("redis")
    e = env or {}
    password = password or _first(e, info.password_env)
    out: dict[str, str] = {}
    if password:
        out["password"] = password
        user = _first(e, info.user_env)
        if user:
            out["user"] = user
    return out


_CRED_URL_RE = re.compile(r"^(?P<scheme>[a-z+]+)://(?:(?P<user>[^:@/]*)(?::(?P<pw>[^@/]*))?@)?"
                          r"(?P<host>[^:/?]+)(?::\d+)?(?:/(?P<db>[^?]*))?")


def client_credentials(kind: str, names: Iterable[str], raw: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Credentials the *clients* of a database use (DATABASE_HOST=<it> + DATABASE_USER/PASSWORD,
    or DATABASE_URL): the fallback when the server's own environment has none (env_file missing)."""
    names = {str(n) for n in names if n}
    info = _kind_info(kind)
    for spec in raw.values():
        env = spec.get("environment") or {}
        for var in info.client_url_env:
            m = _CRED_URL_RE.match(str(_clean(env.get(var)) or ""))
            if m and m.group("host") in names and m.group("pw"):
                out = {"password": m.group("pw")}
                if kind == "postgres":
                    out["user"] = m.group("user") or "postgres"
                    out["dbname"] = m.group("db") or out["user"]
                elif m.group("user"):
                    out["user"] = m.group("user")
                return out
        if not any(str(env.get(v)) in names for v in info.client_host_env):
            continue
        if kind == "postgres":
            creds = postgres_credentials({k: v for k, v in env.items() if not str(k).startswith("POSTGRES_HOST")})
            if creds.get("password"):
                return creds
        elif kind == "redis" and _first(env, info.password_env):
            return {"password": str(_first(env, info.password_env))}
    return {}


def healthcheck_url(spec: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(port, path) of the HTTP URL in the service's own healthcheck test, if any."""
    hc = spec.get("healthcheck") or {}
    test = hc.get("test") if isinstance(hc, Mapping) else None
    text = " ".join(str(t) for t in test) if isinstance(test, (list, tuple)) else str(test or "")
    m = _URL_RE.search(text)
    if not m:
        return None, None
    port = int(m.group(2)) if m.group(2) else None
    return port, (m.group(3) or None)


def _app_port(spec: Mapping[str, Any], container_ports: list[int]) -> int | None:
    if container_ports:
        return container_ports[0]
    env = spec.get("environment") or {}
    for k in APP_PORT_VARS:
        v = _clean(env.get(k))
        if v and v.isdigit():
            return int(v)
    hc_port, _ = healthcheck_url(spec)
    if hc_port:
        return hc_port
    for e in spec.get("expose") or []:
        m = re.match(r"(\d+)", str(e))
        if m:
            return int(m.group(1))
    return None


def _inventory_rows(inventory: pd.DataFrame | None, service: str, project: str | None,
                    container_name: str | None) -> list[dict]:
    if inventory is None or inventory.empty:
        return []
    df = inventory
    hit = df[df["service"] == service]
    if project and "project" in df.columns and not hit.empty:
        same = hit[hit["project"] == project]
        hit = same if not same.empty else hit
    if hit.empty and container_name:
        hit = df[df["name"] == container_name]
    rows = hit.to_dict(orient="records")
    rows.sort(key=lambda r: (r.get("state") != "running",))
    return rows


def _published(spec: Mapping[str, Any], inv_rows: list[dict]) -> dict[int, int]:
    """container port → host port reachable on 127.0.0.1 (running container first, then compose)."""
    out: dict[int, int] = {}
    for r in inv_rows[:1]:
        for p in r.get("published_ports") or []:
            if p.get("protocol", "tcp") == "tcp" and p.get("host_port") and p.get("host_ip") in LOOPBACK_OK:
                out.setdefault(int(p["container_port"]), int(p["host_port"]))
    if inv_rows and inv_rows[0].get("state") == "running":
        return out  # the engine is the truth for a running container
    for p in spec.get("ports") or []:
        if p.get("protocol", "tcp") == "tcp" and p.get("host_port") and p.get("host_ip") in LOOPBACK_OK:
            out.setdefault(int(p["container_port"]), int(p["host_port"]))
    return out


def _placed(service: str, kind: str, container_port: int | None, published: dict[int, int],
            container: str | None, timeout_s: float, path: str | None = None,
            options: dict | None = None, exec_path: str | None = None) -> ProbeSpec:
    """Spec on 127.0.0.1:<host port>, else from inside the container, else 'not published'."""
    opts = dict(options or {})
    if container_port is not None and container_port in published:
        return ProbeSpec(service, kind, port=published[container_port], path=path, timeout_s=timeout_s,
                         options=opts, container=container)
    if container_port is None:
        opts["why_not"] = "no port known: add one in runbook.yaml probes:"
        return ProbeSpec(service, kind, port=None, path=path, timeout_s=timeout_s, options=opts, via="none")
    if container:
        opts.setdefault("exec_host", "127.0.0.1")
        return ProbeSpec(service, kind, port=container_port, path=path or exec_path, timeout_s=timeout_s,
                         options=opts, via="exec", container=container)
    opts["why_not"] = "port not published"
    return ProbeSpec(service, kind, port=container_port, path=path, timeout_s=timeout_s, options=opts, via="none")


# ---------------------------------------------------------------- derivation
def derive_service(service: str, spec: Mapping[str, Any], inventory: pd.DataFrame | None = None,
                   project: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                   engine_up: bool = True, raw: Mapping[str, Mapping[str, Any]] | None = None) -> list[ProbeSpec]:
    """The probes of one service from its raw (unmasked) catalog spec."""
    inv_rows = _inventory_rows(inventory, service, project, spec.get("container_name"))
    running = [r for r in inv_rows if r.get("state") == "running"]
    container = running[0]["id"] if running else None
    published = _published(spec, inv_rows)
    env = spec.get("environment") or {}
    info = knowledge.probe_info(spec.get("image"))
    kind, default_port = (info.kind, info.port) if info is not None else (None, None)
    out: list[ProbeSpec] = []

    if inv_rows:
        out.append(ProbeSpec(service, "docker", port=None, timeout_s=timeout_s, container=inv_rows[0]["id"],
                             options={"check": "container"}))
    elif not engine_up:
        out.append(ProbeSpec(service, "docker", port=None, timeout_s=timeout_s,
                             container=spec.get("container_name"), options={"check": "container"}))

    if kind is not None:
        options: dict[str, Any] = {}
        if kind == "postgres":
            options.update(postgres_credentials(env))
        elif kind == "redis":
            options.update(redis_credentials(env, spec.get("command")))
        if kind in ("postgres", "redis") and not options.get("password") and raw:
            options.update(client_credentials(kind, (service, spec.get("container_name")), raw))
        elif kind not in ("postgres", "redis"):
            options.update(credential_options(kind, env))
        port = default_port
        if port not in published:
            # the kind's port may be remapped inside (e.g. EVENTSTORE_HTTP_PORT) or only another one published
            for k, v in env.items():
                if str(k).endswith(("_HTTP_PORT", "_CLIENT_PORT")) and str(v).isdigit() and int(v) in published:
                    port = int(v)
        exec_path = info.path
        if port not in published:
            # only another of the kind's ports is published (e.g. rabbitmq 5672 without 15672)
            for extra in (info.extra_ports or {}).values():
                if extra in published:
                    port = extra
                    break
        placed = _placed(service, kind, port, published, container, timeout_s, options=options,
                         exec_path=exec_path)
        for name, extra in (info.extra_ports or {}).items():
            if placed.via == "host" and extra in published:
                placed = placed.with_(options={name: published[extra]})
            elif placed.via == "exec":
                placed = placed.with_(options={name: extra})
        out.append(placed)
        return out

    is_app = str(spec.get("tier") or "") == "application" or bool(spec.get("build"))
    if not is_app:
        tool_ports = sorted(published)
        if tool_ports:
            out.append(_placed(service, "tcp", tool_ports[0], published, container, timeout_s))
        elif not out:
            port = _app_port(spec, [])
            out.append(_placed(service, "tcp", port, published, container, timeout_s))
        return out

    # application: discover the health path
    port = _app_port(spec, sorted(published))
    hc_port, hc_path = healthcheck_url(spec)
    paths = list(HEALTH_PATHS)
    if hc_path and (hc_port is None or hc_port == port):
        paths = [hc_path] + [p for p in paths if p != hc_path]
    for path in paths:
        out.append(_placed(service, "http", port, published, container, timeout_s, path=path,
                           options={"discover": True, "check": "http"}))
    return out


def _config_spec(service: str, item: Mapping[str, Any], timeout_s: float,
                 container: str | None) -> ProbeSpec:
    options = {k: v for k, v in item.items() if k not in _CONFIG_FIELDS}
    via = str(item.get("via") or "host")
    port = item.get("port")
    return ProbeSpec(service=service, kind=str(item["kind"]), host=str(item.get("host") or "127.0.0.1"),
                     port=int(port) if port is not None else None, path=item.get("path"),
                     timeout_s=float(item.get("timeout_s") or timeout_s), options=options, via=via,
                     container=item.get("container") or (container if via == "exec" else None))


def derive_probes(catalog, inventory: pd.DataFrame | None = None, config=None,
                  timeout_s: float | None = None, engine_up: bool | None = None) -> list[ProbeSpec]:
    """Probe specs for every service of the catalog (+ runbook.yaml ``probes:``); pure.

    ``catalog`` is a ``compose.Catalog`` (or None: config probes only); ``inventory`` the
    inventory frame (None when the engine is unreachable: probes still derived from the
    catalog); ``config`` a ``config.RunbookConfig`` or a plain ``{"probes": …}`` mapping.
    """
    t = float(timeout_s or DEFAULT_TIMEOUT_S)
    engine = inventory is not None if engine_up is None else engine_up
    raw = dict(getattr(catalog, "raw", None) or {})
    project = getattr(catalog, "project", None)
    tier_of: dict[str, str] = {}
    frame = getattr(catalog, "frame", None)
    if frame is not None and "tier" in getattr(frame, "columns", []):
        tier_of = dict(zip(frame["service"], frame["tier"]))
    specs: list[ProbeSpec] = []
    for service, spec in raw.items():
        spec = dict(spec)
        spec.setdefault("tier", tier_of.get(service))
        specs.extend(derive_service(service, spec, inventory, project, t, engine, raw))

    cfg_probes = (config.get("probes") if isinstance(config, Mapping) else getattr(config, "probes", None)) or {}
    for service, items in cfg_probes.items():
        inv_rows = _inventory_rows(inventory, service, project, None)
        container = next((r["id"] for r in inv_rows if r.get("state") == "running"), None)
        for item in items:
            kind = str(item["kind"])
            same = [s for s in specs if s.service == service and s.kind == kind]
            for s in same:
                specs.remove(s)
            if item.get("enabled", True) is False:
                continue
            new = _config_spec(service, item, t, container)
            if same:  # keep the derived credentials unless the config gives its own
                inherited = {k: v for k, v in same[0].options.items()
                             if k in ("user", "password", "dbname", "amqp_port") and k not in new.options}
                new = new.with_(options=inherited)
            specs.append(new)
    return specs
