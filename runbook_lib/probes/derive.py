"""Catalog (+ inventory, + config) → probe specs, with no configuration (pure, no I/O).

- image → kind from a table (core kinds here, protocol kinds from ``probe_kinds.KIND_INFO``);
  application services (tier "application": built here, or not a known infrastructure
  image) → http with health-path discovery among ``HEALTH_PATHS`` (the path in the
  service's own healthcheck URL first);
- published port → ``127.0.0.1:<host port>`` (the running container's published ports win
  over the compose file's); a port that is not published on the host → probed from inside
  the running container (``via="exec"``), else a row "unknown: port not published";
- credentials from the service's own unmasked environment/command (``Catalog.raw``):
  used in ``ProbeSpec.options``, never displayed;
- ``probes:`` in runbook.yaml overrides a derived probe of the same kind, adds others,
  and ``enabled: false`` removes one.

After a round, ``collapse_discovery`` keeps one row per discovered service and
``endpoint_audit`` gives the standardisation picture (service × path → status).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from runbook_lib.probes.runner import DEFAULT_TIMEOUT_S, ProbeSpec

HEALTH_PATHS = ("/health", "/api/health", "/api/v1/health", "/health/live", "/health/ready")
LOOPBACK_OK = {None, "", "0.0.0.0", "::", "127.0.0.1", "localhost", "::1"}
APP_PORT_VARS = ("APP_PORT", "PORT", "SERVICE_PORT", "HTTP_PORT", "SERVER_PORT")
# core kinds: image pattern → (kind, container port)
CORE_IMAGES: tuple[tuple[str, str, int], ...] = (
    (r"(^|/)(postgres|postgis|timescaledb(-ha)?|pgvector|postgresql)(:|@|$)", "postgres", 5432),
    (r"(^|/)(redis|redis-stack-server|valkey|keydb)(:|@|$)", "redis", 6379),
)
_URL_RE = re.compile(r"https?://(?:[^/\s:'\"@]+@)?([^/\s:'\"]+)(?::(\d+))?(/[^\s'\"|;&)]*)?")
_CONFIG_FIELDS = {"kind", "host", "port", "path", "timeout_s", "via", "container", "enabled"}


# ---------------------------------------------------------------- small pure helpers
def _protocol_info() -> dict:
    try:
        from runbook_lib.probes.protocols import KIND_INFO
        return dict(KIND_INFO)
    except ImportError:  # protocol kinds not installed: core kinds only
        return {}


def image_kind(image: str | None) -> tuple[str | None, int | None]:
    """(kind, default container port) for an image reference, or (None, None)."""
    if not image:
        return None, None
    ref = str(image).lower()
    for rx, kind, port in CORE_IMAGES:
        if re.search(rx, ref):
            return kind, port
    for info in _protocol_info().values():
        if re.search(info.image_re, ref):
            return info.kind, info.port
    return None, None


def _clean(value: Any) -> str | None:
    """A usable credential value (not empty, not an unresolved ${VAR})."""
    if value is None:
        return None
    s = str(value)
    if not s or "${" in s:
        return None
    return s


def postgres_credentials(env: Mapping[str, Any]) -> dict[str, str]:
    """user/password/dbname as the postgres image reads them (POSTGRES_*, DATABASE_*, PG*)."""
    e = {str(k): v for k, v in (env or {}).items()}
    trust = str(e.get("POSTGRES_HOST_AUTH_METHOD", "")).lower() == "trust"
    password = next((_clean(e.get(k)) for k in ("POSTGRES_PASSWORD", "DATABASE_PASSWORD", "PGPASSWORD",
                                               "DB_PASSWORD") if _clean(e.get(k))), None)
    user = next((_clean(e.get(k)) for k in ("POSTGRES_USER", "DATABASE_USER", "PGUSER", "DB_USER",
                                           "DATABASE_USERNAME") if _clean(e.get(k))), None)
    dbname = next((_clean(e.get(k)) for k in ("POSTGRES_DB", "DATABASE_NAME", "PGDATABASE", "DB_NAME")
                   if _clean(e.get(k))), None)
    if not password and not trust:
        return {}  # POSTGRES_PASSWORD_FILE / secrets: cannot be read from the catalog
    user = user or "postgres"
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
    e = env or {}
    password = password or _clean(e.get("REDIS_PASSWORD"))
    out: dict[str, str] = {}
    if password:
        out["password"] = password
        if _clean(e.get("REDIS_USERNAME")):
            out["user"] = str(e["REDIS_USERNAME"])
    return out


_HOST_VARS = {"postgres": ("DATABASE_HOST", "DB_HOST", "POSTGRES_HOST", "PGHOST", "TYPEORM_HOST"),
              "redis": ("REDIS_HOST", "CACHE_HOST")}
_URL_VARS = {"postgres": ("DATABASE_URL", "POSTGRES_URL", "DB_URL"), "redis": ("REDIS_URL", "CACHE_URL")}
_CRED_URL_RE = re.compile(r"^(?P<scheme>[a-z+]+)://(?:(?P<user>[^:@/]*)(?::(?P<pw>[^@/]*))?@)?"
                          r"(?P<host>[^:/?]+)(?::\d+)?(?:/(?P<db>[^?]*))?")


def client_credentials(kind: str, names: Iterable[str], raw: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Credentials the *clients* of a database use (DATABASE_HOST=<it> + DATABASE_USER/PASSWORD,
    or DATABASE_URL): the fallback when the server's own environment has none (env_file missing)."""
    names = {str(n) for n in names if n}
    for spec in raw.values():
        env = spec.get("environment") or {}
        for var in _URL_VARS.get(kind, ()):
            m = _CRED_URL_RE.match(str(_clean(env.get(var)) or ""))
            if m and m.group("host") in names and m.group("pw"):
                out = {"password": m.group("pw")}
                if kind == "postgres":
                    out["user"] = m.group("user") or "postgres"
                    out["dbname"] = m.group("db") or out["user"]
                elif m.group("user"):
                    out["user"] = m.group("user")
                return out
        if not any(str(env.get(v)) in names for v in _HOST_VARS.get(kind, ())):
            continue
        if kind == "postgres":
            creds = postgres_credentials({k: v for k, v in env.items() if not str(k).startswith("POSTGRES_HOST")})
            if creds.get("password"):
                return creds
        elif kind == "redis" and _clean(env.get("REDIS_PASSWORD")):
            return {"password": str(env["REDIS_PASSWORD"])}
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
    kind, default_port = image_kind(spec.get("image"))
    out: list[ProbeSpec] = []

    if inv_rows:
        out.append(ProbeSpec(service, "docker", port=None, timeout_s=timeout_s, container=inv_rows[0]["id"],
                             options={"check": "container"}))
    elif not engine_up:
        out.append(ProbeSpec(service, "docker", port=None, timeout_s=timeout_s,
                             container=spec.get("container_name"), options={"check": "container"}))

    if kind is not None:
        info = _protocol_info().get(kind)
        options: dict[str, Any] = {}
        if kind == "postgres":
            options.update(postgres_credentials(env))
        elif kind == "redis":
            options.update(redis_credentials(env, spec.get("command")))
        if kind in ("postgres", "redis") and not options.get("password") and raw:
            options.update(client_credentials(kind, (service, spec.get("container_name")), raw))
        elif info is not None:
            try:
                from runbook_lib.probes.protocols import credential_options
                options.update(credential_options(kind, env))
            except ImportError:
                pass
        port = default_port
        if port not in published:
            # the kind's port may be remapped inside (e.g. EVENTSTORE_HTTP_PORT) or only another one published
            for k, v in env.items():
                if str(k).endswith(("_HTTP_PORT", "_CLIENT_PORT")) and str(v).isdigit() and int(v) in published:
                    port = int(v)
        exec_path = info.path if info is not None else None
        if port not in published and info is not None:
            # only another of the kind's ports is published (e.g. rabbitmq 5672 without 15672)
            for extra in (info.extra_ports or {}).values():
                if extra in published:
                    port = extra
                    break
        placed = _placed(service, kind, port, published, container, timeout_s, options=options,
                         exec_path=exec_path)
        for name, extra in ((info.extra_ports or {}) if info is not None else {}).items():
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


