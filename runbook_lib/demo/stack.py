"""The demo stack: a small compose project shaped like the seed system, on any engine.

`runbook demo up` builds a FROM-scratch image holding the host's static busybox (no
registry needed) and, from it, images holding the host's PostgreSQL and redis-server,
writes a compose file describing the demo services (from the package's
``files/docker-compose.yml`` and ``files/apps/``; so the catalog, plan and lint work
on it) and creates the containers through the Docker API with the
compose labels, on a user-defined network ``<project>_default``. Ports are published on
127.0.0.1 only. The services reproduce the seed outage's failure kinds:

- postgres, redis, kafka: infrastructure (kafka without a healthcheck) that answers the native
  probes truthfully: postgres and redis are the real servers copied from the host (binary, the
  shared libraries ``ldd`` lists, postgres' share dir) into images built FROM the busybox
  image and cached by a recipe hash label; kafka is a Kafka wire-protocol responder (busybox
  ``nc -ll -e`` + sh/awk: ApiVersions, Metadata). Without the host binaries redis is a RESP
  stand-in and postgres a TCP stand-in (its probe then says down; ``shows`` says why);
- master-data: healthy NestJS-like app with a Terminus ``/health``;
- auth: ``Error: Cannot find module '@opentelemetry/api'`` then exit 1 (exited);
- workflow: TypeScript ``error TS2339`` compile errors, restart always (restarting);
- api-gateway: ``connect ECONNREFUSED 127.0.0.1:3001`` (calls localhost, not ``auth``),
  ``/health`` answers 503 (unhealthy);
- notification: OOM-killed for real (16 MB limit, exit 137);
- rules-engine: healthcheck runs ``curl`` which the image lacks (unhealthy).

`demo down` removes only containers and the network carrying ``runbook.demo=1`` and the
project label; never volumes (the demo creates none).
"""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pandas as pd

from runbook_lib import redact
from runbook_lib.demo.images import RECIPE_LABEL, SERVER_LABEL, ensure_image, ensure_images
from runbook_lib.demo.services import (DEFAULT_PORT_BASE, DEMO_IMAGE, DEMO_JWT_SECRET, DEMO_LABEL,
                                       DEMO_LABEL_KEY, DEMO_PG_PASSWORD, DEMO_PROJECT, DEMO_REDIS_PASSWORD,
                                       DemoError, DemoService, compose_dict, compose_path, host_port,
                                       host_postgres, host_redis, service, services, write_compose)
from runbook_lib.engine import dockerpy
from runbook_lib.engine.inventory import (CONFIG_FILES_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL,
                                          gather_inventory)

__all__ = [  # the demo's one entry point for the CLI and the tests
    "DEFAULT_PORT_BASE", "DEMO_IMAGE", "DEMO_JWT_SECRET", "DEMO_LABEL", "DEMO_PG_PASSWORD", "DEMO_PROJECT",
    "DEMO_REDIS_PASSWORD", "RECIPE_LABEL", "SERVER_LABEL", "DemoError", "DemoService", "compose_dict",
    "compose_path", "demo_down", "demo_status", "demo_up", "ensure_image", "ensure_images", "host_port",
    "host_postgres", "host_redis", "service", "services", "write_compose",
]

ONEOFF_LABEL = "com.docker.compose.oneoff"
NETWORK_LABEL = "com.docker.compose.network"
COMPOSE_VERSION = "2.24.0"  # the compose version label a recreate (`docker compose up -d --no-deps`) expects
_NS = 1_000_000_000


def __getattr__(name: str):
    """``SERVICES``: the demo services, looked up on the host only when first asked for."""
    if name == "SERVICES":
        return services()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- up / down / status --------------------------------------------------------------
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _project_filter(project: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT_LABEL}={project}", DEMO_LABEL]}


