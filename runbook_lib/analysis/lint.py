"""Compose lint: configuration mistakes that caused (or will cause) an outage, with the fix.

Pure over a ``Catalog`` (compose.load_catalog): the merged, interpolated ``raw`` specs
decide what is effective; the files' literal text (re-read with the catalog's YAML
loader) decides what is *written* in a file, so ``${DB_PASSWORD}`` is never mistaken
for a plaintext secret and each finding names the file that holds the line.

Rules are a registry (``RULES``: name -> function); each yields findings with file,
service, key, category (stable slug), severity, message and fix. Secret values never
appear: messages show them masked.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from runbook_lib import redact
from runbook_lib.analysis import signatures

LINT_COLUMNS = ["file", "service", "key", "category", "severity", "message", "fix"]
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class DataService:
    """A kind of stateful service: how to recognise its image, where its data lives, how to check it."""

    kind: str
    image_re: str
    data_dirs: tuple[str, ...]
    healthcheck: str


DATA_SERVICES: list[DataService] = [
    DataService("postgres", r"(^|/)(postgres|postgis|timescaledb)[^/]*(:|$)|/postgresql", ("/var/lib/postgresql/data",),
                '["CMD-SHELL", "pg_isready -U $${POSTGRES_USER:-postgres}"]'),
    DataService("redis", r"(^|/)(redis|valkey|keydb)(:|$)|redis-stack", ("/data",),
                '["CMD-SHELL", "redis-cli -a \\"$${REDIS_PASSWORD}\\" ping | grep PONG"]'),
    DataService("mysql", r"(^|/)(mysql|mariadb|percona)(:|$)", ("/var/lib/mysql",),
                '["CMD", "mysqladmin", "ping", "-h", "127.0.0.1"]'),
    DataService("mongodb", r"(^|/)mongo(db)?(:|$)", ("/data/db",),
                '["CMD", "mongosh", "--quiet", "--eval", "db.runCommand({ping: 1})"]'),
    DataService("kafka", r"cp-kafka(:|$)|confluent-local", ("/var/lib/kafka/data",),
                '["CMD", "kafka-broker-api-versions", "--bootstrap-server", "localhost:9092"]'),
    DataService("kafka", r"bitnami/kafka(:|$)", ("/bitnami/kafka",),
                '["CMD", "kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092"]'),
    DataService("kafka", r"(^|/)apache/kafka(:|$)", ("/var/lib/kafka/data", "/tmp/kraft-combined-logs"),
                '["CMD", "/opt/kafka/bin/kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092"]'),
    DataService("zookeeper", r"cp-zookeeper(:|$)", ("/var/lib/zookeeper/data",),
                '["CMD-SHELL", "echo ruok | nc localhost 2181 | grep imok"]'
                "  (needs ZOOKEEPER_4LW_COMMANDS_WHITELIST: ruok)"),
    DataService("zookeeper", r"(^|/)zookeeper(:|$)|bitnami/zookeeper", ("/data", "/bitnami/zookeeper"),
                '["CMD-SHELL", "echo ruok | nc localhost 2181 | grep imok"]'),
    DataService("elasticsearch", r"elasticsearch|opensearch(:|$)", ("/usr/share/elasticsearch/data",),
                '["CMD-SHELL", "curl -fs http://localhost:9200/_cluster/health || exit 1"]'),
    DataService("clickhouse", r"clickhouse-server|(^|/)clickhouse(:|$)", ("/var/lib/clickhouse",),
                '["CMD", "wget", "-qO-", "http://127.0.0.1:8123/ping"]'),
    DataService("minio", r"(^|/)minio(:|$)", ("/data",),
                '["CMD", "mc", "ready", "local"]'),
    DataService("rabbitmq", r"(^|/)rabbitmq(:|$)", ("/var/lib/rabbitmq",),
                '["CMD", "rabbitmq-diagnostics", "-q", "ping"]'),
    DataService("eventstore", r"eventstore", ("/var/lib/eventstore",),
                '["CMD-SHELL", "curl -fs http://localhost:2113/health/live || exit 1"]'),
    DataService("cassandra", r"(^|/)cassandra(:|$)", ("/var/lib/cassandra",),
                '["CMD-SHELL", "cqlsh -e \'describe keyspaces\'"]'),
    DataService("influxdb", r"(^|/)influxdb(:|$)", ("/var/lib/influxdb2", "/var/lib/influxdb"),
                '["CMD", "influx", "ping"]'),
    DataService("prometheus", r"prom/prometheus", ("/prometheus",),
                '["CMD", "wget", "-q", "--spider", "http://127.0.0.1:9090/-/ready"]'),
]

# Health checks for common stateless images (image regex -> suggested test).
HEALTHCHECK_HINTS: list[tuple[str, str]] = [
    (r"(^|/)traefik(:|$)", '["CMD", "traefik", "healthcheck", "--ping"] (start traefik with --ping=true)'),
    (r"opentelemetry-collector|otel/", "the collector image has no shell: enable its health_check extension "
                                       "(:13133) and let dependants wait for it with a probe, or use a sidecar"),
    (r"temporalio/(auto-setup|server)", '["CMD-SHELL", "tctl --address $$(hostname -i):7233 cluster health | '
                                        'grep -q SERVING"]'),
    (r"grafana/grafana", '["CMD", "wget", "-q", "--spider", "http://127.0.0.1:3000/api/health"]'),
    (r"mailhog", '["CMD", "wget", "-q", "--spider", "http://127.0.0.1:8025"]'),
    (r"(^|/)nginx(:|$)", '["CMD", "wget", "-q", "--spider", "http://127.0.0.1/"]'),
]

_LOCAL_RE = re.compile(
    r"(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://)?(?:[^@/\s,;]*@)?"
    r"(?P<host>localhost|127\.0\.0\.1|\[::1\]|[A-Za-z0-9\-]+\.localhost)(?![\w.\-])(?::(?P<port>\d{1,5}))?")
_BROWSER_KEY_RE = re.compile(r"CORS|ORIGIN|PUBLIC|ROOT_URL|REDIRECT|CALLBACK|FRONTEND|BROWSER|EXTERNAL|ADVERTISED",
                             re.IGNORECASE)
_NOT_SECRET_SUFFIX = re.compile(
    r"(_URL|_URI|_HOST|_HOSTNAME|_PORT|_ENDPOINT|_FILE|_PATH|_DIR|_ENABLED|_EXPIRES_IN|_EXPIRY|_TTL|_ALGORITHM|"
    r"_METHOD|_TYPE|_MODE|_PROVIDER|_STRATEGY|_USER|_USERNAME|_REQUIRED|_LENGTH|_ID|_NAME|_ISSUER|_AUDIENCE)$",
    re.IGNORECASE)
_SECRET_FLAG_RE = re.compile(r"(?:^|\s)--?[\w.\-]*(?:pass|pwd|secret|token|key|auth)[\w.\-]*(?:=|\s+)([^\s\"']+)",
                             re.IGNORECASE)
_HEALTH_PORT_ENV = ("APP_PORT", "PORT", "SERVER_PORT", "HTTP_PORT")
_ONE_SHOT_RE = re.compile(r"seed|migrat|init|setup|bootstrap|job|once|backup", re.IGNORECASE)
_SCHEME_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443, "postgres": 5432, "postgresql": 5432,
                 "redis": 6379, "amqp": 5672, "mongodb": 27017, "mysql": 3306, "nats": 4222}


def _finding(file: Any, service: str, key: str, category: str, severity: str, message: str, fix: str,
             mask_fix: bool = True) -> dict:
    """One lint row; text is masked (``mask_fix=False`` only for fixes built from key names, never values)."""
    return {"file": str(file or ""), "service": service, "key": key, "category": category,
            "severity": severity, "message": redact.mask_text(message),
            "fix": redact.mask_text(fix) if mask_fix else fix}


# -- what the files literally say ---------------------------------------------

class _LiteralLoader(yaml.SafeLoader):
    """Safe loader that accepts compose's custom tags (``!reset``, ``!override``) as plain values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_LiteralLoader.add_multi_constructor("!", _tagged)


