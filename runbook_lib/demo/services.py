"""The demo's services: read from the package's compose file and app scripts, never probed at import.

``files/docker-compose.yml`` is a real compose file (default port base, ``${DEMO_*}``
placeholders); ``files/apps/`` holds the shell each service runs (``prelude.sh`` first).
What serves postgres and redis depends on the host (its binaries are copied into the
images), so ``services()`` looks at the host the first time a demo command asks, and
the compose file and ``demo status`` then say what ``demo up`` builds.
"""
from __future__ import annotations

import functools
import glob
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.exceptions import RunbookError

DEMO_PROJECT = "demo"
DEMO_LABEL_KEY = "runbook.demo"
DEMO_LABEL = f"{DEMO_LABEL_KEY}=1"
DEMO_IMAGE = "runbook-demo-busybox:1"
DEFAULT_PORT_BASE = 18000
PG_DATA = "/var/lib/postgresql/data"

DEMO_PG_PASSWORD = "demo-pg-s3cret-7f3a"
DEMO_REDIS_PASSWORD = "demo-redis-s3cret-91bc"
DEMO_JWT_SECRET = "demo-jwt-s3cret-2d4e"

HEALTHCHECK_TIMING = {"interval": "2s", "timeout": "2s", "retries": 2, "start_period": "1s"}
_FILES = resources.files("runbook_lib.demo") / "files"
_PLACEHOLDERS = {"DEMO_PG_PASSWORD": DEMO_PG_PASSWORD, "DEMO_REDIS_PASSWORD": DEMO_REDIS_PASSWORD,
                 "DEMO_JWT_SECRET": DEMO_JWT_SECRET}
_X = "x-runbook-demo"


class DemoError(RunbookError):
    """The demo stack could not be started or removed."""


@dataclass(frozen=True)
class DemoService:
    """One demo service: what it runs and what it shows."""

    name: str
    tier: str  # infrastructure | application
    script: str
    container_port: int
    port_offset: int
    shows: str
    environment: dict[str, str] = field(default_factory=dict)
    healthcheck: list[str] | None = None
    restart: str = "unless-stopped"
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    mem_limit: str | None = None
    expect: str = "healthy"  # healthy | running | unhealthy | exited | restarting | oom
    start_period_s: int = 1  # healthcheck grace (the real postgres runs initdb on first start)

    def image(self, base: str = DEMO_IMAGE) -> str:
        """Infrastructure services get an alias tag named like the real image (tier detection)."""
        if self.tier == "infrastructure":
            return f"runbook-demo/{self.name}:{base.rsplit(':', 1)[-1]}"
        return base


def host_postgres() -> dict[str, str] | None:
    """The newest host PostgreSQL with postgres + initdb (Debian layout), or None."""
    found = []
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(bindir).parent.name
        share = f"/usr/share/postgresql/{version}"
        if all(os.access(f"{bindir}/{b}", os.X_OK) for b in ("postgres", "initdb")) and os.path.isdir(share):
            found.append((int(version) if version.isdigit() else 0, version, bindir, share))
    if not found:
        return None
    _, version, bindir, share = max(found)
    return {"version": version, "bindir": bindir, "share": share, "lib": str(Path(bindir).parent / "lib")}


def host_redis() -> str | None:
    """The host's redis-server binary (resolved), or None."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    return os.path.realpath(path) if path and os.access(path, os.X_OK) else None


def app_file(name: str) -> str:
    """The text of one file under the package's ``files/apps/``."""
    return (_FILES / "apps" / name).read_text(encoding="utf-8")


def compose_template() -> dict[str, Any]:
    """The package's demo compose file, placeholders filled in, ``$$`` still escaped."""
    text = (_FILES / "docker-compose.yml").read_text(encoding="utf-8")
    for key, value in _PLACEHOLDERS.items():
        text = text.replace("${%s}" % key, value)
    return yaml.safe_load(text)


def _unescape(value: str) -> str:
    return value.replace("$$", "$")


def _script(x: dict[str, Any]) -> str:
    body = app_file(x["script"])
    subs = {"@PGDATA@": PG_DATA}
    app = x.get("app")
    if app:  # nest-app.sh serves one app; other scripts use @...@ markers of their own (sed)
        subs.update({"@PORT@": str(app["port"]), "@NAME@": str(app["name"]), "@CTX@": str(app["controller"])})
    for marker, name in (("@RESP_SH@", "redis-resp.sh"), ("@KAFKA_AWK@", "kafka.awk"), ("@KAFKA_SH@", "kafka-serve.sh")):
        if marker in body:
            subs[marker] = app_file(name)
    for marker, value in subs.items():
        body = body.replace(marker, value)
    return app_file("prelude.sh") + body