# ---------------------------------------------------------------- after the round (pure)
def _path_of(target: str) -> str:
    m = re.search(r":\d+(/.*)$", str(target))
    return m.group(1) if m else "/"


def _reply_code(reply: Any) -> int | None:
    m = re.match(r"HTTP (\d{3})", str(reply or ""))
    return int(m.group(1)) if m else None


def _discovery_mask(rows: pd.DataFrame, specs: list[ProbeSpec] | None) -> list[bool]:
    if specs is not None and len(specs) == len(rows):
        return [bool(s.options.get("discover")) for s in specs]
    return [False] * len(rows)


def collapse_discovery(rows: pd.DataFrame, specs: list[ProbeSpec]) -> pd.DataFrame:
    """One http row per discovered service: the first working path (else the most telling failure).

    ``specs`` are the specs of the round, in the same order as ``rows``.
    """
    if rows.empty:
        return rows
    mask = _discovery_mask(rows, specs)
    keep: list[int] = []
    groups: dict[str, list[int]] = {}
    for i, disc in enumerate(mask):
        if disc:
            groups.setdefault(rows.iloc[i]["service"], []).append(i)
        else:
            keep.append(i)
    chosen: dict[int, dict] = {}
    for service, idx in groups.items():
        sub = [rows.iloc[i].to_dict() for i in idx]
        good = [r for r in sub if r["state"] in ("up", "degraded")]
        answered = [r for r in sub if (_reply_code(r["reply"]) or 404) not in (404, 405)]
        tried = ", ".join(_path_of(r["target"]) for r in sub)
        if good:
            row = good[0]
        elif answered:
            row = answered[0]
        elif all(_reply_code(r["reply"]) in (404, 405) for r in sub):
            row = dict(sub[0])
            row["error"] = f"no health endpoint found (tried {tried}); set path in runbook.yaml probes:"
        else:
            row = sub[0]
        chosen[idx[0]] = row
    out = [rows.iloc[i].to_dict() if i in keep else chosen[i] for i in range(len(rows)) if i in keep or i in chosen]
    from runbook_lib.probes.runner import rows_frame
    return rows_frame(out)