def _literal_services(files: Iterable[str]) -> dict[str, dict[str, dict]]:
    """file -> service -> the service mapping as written (no interpolation, no merge)."""
    out: dict[str, dict[str, dict]] = {}
    for f in files:
        try:
            data = yaml.load(Path(f).read_text(encoding="utf-8"), Loader=_LiteralLoader)  # noqa: S506 - safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # the catalog already read (or refused) it; lint only loses the literal view
        services = (data or {}).get("services") if isinstance(data, dict) else None
        if isinstance(services, dict):
            out[str(f)] = {str(k): v for k, v in services.items() if isinstance(v, dict)}
    return out


def _env_items(env: Any) -> list[tuple[str, Any]]:
    if isinstance(env, Mapping):
        return [(str(k), v) for k, v in env.items()]
    if isinstance(env, list):
        items = []
        for item in env:
            k, sep, v = str(item).partition("=")
            items.append((k.strip(), v if sep else None))
        return items
    return []


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


# -- helpers over the effective specs ---------------------------------------------

@dataclass
class LintContext:
    """Everything a rule reads: effective specs, tiers, literal file text, port owners."""

    raw: dict[str, dict]
    tiers: dict[str, str]
    literal: dict[str, dict[str, dict]]
    files: tuple[str, ...]

    def container_ports(self, service: str) -> set[int]:
        """Published container ports (what the host can reach)."""
        return {int(p["container_port"]) for p in self.raw[service].get("ports") or []
                if p.get("container_port") is not None}

    def listening_ports(self, service: str) -> set[int]:
        """Ports the service listens on inside the network: published, exposed, well-known for its image."""
        spec = self.raw[service]
        ports = self.container_ports(service) | set(signatures.image_ports(spec.get("image")))
        for e in spec.get("expose") or []:
            head = str(e).split("/")[0]
            if head.isdigit():
                ports.add(int(head))
        return ports

    def own_ports(self, service: str) -> set[int]:
        spec = self.raw[service]
        ports = self.container_ports(service) | {int(p["host_port"]) for p in spec.get("ports") or []
                                                 if p.get("host_port") is not None}
        for k in _HEALTH_PORT_ENV:
            v = (spec.get("environment") or {}).get(k)
            if v and str(v).isdigit():
                ports.add(int(v))
        return ports

    def port_owners(self, port: int, exclude: str, host_first: bool = False) -> list[str]:
        """Services listening on ``port``: container ports (as a container calls them), else host ports.

        ``host_first`` for URLs a browser opens on the host, where the published port counts.
        """
        by_container = [s for s in self.raw if s != exclude and port in self.listening_ports(s)]
        by_host = [s for s in self.raw if s != exclude
                   and any(p.get("host_port") == port for p in self.raw[s].get("ports") or [])]
        first, second = (by_host, by_container) if host_first else (by_container, by_host)
        return first or second

    def dependents(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {s: [] for s in self.raw}
        for s, spec in self.raw.items():
            for d in spec.get("depends_on") or []:
                if d["service"] in out:
                    out[d["service"]].append(s)
        return out

    def where(self, service: str, key: str | None = None) -> str:
        """The file that writes ``key`` for ``service`` (last one wins), else the service's file."""
        found = None
        for f in self.files:
            spec = self.literal.get(f, {}).get(service)
            if spec is not None and (key is None or key in spec):
                found = f
        return found or self.raw[service].get("file") or ""


def data_service(image: str | None) -> DataService | None:
    """The DataService an image is, if any."""
    if not image:
        return None
    img = image.lower()
    for ds in DATA_SERVICES:
        if re.search(ds.image_re, img):
            return ds
    return None


def _suggest_healthcheck(ctx: LintContext, service: str) -> str:
    spec = ctx.raw[service]
    ds = data_service(spec.get("image"))
    if ds is not None:
        return f"healthcheck: test: {ds.healthcheck}"
    image = str(spec.get("image") or "").lower()
    for rx, hint in HEALTHCHECK_HINTS:
        if re.search(rx, image):
            return f"healthcheck: test: {hint}"
    env = spec.get("environment") or {}
    port = next((str(env[k]) for k in _HEALTH_PORT_ENV if str(env.get(k) or "").isdigit()), None)
    if port is None and ctx.container_ports(service):
        port = str(min(ctx.container_ports(service)))
    port = port or "PORT"
    return (f'healthcheck: test: ["CMD-SHELL", "wget -q --spider http://127.0.0.1:{port}/health || exit 1"] '
            f"(or the app's own health route), with start_period covering its start-up")


# -- rules -------------------------------------------------------------------------

def rule_localhost(ctx: LintContext) -> Iterator[dict]:
    """Env values / commands that call localhost on another service's port."""
    for svc, spec in ctx.raw.items():
        env = spec.get("environment") or {}
        texts = [(f"environment.{k}", k, str(v)) for k, v in env.items() if v]
        if spec.get("command"):
            texts.append(("command", "command", _as_text(spec["command"])))
        own = ctx.own_ports(svc)
        for key, name, value in texts:
            for m in _LOCAL_RE.finditer(value):
                host, port_txt, scheme = m.group("host"), m.group("port"), (m.group("scheme") or "").lower()
                port = int(port_txt) if port_txt else _SCHEME_PORTS.get(scheme)
                if port is None and name.upper().endswith(("_HOST", "_HOSTNAME", "_SERVER")):
                    sibling = re.sub(r"_(HOST|HOSTNAME|SERVER)$", "_PORT", name, flags=re.IGNORECASE)
                    port = int(env[sibling]) if str(env.get(sibling) or "").isdigit() else None
                if port is None or port in own:
                    continue
                browser_key = bool(_BROWSER_KEY_RE.search(name)) and not name.upper().startswith("NEXT_PUBLIC_")
                owners = ctx.port_owners(port, svc, host_first=browser_key)
                if not owners:
                    continue
                target = " or ".join(f"{o}:{port}" for o in owners)
                if name.upper().startswith("NEXT_PUBLIC_"):
                    yield _finding(ctx.where(svc, "environment"), svc, key, "localhost-reference", "medium",
                                   f"{name} points at {host}:{port}, which is {target}: the browser reaches it, "
                                   f"but Next.js also uses NEXT_PUBLIC_* during server-side rendering inside the "
                                   f"{svc} container, where {host} is not {owners[0]}",
                                   f"give server-side code its own URL (e.g. an API_URL_INTERNAL=http://{target}) "
                                   f"and keep {name} for the browser")
                elif _BROWSER_KEY_RE.search(name):
                    yield _finding(ctx.where(svc, "environment"), svc, key, "localhost-reference", "low",
                                   f"{name} points at {host}:{port}, which is {target}; fine only if a browser "
                                   f"(not the container) uses it",
                                   f"if {svc} calls it server-side, use {target} (the service name) instead of {host}")
                else:
                    yield _finding(ctx.where(svc, "environment" if key != "command" else "command"), svc, key,
                                   "localhost-reference", "high",
                                   f"{name} calls {host}:{port}, which is {target}: inside the {svc} container "
                                   f"{host} is {svc} itself, so the call is refused",
                                   f"set {name} to use {target} (the compose service name), then "
                                   f"`docker compose up -d {svc}`")


def rule_dependency_without_healthcheck(ctx: LintContext) -> Iterator[dict]:
    """Services others depend on that have no healthcheck: dependants cannot wait for readiness."""
    for svc, users in ctx.dependents().items():
        spec = ctx.raw[svc]
        if not users or spec.get("has_healthcheck"):
            continue
        names = ", ".join(sorted(users))
        yield _finding(ctx.where(svc), svc, "healthcheck", "dependency-without-healthcheck",
                       "medium" if len(users) < 3 else "high",
                       f"{svc} has no healthcheck, but {names} depend{'s' if len(users) == 1 else ''} on it: "
                       f"{'it' if len(users) == 1 else 'they'} can only wait for it to start, not to be ready "
                       f"(unless its image has a HEALTHCHECK)",
                       f"add {_suggest_healthcheck(ctx, svc)}; then make dependants wait with "
                       f"`condition: service_healthy`")


def rule_depends_on_not_healthy(ctx: LintContext) -> Iterator[dict]:
    """depends_on without condition: service_healthy on a dependency that has a healthcheck."""
    for svc, spec in ctx.raw.items():
        for dep in spec.get("depends_on") or []:
            d = dep["service"]
            cond = dep.get("condition") or "service_started"
            if d in ctx.raw and ctx.raw[d].get("has_healthcheck") and cond == "service_started":
                yield _finding(ctx.where(svc, "depends_on"), svc, f"depends_on.{d}", "depends-on-not-healthy",
                               "medium",
                               f"{svc} starts as soon as {d} has started, before {d}'s healthcheck passes, so it "
                               f"fails (and restarts) while {d} is still starting",
                               f"depends_on: {{{d}: {{condition: service_healthy}}}} (mapping form: "
                               f"`{d}:` / `condition: service_healthy`)")


def _health_ports(ctx: LintContext, svc: str) -> list[tuple[int, str]]:
    spec = ctx.raw[svc]
    out: list[tuple[int, str]] = []
    hc = spec.get("healthcheck") or {}
    for m in _LOCAL_RE.finditer(_as_text((hc.get("test") or [])[1:])):
        if m.group("port") and (m.group("scheme") or "").lower() in ("http", "https"):
            out.append((int(m.group("port")), "healthcheck.test"))
    for k, v in (spec.get("labels") or {}).items():
        if re.fullmatch(r"traefik\.http\.services\.[^.]+\.loadbalancer\.server\.port", str(k)) and str(v).isdigit():
            out.append((int(v), f"labels.{k}"))
    if spec.get("build") or ctx.tiers.get(svc) == "application":
        env = spec.get("environment") or {}
        for k in _HEALTH_PORT_ENV:
            if str(env.get(k) or "").isdigit():
                out.append((int(env[k]), f"environment.{k}"))
                break
    return out


def rule_health_port_unpublished(ctx: LintContext) -> Iterator[dict]:
    """An HTTP health endpoint whose port is not published: only `docker exec` can reach it."""
    for svc in ctx.raw:
        published = ctx.container_ports(svc)
        for port, source in _health_ports(ctx, svc):
            if port in published:
                continue
            yield _finding(ctx.where(svc), svc, "ports", "health-port-unpublished", "low",
                           f"{svc}'s health endpoint listens on port {port} ({source}) but the port is not "
                           f"published: probes from the host (and the runbook) cannot reach it",
                           f'publish it on loopback only: ports: ["127.0.0.1:{port}:{port}"]')
            break


def _is_plain_secret(key: str, value: Any) -> bool:
    if value is None or isinstance(value, bool) or not redact.is_secret_key(key):
        return False
    if _NOT_SECRET_SUFFIX.search(key):
        return False
    v = str(value).strip()
    if len(v) < 3 or "$" in v or v.lower() in {"true", "false", "yes", "no", "none", "null", "changeme!"}:
        return False
    if re.fullmatch(r"[0-9.]+[smhd]?", v) or v.startswith(("/", "./")):
        return False
    if "://" in v and "@" not in v:
        return False
    return True


def _literal_secret(finder: redact.Redactor, text: str) -> str | None:
    """The masked text when ``text`` holds a literal secret (not a ``${VAR}`` reference), else None."""
    masked = finder.mask_text(text)
    if masked == text:
        return None
    before, after = text.split(), masked.split()
    if len(before) == len(after):
        changed = [b for b, a in zip(before, after) if b != a]
        if changed and all("$" in b for b in changed):
            return None
    return masked


def rule_plaintext_secret(ctx: LintContext) -> Iterator[dict]:
    """Secrets written as literals in a compose file (environment, command, healthcheck)."""
    known: set[str] = set()
    for f, services in ctx.literal.items():
        for svc, spec in services.items():
            for k, v in _env_items(spec.get("environment")):
                if _is_plain_secret(k, v):
                    known.add(str(v).strip())
            hc = spec.get("healthcheck") if isinstance(spec.get("healthcheck"), dict) else {}
            for value in (spec.get("command"), spec.get("entrypoint"), (hc or {}).get("test")):
                known.update(v for v in _SECRET_FLAG_RE.findall(_as_text(value)) if "$" not in v)
    # values shorter than 8 characters ("admin") are too common to flag wherever they reappear
    finder = redact.Redactor(known=[v for v in known if len(v) >= 8])
    for f, services in ctx.literal.items():
        for svc, spec in services.items():
            for k, v in _env_items(spec.get("environment")):
                if v is None or isinstance(v, bool):
                    continue
                text = str(v)
                if _is_plain_secret(k, v):
                    yield _finding(f, svc, f"environment.{k}", "plaintext-secret", "high",
                                   f"{k} is written in plain text in the compose file ({redact.MASK})",
                                   f"move the value to an uncommitted .env or env_file (or a Docker secret) and "
                                   f"write `{k}: ${{{k}}}`; rotate it, since it is in version control",
                                   mask_fix=False)
                elif _literal_secret(finder, text) is not None:
                    masked = _literal_secret(finder, text)
                    yield _finding(f, svc, f"environment.{k}", "plaintext-secret", "high",
                                   f"{k} has a literal secret in its value (masked here) -> {masked}",
                                   f"build the value from a variable (e.g. `...:${{REDIS_PASSWORD}}`) kept in an "
                                   f"uncommitted .env; rotate the secret", mask_fix=False)
            hc = spec.get("healthcheck") if isinstance(spec.get("healthcheck"), dict) else {}
            for key, value in (("command", spec.get("command")), ("entrypoint", spec.get("entrypoint")),
                               ("healthcheck.test", (hc or {}).get("test"))):
                text = _as_text(value)
                masked = _literal_secret(finder, text) if text else None
                if masked is not None:
                    yield _finding(f, svc, key, "plaintext-secret", "high",
                                   f"`{key}` has a literal secret in it (masked here) -> {masked[:200]}",
                                   "pass the secret through the environment (`--requirepass \"$${REDIS_PASSWORD}\"` "
                                   "with CMD-SHELL, `$$VAR` in compose) from an uncommitted .env; rotate it",
                                   mask_fix=False)


def rule_data_volume(ctx: LintContext) -> Iterator[dict]:
    """Data services whose data dir is an anonymous volume or no volume: lost by prune / down."""
    for svc, spec in ctx.raw.items():
        ds = data_service(spec.get("image"))
        if ds is None:
            continue
        dirs = list(ds.data_dirs)
        if ds.kind == "minio":
            m = re.search(r"\bserver\s+(?:--\S+\s+)*(/\S+)", _as_text(spec.get("command")))
            if m:
                dirs = [m.group(1)]
        if ds.kind == "postgres" and (spec.get("environment") or {}).get("PGDATA"):
            dirs = [str(spec["environment"]["PGDATA"])]
        vols = [v for v in spec.get("volumes") or [] if v.get("target")]

        def covering(d: str) -> dict | None:
            best = None
            for v in vols:
                t = str(v["target"]).rstrip("/") or "/"
                if d == t or d.startswith(t + "/") or t.startswith(d + "/"):
                    if best is None or len(t) > len(str(best["target"])):
                        best = v
            return best

        hits = [(d, covering(d)) for d in dirs]
        if any(v is not None and v.get("type") in ("named", "bind", "volume") for _, v in hits):
            continue
        d, v = next(((d, v) for d, v in hits if v is not None), (dirs[0], None))
        vol_name = f"{svc.replace('-', '_')}_data"
        fix = (f"mount a named volume: volumes: [\"{vol_name}:{d}\"] and declare `{vol_name}:` under the "
               f"top-level volumes; never run `down -v` or `system prune --volumes`")
        if v is not None and v.get("type") == "anonymous":
            yield _finding(ctx.where(svc, "volumes"), svc, "volumes", "data-volume", "high",
                           f"{svc} ({ds.kind}) keeps its data in {d} on an anonymous volume: "
                           f"`docker system prune --volumes` or `down -v` deletes it (how the seed outage lost "
                           f"every database)", fix)
        elif v is not None and v.get("type") == "tmpfs":
            yield _finding(ctx.where(svc, "volumes"), svc, "volumes", "data-volume", "medium",
                           f"{svc} ({ds.kind}) keeps its data in {d} on tmpfs: lost at every restart", fix)
        elif v is None:
            yield _finding(ctx.where(svc), svc, "volumes", "data-volume", "high",
                           f"{svc} ({ds.kind}) has no volume for its data dir {d}: the data lives in an "
                           f"anonymous volume (or the container layer) and is lost by `docker compose down` "
                           f"+ prune or a re-create", fix)


def rule_restart_policy(ctx: LintContext) -> Iterator[dict]:
    """No restart policy: after an engine crash or reboot the service stays down."""
    users = ctx.dependents()
    for svc, spec in ctx.raw.items():
        restart = (spec.get("restart") or "no").strip().lower()
        if restart not in ("no", "none", "", "false"):
            continue
        if _ONE_SHOT_RE.search(svc) or any(_ONE_SHOT_RE.search(p) for p in spec.get("profiles") or []):
            continue
        infra = ctx.tiers.get(svc) == "infrastructure" or data_service(spec.get("image")) is not None
        yield _finding(ctx.where(svc), svc, "restart", "no-restart-policy", "medium" if infra else "low",
                       f"{svc} has no restart policy: after an engine crash or a reboot it stays down"
                       + (f", and so do {', '.join(sorted(users[svc]))} that depend on it" if users[svc] else ""),
                       "restart: unless-stopped")


def _image_tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def rule_latest_image(ctx: LintContext) -> Iterator[dict]:
    """`:latest` (or untagged) images: a pull or rebuild silently changes the version."""
    for svc, spec in ctx.raw.items():
        image = spec.get("image")
        if not image:
            continue
        tag = _image_tag(str(image))
        if tag not in (None, "latest"):
            continue
        f = ctx.where(svc, "image")
        written = (ctx.literal.get(f, {}).get(svc) or {}).get("image") or image
        built = bool(spec.get("build"))
        yield _finding(f, svc, "image", "latest-image", "low" if built else "medium",
                       f"{svc} uses image `{written}`, which resolves to "
                       f"{'the implicit ' if tag is None else ''}`latest`: "
                       + ("every build overwrites it, so there is nothing to roll back to" if built else
                          "a pull can change the version under you, and a rollback cannot name the old one"),
                       ("tag builds with a version (`${VERSION:?set VERSION}` or a git sha) and keep the previous "
                        "tag" if built else f"pin a version tag (or digest) instead of `{written}`"))


RULES: dict[str, Callable[[LintContext], Iterable[dict]]] = {
    "localhost-reference": rule_localhost,
    "dependency-without-healthcheck": rule_dependency_without_healthcheck,
    "depends-on-not-healthy": rule_depends_on_not_healthy,
    "health-port-unpublished": rule_health_port_unpublished,
    "plaintext-secret": rule_plaintext_secret,
    "data-volume": rule_data_volume,
    "no-restart-policy": rule_restart_policy,
    "latest-image": rule_latest_image,
}


def lint_catalog(catalog: Any, rules: Iterable[str] | None = None) -> pd.DataFrame:
    """Lint a Catalog: one row per finding (LINT_COLUMNS), worst first. Pure apart from re-reading its files."""
    raw = dict(getattr(catalog, "raw", {}) or {})
    frame = getattr(catalog, "frame", None)
    tiers: dict[str, str] = {}
    if isinstance(frame, pd.DataFrame) and "tier" in frame.columns:
        tiers = {str(s): str(t) for s, t in zip(frame["service"], frame["tier"])}
    files = tuple(str(f) for f in (getattr(catalog, "files", ()) or ()))
    ctx = LintContext(raw=raw, tiers=tiers, literal=_literal_services(files), files=files)
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        from runbook_lib.exceptions import ConfigError
        raise ConfigError(f"unknown lint rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}.")
    rows = [row for name in chosen for row in RULES[name](ctx)]
    df = pd.DataFrame(rows, columns=LINT_COLUMNS)
    if len(df):
        df = df.drop_duplicates(subset=["file", "service", "key", "category"])
        df = df.assign(_r=df["severity"].map(SEVERITY_RANK).fillna(9))
        df = df.sort_values(["_r", "category", "file", "service", "key"], kind="stable")
        df = df.drop(columns=["_r"]).reset_index(drop=True)
    return df


def lint_files(files: list[str | Path] | str | Path, **load_kw: Any) -> pd.DataFrame:
    """Load compose files (compose.load_catalog) and lint them."""
    from runbook_lib.compose.catalog import load_catalog

    return lint_catalog(load_catalog(files, **load_kw))


def lint_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Counts per category and severity (for the report's KPI line)."""
    if findings is None or findings.empty:
        return pd.DataFrame(columns=["category", "severity", "findings", "services"])
    g = findings.groupby(["category", "severity"], sort=False)
    out = g.agg(findings=("service", "size"), services=("service", "nunique")).reset_index()
    out = out.assign(_r=out["severity"].map(SEVERITY_RANK).fillna(9)).sort_values(["_r", "category"])
    return out.drop(columns=["_r"]).reset_index(drop=True)
