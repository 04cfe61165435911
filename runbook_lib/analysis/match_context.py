"""What a log matcher may know about the stack, and the enrichers that use it.

``MatchContext`` holds the service being read, which services listen on which port
(published, exposed, or the technology's own ports from ``knowledge``) and the service
names. The enrichers (``ENRICHERS``, named by a signature's ``enrich``) add computed
template fields to a match: "call `redis:6379` instead of localhost", "did you mean kafka?".
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_lib import knowledge
from runbook_lib.analysis.frames import rows_of


@dataclass(frozen=True)
class MatchContext:
    """What a matcher may know about the stack: the service, port -> services, service names."""

    service: str | None = None
    port_services: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    services: frozenset[str] = frozenset()


def port_service_map(catalog_rows: Any,
                     raw: Mapping[str, Mapping] | None = None) -> dict[int, tuple[str, ...]]:
    """Catalog rows (or ``Catalog.frame``) + raw ``expose`` -> {port: services}.

    Container ports, ``expose`` and well-known image ports first; host ports as a fallback.
    """
    rows = rows_of(catalog_rows)
    if not rows or "service" not in rows[0]:
        return {}
    inside: dict[int, list[str]] = {}
    by_host: dict[int, list[str]] = {}

    def add(target: dict[int, list[str]], port: Any, svc: str) -> None:
        try:
            port = int(str(port).split("/")[0])
        except (TypeError, ValueError):
            return
        if svc not in target.setdefault(port, []):
            target[port].append(svc)

    for row in rows:
        svc, ports, image = row["service"], row.get("ports", []), row.get("image")
        for p in ports if isinstance(ports, list) else []:
            add(inside, p.get("container_port"), svc)
            add(by_host, p.get("host_port"), svc)
        for e in ((raw or {}).get(svc) or {}).get("expose") or []:
            add(inside, e, svc)
        for port in knowledge.image_ports(image):
            add(inside, port, svc)
    out = {port: tuple(svcs) for port, svcs in by_host.items()}
    out.update({port: tuple(svcs) for port, svcs in inside.items()})
    return out


def catalog_rows(catalog: Any) -> list[dict[str, Any]] | None:
    """A Catalog's rows (records), or a catalog frame's / a list's rows; None when ``catalog`` is neither."""
    rows = getattr(catalog, "rows", None)
    if rows is not None:
        return list(rows)
    if isinstance(catalog, list) or (hasattr(catalog, "to_dict") and hasattr(catalog, "columns")):
        return rows_of(catalog)
    frame = getattr(catalog, "frame", None)
    return rows_of(frame) if frame is not None else None


def context_from_catalog(catalog: Any, service: str | None = None) -> MatchContext:
    """A MatchContext from a Catalog (or a catalog frame, or catalog rows), for one service."""
    rows = catalog_rows(catalog)
    if rows is None:
        return MatchContext(service=service)
    return MatchContext(service=service, port_services=port_service_map(rows, getattr(catalog, "raw", None)),
                        services=frozenset(str(r["service"]) for r in rows if "service" in r))


def _enrich_module(f: dict, ctx: MatchContext) -> None:
    mod = f.get("module") or "?"
    svc = ctx.service or "<service>"
    if mod.startswith((".", "/")):
        f["module_fix"] = (f"`{mod}` is a path of the app itself: the build output is incomplete or the start "
                           f"command points at the wrong file; build inside the image (`nest build`) and "
                           f"check the `command:` path, then `docker compose build {svc}`")
    else:
        f["module_fix"] = (f"add `{mod}` to the service's package.json `dependencies` (not devDependencies) or "
                           f"requirements, rebuild the image (`docker compose build --no-cache {svc}`) and "
                           f"recreate it (`docker compose up -d {svc}`)")


def _enrich_typescript(f: dict, ctx: MatchContext) -> None:
    line = f.get("line")
    f["where"] = f"{f['file']}:{line}" if f.get("file") and line else (f.get("file") or "the sources")
    f["message"] = (f.get("message") or "").strip()[:200]


def _enrich_port_target(f: dict, ctx: MatchContext) -> None:
    try:
        port = int(f.get("port") or 0)
    except ValueError:
        port = 0
    owners = [s for s in ctx.port_services.get(port, ()) if s != ctx.service]
    if owners:
        f["target_service"] = owners[0]
        alts = " or ".join(f"`{s}:{port}`" for s in owners)
        f["call_hint"] = (f"call {alts} instead of localhost: inside a container localhost is the "
                          f"container itself; set the host (env/config) to the service name and recreate")
    elif ctx.service and ctx.service in ctx.port_services.get(port, ()):
        f["target_service"] = ctx.service
        f["call_hint"] = (f"port {port} is {ctx.service}'s own port: the app is not listening yet (or listens "
                          f"on another port/interface); check its start-up errors above")
    else:
        f["target_service"] = ""
        f["call_hint"] = (f"replace localhost:{port} with the service name of the dependency that listens on "
                          f"{port} (no service of the catalog publishes that port)")


def _enrich_dns(f: dict, ctx: MatchContext) -> None:
    host = (f.get("dnshost") or "").strip(".")
    f["dnshost"] = host
    if host and host in ctx.services:
        f["dns_cause"] = (f"`{host}` is a service of this stack but its name does not resolve: it is not "
                          f"running, or not on the same network")
        f["dns_fix"] = (f"start `{host}` (`docker compose up -d {host}`) and put both services on the same "
                        f"network; EAI_AGAIN during start-up also means the resolver was busy: retry")
    elif host:
        near = difflib.get_close_matches(host.split(".")[0], sorted(ctx.services), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near[:3])}?)" if near else ""
        f["dns_cause"] = f"the host name `{host}` does not resolve{hint}"
        f["dns_fix"] = ("use the compose service name of the dependency as the host; for outside hosts check "
                        "the container's DNS and network access")
    else:
        f["dns_cause"] = "a host name does not resolve"
        f["dns_fix"] = "use compose service names as hosts and check the container's network"


def _enrich_user(f: dict, ctx: MatchContext) -> None:
    user = f.get("user") or f.get("user2")
    f["user"] = user or ""
    f["user_part"] = f" for user `{user}`" if user else ""


def _enrich_broker(f: dict, ctx: MatchContext) -> None:
    b = f.get("broker")
    f["broker_txt"] = f"`{b}` " if b else ""


def _enrich_path(f: dict, ctx: MatchContext) -> None:
    p = (f.get("path") or "").rstrip("',:")
    f["path"] = p
    f["path_txt"] = f"`{p}`" if p else "a file or directory"
    f["path_or_dir"] = p or "<dir>"


def _enrich_port_txt(f: dict, ctx: MatchContext) -> None:
    f["port_txt"] = f"port {f['port']}" if f.get("port") else "its port"


def _enrich_target(f: dict, ctx: MatchContext) -> None:
    t = f.get("target")
    f["target"] = t or ""
    f["target_txt"] = f" `{t}`" if t else ""


ENRICHERS = {
    "module": _enrich_module, "typescript": _enrich_typescript, "port_target": _enrich_port_target,
    "dns": _enrich_dns, "user": _enrich_user, "broker": _enrich_broker, "path": _enrich_path,
    "target": _enrich_target, "port_txt": _enrich_port_txt,
}