def pin_discovery(specs: list[ProbeSpec], rows: pd.DataFrame) -> list[ProbeSpec]:
    """Specs for later rounds: each discovery group replaced by its working path (if one worked)."""
    collapsed = collapse_discovery(rows, specs)
    paths = {r["service"]: _path_of(r["target"]) for r in collapsed.to_dict(orient="records")
             if r["kind"] == "http" and r["state"] in ("up", "degraded")}
    out: list[ProbeSpec] = []
    done: set[str] = set()
    for s in specs:
        if s.options.get("discover") and s.service in paths:
            if s.service in done:
                continue
            done.add(s.service)
            opts = {k: v for k, v in s.options.items() if k != "discover"}
            out.append(ProbeSpec(s.service, s.kind, s.host, s.port, paths[s.service], s.timeout_s,
                                 opts, s.via, s.container))
        else:
            out.append(s)
    return out


def endpoint_audit(rows: pd.DataFrame, specs: list[ProbeSpec] | None = None) -> pd.DataFrame:
    """Service × health path → answer, like HEALTH_ENDPOINTS_DOCUMENTATION.md by hand.

    Long frame: service, port, path, code, state, works, terminus (components reported),
    via, error. Uses the discovery rows (all http rows when ``specs`` is None).
    """
    cols = ["service", "port", "path", "code", "state", "works", "terminus", "via", "error"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    mask = _discovery_mask(rows, specs) if specs is not None else list(rows["kind"] == "http")
    out = []
    for i, use in enumerate(mask):
        if not use:
            continue
        r = rows.iloc[i]
        m = re.search(r":(\d+)(/|$)", str(r["target"]))
        out.append({"service": r["service"], "port": int(m.group(1)) if m else None,
                    "path": _path_of(r["target"]), "code": _reply_code(r["reply"]), "state": r["state"],
                    "works": r["state"] in ("up", "degraded"),
                    "terminus": bool(r["detail"]) if isinstance(r["detail"], list) else False,
                    "via": r["via"], "error": r["error"]})
    return pd.DataFrame(out, columns=cols)


def audit_matrix(audit: pd.DataFrame) -> pd.DataFrame:
    """Wide view: one row per service, one column per path, cells like "200", "404", "timeout"."""
    if audit.empty:
        return pd.DataFrame(columns=["service", *HEALTH_PATHS, "working_path"])

    def cell(r) -> str:
        if r["code"] is not None and not pd.isna(r["code"]):
            return str(int(r["code"]))
        return str(r["error"] or r["state"])

    a = audit.assign(cell=audit.apply(cell, axis=1))
    wide = a.pivot_table(index="service", columns="path", values="cell", aggfunc="first", sort=False)
    paths = [p for p in HEALTH_PATHS if p in wide.columns] + [p for p in wide.columns if p not in HEALTH_PATHS]
    wide = wide.reindex(columns=paths)
    working = a[a["works"]].groupby("service", sort=False)["path"].first()
    wide["working_path"] = [working.get(s) for s in wide.index]
    return wide.reset_index().astype(object).where(lambda d: d.notna(), None)


def standardisation(audit: pd.DataFrame) -> dict:
    """Which path works where: {path: [services]}, the most common one, who differs, who has none."""
    if audit.empty:
        return {"by_path": {}, "standard_path": None, "non_standard": [], "no_endpoint": [], "services": 0}
    works = audit[audit["works"]]
    by_path = {p: sorted(set(g["service"])) for p, g in works.groupby("path", sort=False)}
    first = works.groupby("service", sort=False)["path"].first()
    standard = first.value_counts().idxmax() if not first.empty else None
    services = list(dict.fromkeys(audit["service"]))
    return {
        "services": len(services),
        "by_path": by_path,
        "standard_path": standard,
        "non_standard": sorted(s for s, p in first.items() if p != standard),
        "no_endpoint": sorted(s for s in services if s not in first.index),
    }


def specs_frame(specs: Iterable[ProbeSpec]) -> pd.DataFrame:
    """A displayable (masked) list of specs: service, kind, target, via, timeout_s, check."""
    return pd.DataFrame([{"service": s.service, "kind": s.kind, "target": s.target, "via": s.via,
                          "timeout_s": s.timeout_s, "check": s.check} for s in specs],
                        columns=["service", "kind", "target", "via", "timeout_s", "check"])


def use_discovery_cache(specs: list[ProbeSpec], cache: Mapping[tuple, str]) -> list[ProbeSpec]:
    """Replace each discovery group whose working path is cached by one spec on that path
    (option ``pinned``), so a long-running collector probes one path per app, not five."""
    out: list[ProbeSpec] = []
    done: set[tuple] = set()
    for s in specs:
        key = (s.service, s.port, s.via)
        if s.options.get("discover") and key in cache:
            if key in done:
                continue
            done.add(key)
            opts = {k: v for k, v in s.options.items() if k != "discover"}
            opts["pinned"] = True
            out.append(ProbeSpec(s.service, s.kind, s.host, s.port, cache[key], s.timeout_s, opts, s.via,
                                 s.container))
        else:
            out.append(s)
    return out


def update_discovery_cache(cache: dict[tuple, str], specs: list[ProbeSpec], rows: pd.DataFrame) -> None:
    """Remember each service's working health path; forget it when the pinned path stops answering."""
    if len(specs) != len(rows):
        return
    states = list(rows["state"])
    for s, state in zip(specs, states):
        key = (s.service, s.port, s.via)
        if s.options.get("pinned") and state not in ("up", "degraded"):
            cache.pop(key, None)  # rediscover next round
    collapsed = collapse_discovery(rows, specs)
    disc = {s.service: (s.service, s.port, s.via) for s in specs if s.options.get("discover")}
    for r in collapsed.to_dict(orient="records"):
        if r["service"] in disc and r["kind"] == "http" and r["state"] in ("up", "degraded"):
            cache[disc[r["service"]]] = _path_of(r["target"])


_COLLECTOR_CACHE: dict[tuple, str] = {}


def probe_stack(compose_files: list[str] | None = None, project: str | None = None,
                config_path: str | None = None, engine_url: str | None = None,
                engine_timeout_s: float = 5.0, timeout_s: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(rows, notes) of one round over the stack, for the collector: delegates to ``probes.probe_stack``
    (the I/O lives there; this module stays pure otherwise). Health paths found once are
    reused by later rounds of this process (rediscovered when they stop answering)."""
    from runbook_lib.probes import runner as probes
    res = probes.probe_stack(compose_files=compose_files, project=project, config_path=config_path,
                             engine_url=engine_url, engine_timeout_s=engine_timeout_s, timeout_s=timeout_s,
                             discovery_cache=_COLLECTOR_CACHE)
    return res.rows, res.notes