def _seconds(text: str | int) -> int:
    return int(str(text).rstrip("s"))


def _service(name: str, spec: dict[str, Any], real_servers: dict[str, str | None]) -> DemoService:
    x = dict(spec[_X])
    healthcheck = (spec.get("healthcheck") or {})
    if name in real_servers:
        version = real_servers[name]
        if version is None:  # no host binary: the stand-in's healthcheck and words
            stand_in = x["stand-in"]
            x["shows"] = stand_in["shows"]
            if "healthcheck" in stand_in:
                healthcheck = {**healthcheck, "test": stand_in["healthcheck"],
                               "start_period": stand_in.get("start_period", healthcheck.get("start_period"))}
        else:
            x["shows"] = x["shows"].replace("@VERSION@", version)
    published, container = spec["ports"][0].rsplit(":", 2)[1:]
    test = healthcheck.get("test")
    return DemoService(
        name=name, tier=spec["labels"]["runbook.tier"], script=_script(x), container_port=int(container),
        port_offset=int(published) - DEFAULT_PORT_BASE, shows=x["shows"],
        environment={k: _unescape(str(v)) for k, v in (spec.get("environment") or {}).items()},
        healthcheck=[_unescape(t) for t in test] if test else None, restart=str(spec.get("restart", "unless-stopped")),
        depends_on={d: c["condition"] for d, c in (spec.get("depends_on") or {}).items()},
        mem_limit=spec.get("mem_limit"), expect=x["expect"],
        start_period_s=_seconds(healthcheck.get("start_period", HEALTHCHECK_TIMING["start_period"])))


@functools.cache
def services() -> tuple[DemoService, ...]:
    """The demo services, as the package's compose file and this host's binaries make them."""
    has_ldd = shutil.which("ldd") is not None
    pg = host_postgres() if has_ldd else None
    real = {"postgres": pg["version"] if pg else None,
            "redis": "redis" if has_ldd and host_redis() else None}
    doc = compose_template()
    return tuple(_service(name, spec, real) for name, spec in doc["services"].items())


def service(name: str) -> DemoService:
    """The demo service called ``name`` (KeyError names what exists)."""
    for s in services():
        if s.name == name:
            return s
    raise KeyError(f"no demo service {name!r}; known: {', '.join(s.name for s in services())}")


def host_port(svc: DemoService, port_base: int = DEFAULT_PORT_BASE) -> int:
    return port_base + svc.port_offset


# -- the compose file `demo up` writes ------------------------------------------------
def data_dir() -> Path:
    """The user data folder for runbook (XDG_DATA_HOME/runbook)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook"


def _compose_escape(text: str) -> str:
    return text.replace("$", "$$")


def compose_dict(port_base: int = DEFAULT_PORT_BASE, image: str = DEMO_IMAGE) -> dict[str, Any]:
    """The compose document describing the demo services (same specs demo_up creates)."""
    out: dict[str, Any] = {}
    for s in services():
        spec: dict[str, Any] = {
            "image": s.image(image),
            "command": ["/bin/sh", "-c", _compose_escape(s.script)],
            "environment": {k: _compose_escape(v) for k, v in s.environment.items()},
            "ports": [f"127.0.0.1:{host_port(s, port_base)}:{s.container_port}"],
            "restart": s.restart,
            "labels": {DEMO_LABEL_KEY: "1", "runbook.tier": s.tier},
        }
        if s.healthcheck:
            spec["healthcheck"] = {"test": [_compose_escape(t) for t in s.healthcheck], **HEALTHCHECK_TIMING,
                                   "start_period": f"{s.start_period_s}s"}
        if s.depends_on:
            spec["depends_on"] = {d: {"condition": c} for d, c in s.depends_on.items()}
        if s.mem_limit:
            spec["mem_limit"] = s.mem_limit
            spec["memswap_limit"] = s.mem_limit
        out[s.name] = spec
    return {"services": out}


def write_compose(path: Path, port_base: int = DEFAULT_PORT_BASE, image: str = DEMO_IMAGE) -> Path:
    """Write the demo compose file (YAML) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# The runbook demo stack, written by `runbook demo up`. Fake credentials on purpose.\n"
            + yaml.safe_dump(compose_dict(port_base, image), sort_keys=False, width=1000))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def compose_path(project: str = DEMO_PROJECT) -> Path:
    return data_dir() / "demo" / project / "docker-compose.yml"