def _existing(client, project: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in client.api.containers(all=True, filters=_project_filter(project)):
        svc = (c.get("Labels") or {}).get(SERVICE_LABEL)
        if svc:
            out[svc] = c
    return out


def _ensure_network(client, project: str, extra_labels: dict[str, str]) -> str:
    name = f"{project}_default"
    nets = client.api.networks(names=[name])
    if any(n.get("Name") == name for n in nets):
        return name
    client.api.create_network(name, driver="bridge", labels={
        PROJECT_LABEL: project, NETWORK_LABEL: "default", DEMO_LABEL_KEY: "1", **extra_labels})
    return name


def _create(client, s: DemoService, project: str, network: str, port_base: int, cfg_path: Path,
            image: str, extra_labels: dict[str, str]) -> str:
    api = client.api
    labels = {
        PROJECT_LABEL: project, SERVICE_LABEL: s.name, CONFIG_FILES_LABEL: str(cfg_path),
        WORKDIR_LABEL: str(cfg_path.parent), ONEOFF_LABEL: "False",
        "com.docker.compose.container-number": "1", DEMO_LABEL_KEY: "1", "runbook.tier": s.tier,
        "com.docker.compose.version": COMPOSE_VERSION,  # docker-compose 1.29 reads it when it recreates
        **extra_labels,
    }
    restart = None if s.restart == "no" else {"Name": s.restart, "MaximumRetryCount": 0}
    hp = host_port(s, port_base)
    host_config = api.create_host_config(
        port_bindings={s.container_port: ("127.0.0.1", hp)},
        restart_policy=restart, network_mode=network,
        mem_limit=s.mem_limit, memswap_limit=s.mem_limit,
    )
    healthcheck = None
    if s.healthcheck:
        healthcheck = {"test": list(s.healthcheck), "interval": 2 * _NS, "timeout": 2 * _NS,
                       "retries": 2, "start_period": s.start_period_s * _NS}
    networking = api.create_networking_config({network: api.create_endpoint_config(aliases=[s.name])})
    created = api.create_container(
        s.image(image), command=["/bin/sh", "-c", s.script], name=f"{project}-{s.name}-1", hostname=s.name,
        environment=dict(s.environment), labels=labels, ports=[s.container_port],
        host_config=host_config, healthcheck=healthcheck, networking_config=networking, detach=True)
    api.start(created["Id"])
    return created["Id"]


def _settled(inv: pd.DataFrame) -> bool:
    by = {r["service"]: r for _, r in inv.iterrows()}
    for s in services():
        r = by.get(s.name)
        if r is None:
            return False
        if s.expect in ("healthy", "unhealthy") and r["health"] == "starting":
            return False
        if s.expect == "unhealthy" and r["health"] != "unhealthy":
            return False
        if s.expect in ("exited", "oom") and r["state"] != "exited":
            return False
        if s.expect == "restarting" and int(r["restart_count"] or 0) < 1:
            return False
    return True


def demo_up(client, project: str = DEMO_PROJECT, port_base: int = DEFAULT_PORT_BASE,
            settle_s: float = 30.0, compose_file: Path | None = None,
            extra_labels: dict[str, str] | None = None, image: str = DEMO_IMAGE) -> pd.DataFrame:
    """Create what is missing of the demo project, wait until states settle, return its inventory."""
    extra = dict(extra_labels or {})
    existing = _existing(client, project)
    missing = [s for s in services() if s.name not in existing]
    busy = [f"127.0.0.1:{host_port(s, port_base)} ({s.name})" for s in missing
            if not _port_free(host_port(s, port_base))]
    if busy:
        raise DemoError(f"ports already in use: {', '.join(busy)}. Fix: stop what listens there, or "
                        f"choose another range (port_base, default {DEFAULT_PORT_BASE}).")
    cfg_path = Path(compose_file) if compose_file else compose_path(project)
    write_compose(cfg_path, port_base, image)
    redact.learn_env({"POSTGRES_PASSWORD": DEMO_PG_PASSWORD, "REDIS_PASSWORD": DEMO_REDIS_PASSWORD,
                      "JWT_SECRET": DEMO_JWT_SECRET})
    servers: dict[str, str] = {}
    if missing:
        servers = ensure_images(client, image)
        network = _ensure_network(client, project, extra)
        for s in missing:
            _create(client, s, project, network, port_base, cfg_path, image, extra)
    deadline = time.monotonic() + settle_s
    while True:
        inv = gather_inventory(client, project=project)
        if _settled(inv) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    inv.attrs["created"] = [s.name for s in missing]
    inv.attrs["compose_file"] = str(cfg_path)
    inv.attrs["servers"] = servers
    return inv


def demo_down(client, project: str = DEMO_PROJECT) -> dict[str, int]:
    """Remove the demo project's containers and network (only those labelled runbook.demo=1)."""
    removed = 0
    for c in client.api.containers(all=True, filters=_project_filter(project)):
        try:
            client.api.remove_container(c["Id"], force=True, v=False)
            removed += 1
        except dockerpy.not_found():
            pass
    nets = 0
    for n in client.api.networks(filters=_project_filter(project)):
        try:
            client.api.remove_network(n["Id"])
            nets += 1
        except dockerpy.not_found():
            pass
    return {"containers": removed, "networks": nets}


def demo_status(client, project: str = DEMO_PROJECT) -> pd.DataFrame:
    """The demo project's containers: service, tier, state, health, exit code, ports, what it shows."""
    inv = gather_inventory(client, project=project, label=DEMO_LABEL)
    shows = {s.name: s.shows for s in services()}
    tiers = {s.name: s.tier for s in services()}
    cols = ["service", "tier", "state", "health", "exit_code", "oom_killed", "restart_count", "ports", "shows"]
    if inv.empty:
        return pd.DataFrame(columns=cols)
    out = inv.assign(tier=inv["service"].map(tiers), shows=inv["service"].map(shows),
                     exit_code=pd.to_numeric(inv["exit_code"], errors="coerce").astype("Int64"))
    return out[cols].reset_index(drop=True)
