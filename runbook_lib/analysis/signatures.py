"""Log signatures: a data-driven table of failure patterns -> category, cause, fix, severity.

Adding a signature is one entry in ``SIGNATURES`` (plus one test). Each entry names
cheap lower-case ``needles`` (substrings) and the ``patterns`` (regexes with named
groups) that confirm them. Matching joins a container's lines once, finds needle hits
with ``str.find`` (C speed), and runs a pattern only on a bounded window around each
hit, so 40 containers x 10 000 lines take a fraction of a second and a 1 MB line
costs no more than a short one. A line is attributed to the first signature (table
order) that matches it.

The signatures that are not in the logs (OOM kill / exit 137, crash loop, slow
start-up, engine unreachable, failing health check) come from the evidence fields in
``classify``. A failing container that matches nothing is still reported, as
``unclassified``, with its last lines. Every evidence line and every captured value
is masked with ``redact.mask_text``.
"""
from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook_lib import redact

try:  # one pass for every needle; without it each needle is one str.find (about 5x slower)
    import ahocorasick_rs as _ac
except ImportError:  # pragma: no cover - the fallback is exercised by tests via monkeypatch
    _ac = None

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
FINDING_COLUMNS = [
    "service", "container", "category", "title", "severity", "kind", "cause", "fix",
    "evidence", "match_count", "first_line", "source", "details",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "ip6-localhost"}

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_WINDOW_BEFORE = 400   # chars of a line searched before a needle hit
_WINDOW_AFTER = 800    # chars searched after it
MAX_LINE_CHARS = 400   # evidence lines longer than this are cut and marked


@dataclass(frozen=True)
class Signature:
    """One failure pattern. ``cause``/``fix`` are templates over the named groups.

    needles: lower-case substrings, any of which must occur in the line (cheap pre-filter).
    patterns: regexes (named groups become template fields; ``_name`` groups stay internal).
    sources: which text the signature reads: "log" lines and/or "health" outputs.
    key_fields: captured fields that split findings (e.g. one finding per missing module).
    enrich: name of a function in ``ENRICHERS`` adding computed fields (catalog-aware hints).
    kind: "cause" (a root cause) or "symptom" (points at a cause elsewhere).
    context_after: following lines kept as evidence (e.g. Node's require stack).
    """

    category: str
    title: str
    severity: str
    needles: tuple[str, ...]
    patterns: tuple[str, ...]
    cause: str
    fix: str
    sources: tuple[str, ...] = ("log",)
    key_fields: tuple[str, ...] = ()
    enrich: str | None = None
    kind: str = "cause"
    context_after: int = 0
    ignore_case: bool = True

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"signature {self.category}: severity must be one of {SEVERITIES}")
        if not self.needles or any(n != n.lower() for n in self.needles):
            raise ValueError(f"signature {self.category}: needles must be non-empty and lower-case")
        flags = re.MULTILINE | (re.IGNORECASE if self.ignore_case else 0)
        object.__setattr__(self, "_compiled", tuple(re.compile(p, flags) for p in self.patterns))

    @property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return self._compiled  # type: ignore[attr-defined]


_HOSTPORT = r"(?P<host>localhost|127\.0\.0\.1|\[?::1\]?|0\.0\.0\.0)(?:[:/ ]|\"?,? port )\"?(?P<port>\d{2,5})"

SIGNATURES: list[Signature] = [
    Signature(
        category="missing-module", title="Missing module", severity="critical",
        needles=("cannot find ", "no module named"),
        patterns=(
            r"Cannot find (?:module|package) (?P<_q>['\"])(?P<module>.{1,200}?)(?P=_q)(?!\s+or its corresponding type)",
            r"No module named ['\"]?(?P<module>[\w.\-]+)",
        ),
        cause="the module `{module}` is not installed in the image, so the process exits at start-up",
        fix="{module_fix}",
        key_fields=("module",), enrich="module", context_after=2,
    ),
    Signature(
        category="typescript-compile-error", title="TypeScript compile error", severity="critical",
        needles=("error ts",),
        patterns=(
            r"(?P<file>[^\s:()'\"\x1b]+\.(?:ts|tsx|mts|cts))\((?P<line>\d+),(?P<col>\d+)\):\s*error\s+(?P<code>TS\d{3,5}):\s*(?P<message>.{0,240})",
            r"(?P<file>[^\s:()'\"\x1b]+\.(?:ts|tsx|mts|cts)):(?P<line>\d+):(?P<col>\d+)\s*-\s*error\s+(?P<code>TS\d{3,5}):\s*(?P<message>.{0,240})",
            r"error\s+(?P<code>TS\d{3,5}):\s*(?P<message>.{0,240})",
        ),
        cause="TypeScript compilation fails at start-up: {code} in {where}: {message}",
        fix="fix {code} in {where}; compile at image build time (`nest build`/`tsc` in the Dockerfile) "
            "and start the compiled `node dist/main.js` (pnpm start:prod), not ts-node or watch mode",
        enrich="typescript",
    ),
    Signature(
        category="localhost-connection-refused", title="Calls localhost instead of a service", severity="high",
        needles=("econnrefused", "connection refused", "could not be established"),
        patterns=(
            r"ECONNREFUSED\s+" + _HOSTPORT,
            r"connection to server at \"?" + _HOSTPORT + r".{0,40}?Connection refused",
            r"dial tcp " + _HOSTPORT + r": connect: connection refused",
            r"(?:localhost|127\.0\.0\.1)/(?P<host>127\.0\.0\.1|localhost):(?P<port>\d{2,5})",
            r"(?:Connection refused|connect\(\) failed).{0,80}?" + _HOSTPORT,
            _HOSTPORT + r".{0,80}?(?:Connection refused|ECONNREFUSED)",
        ),
        cause="inside a container `{host}` is the container itself: the call to port {port} was refused",
        fix="{call_hint}",
        key_fields=("port",), enrich="port_target",
    ),
    Signature(
        category="dns-failure", title="Host name does not resolve", severity="high",
        needles=("enotfound", "eai_again", "name or service not known", "name resolution",
                 "no such host", "could not translate host name", "unknownhostexception", "bad address '",
                 "could not resolve host"),
        patterns=(
            r"bad address '(?P<dnshost>[\w.\-]+)(?::\d+)?'",
            r"(?:getaddrinfo\s+)?(?:ENOTFOUND|EAI_AGAIN)\s+(?P<dnshost>[\w.\-]+)",
            r"could not translate host name \"(?P<dnshost>[^\"]+)\"",
            r"lookup (?P<dnshost>[\w.\-]+)(?: on [\d.:\[\]a-f]+)?: no such host",
            r"UnknownHostException:\s*(?P<dnshost>[\w.\-]+)",
            r"Could not resolve host:?\s*(?P<dnshost>[\w.\-]+)",
            r"host \"(?P<dnshost>[\w.\-]+)\".{0,40}?(?:Name or service not known|Temporary failure in name resolution)",
            r"(?<![\w.\-])(?P<dnshost>(?![\w.\-]*(?:error|exception)\b)[\w.\-]+):\s+(?:\[Errno -?\d+\]\s*)?"
            r"(?:Name or service not known|Temporary failure in name resolution)",
            r"(?:Name or service not known|Temporary failure in name resolution|nodename nor servname)",
        ),
        cause="{dns_cause}",
        fix="{dns_fix}",
        sources=("log", "health"), key_fields=("dnshost",), enrich="dns",
    ),
    Signature(
        category="port-in-use", title="Port already in use", severity="high",
        needles=("eaddrinuse", "address already in use", "address in use", "port is already allocated"),
        patterns=(
            r"EADDRINUSE:?\s*(?:address already in use\s*)?(?P<addr>\S*?):(?P<port>\d{2,5})",
            r"(?:bind|listen).{0,40}?:(?P<port>\d{2,5}).{0,40}?address (?:already )?in use",
            r"Bind for \S*?:(?P<port>\d{2,5}) failed: port is already allocated",
            r"address (?:already )?in use",
        ),
        cause="{port_txt} is already taken, so the server cannot listen",
        fix="stop what holds {port_txt} (`ss -ltnp` on the host, or a second process in the container), or "
            "change the port; on the host a stale container may still publish it",
        key_fields=("port",), enrich="port_txt",
    ),
    Signature(
        category="db-auth-failure", title="Database authentication failed", severity="high",
        needles=("authentication failed", "access denied for user", "noauth", "wrongpass", "invalid password"),
        patterns=(
            r"password authentication failed for user \"?(?P<user>[^\"\s]+)",
            r"Access denied for user '?(?P<user>[^'@\s]+)",
            r"(?:NOAUTH|WRONGPASS)[^\n]{0,80}",
            r"ERR invalid password",
            r"(?:SASL )?[Aa]uthentication failed(?: for user \"?(?P<user2>[^\"\s]+))?",
        ),
        cause="the server rejected the credentials{user_part}",
        fix="make the app's password match the server's; a database initialised on an older volume keeps "
            "its first password (POSTGRES_PASSWORD only applies to an empty data dir): change it with "
            "ALTER USER, or point both at the same secret",
        key_fields=("user",), enrich="user",
    ),
    Signature(
        category="kafka-broker-unavailable", title="Kafka broker unavailable", severity="high",
        needles=("no leader for this topic-partition", "broker not available", "broker may not be available",
                 "seed broker", "nobrokersavailable", "kafkajsconnectionerror", "kafkajsnumberofretriesexceeded",
                 "kafkajsbrokernotfound", "leader_not_available", "[connection] connection error"),
        patterns=(
            r"There is no leader for this topic-partition",
            r"Failed to connect to seed broker(?:.{0,200}?(?P<broker>\b[\w.\-]+:\d{2,5}\b))?",
            r"KafkaJSConnectionError(?:.{0,120}?(?P<broker>\b[\w.\-]+:\d{2,5}\b))?",
            r"\[Connection\] Connection error.{0,200}?(?P<broker>[\w.\-]+:\d{2,5})",
            r"Connection to node -?\d+ \((?P<broker>[^)]+)\) could not be established",
            r"(?:Broker not available|LEADER_NOT_AVAILABLE|NoBrokersAvailable|KafkaJSBrokerNotFound|KafkaJSNumberOfRetriesExceeded)",
        ),
        cause="the Kafka broker {broker_txt}is not reachable or has no partition leader yet",
        fix="start kafka (and zookeeper) first and wait for its healthcheck (`depends_on: kafka: condition: "
            "service_healthy`); inside the network use the INSIDE listener (kafka:9093), never localhost:9092",
        enrich="broker",
    ),
    Signature(
        category="healthcheck-command-missing", title="Health-check command missing in the image",
        severity="high",
        needles=(": not found", ": command not found", "executable file not found", "no such file or directory"),
        patterns=(
            r"(?:/bin/)?sh:\s*(?:\d+:\s*)?(?P<cmd>[\w.\-/]+):\s*(?:command )?not found",
            r"exec:\s*\"(?P<cmd>[^\"]+)\":\s*executable file not found",
            r"exec (?P<cmd>\S+): no such file or directory",
        ),
        cause="the health check runs `{cmd}`, which the image does not have: the check can never pass",
        fix="use a tool the image has (busybox/alpine: `wget -q --spider http://127.0.0.1:PORT/health`; "
            "node images: `node -e \"require('http').get(...)\"`), or install `{cmd}` in the Dockerfile",
        sources=("health",), key_fields=("cmd",),
    ),
    Signature(
        category="command-not-found", title="Command not found in the image", severity="critical",
        needles=(": not found", ": command not found", "executable file not found"),
        patterns=(
            r"exec:\s*\"(?P<cmd>[^\"]+)\":\s*executable file not found",
            r"(?:/bin/)?sh:\s*(?:\d+:\s*)?(?P<cmd>[\w.\-/]+):\s*(?:command )?not found",
        ),
        cause="the container's command `{cmd}` does not exist in the image",
        fix="install `{cmd}` in the image or change the service's `command:`/entrypoint to one the image has",
        key_fields=("cmd",),
    ),
    Signature(
        category="missing-npm-script", title="npm/pnpm script missing", severity="critical",
        needles=("missing script", "err_pnpm_no_script"),
        patterns=(r"Missing script:?\s*[\"']?(?P<script>[\w:.\-]+)",),
        cause="the start command runs the package script `{script}`, which package.json does not define",
        fix="add `{script}` to the service's package.json scripts or change the command "
            "(e.g. `pnpm start:prod` -> `node dist/main.js`)",
        key_fields=("script",),
    ),
    Signature(
        category="missing-env-var", title="Missing environment variable", severity="high",
        needles=("environment variable", "is required", "keyerror", "must be defined", "is not set",
                 "missing required", "is not allowed to be empty"),
        patterns=(
            r"Config validation error:\s*\"(?P<var>[A-Z][A-Z0-9_]+)\" is (?:required|not allowed to be empty)",
            r"[Ee]nvironment variable [\"'`]?(?P<var>[A-Z][A-Z0-9_]+)[\"'`]? (?:is )?(?:missing|not set|not defined|is required|required)",
            r"[Mm]issing (?:required )?(?:environment|env) (?:variable|var)s?:?\s*[\"'`]?(?P<var>[A-Z][A-Z0-9_]+)",
            r"KeyError:\s*'(?P<var>[A-Z][A-Z0-9_]+)'",
            r"\"?(?P<var>[A-Z][A-Z0-9_]{2,})\"? (?:must be defined|is not set|is required)",
        ),
        cause="the configuration variable `{var}` is not set, so start-up validation fails",
        fix="set `{var}` in the service's `environment:` or its env_file (secrets via `${{{var}}}` from an "
            "uncommitted .env), then recreate the container",
        key_fields=("var",), ignore_case=False,
    ),
    Signature(
        category="permission-denied", title="Permission denied", severity="high",
        needles=("permission denied", "eacces", "operation not permitted"),
        patterns=(
            r"EACCES:?\s*permission denied,?\s*(?:\w+\s+)?'?(?P<path>[^'\s]+)?",
            r"(?:cannot (?:open|create|access|mkdir|write)[^'\"]*?)['\"]?(?P<path>/[^'\"\s:]+)['\"]?:?\s*(?:Permission denied|Operation not permitted)",
            r"PermissionError: \[Errno 13\] Permission denied: '(?P<path>[^']+)'",
            r"(?P<path>/[\w./\-]+):\s*Permission denied",
            r"(?:Permission denied|Operation not permitted|EACCES)",
        ),
        cause="the process may not access {path_txt}: wrong owner or mode (often a bind mount or a volume "
              "created by another user id)",
        fix="give the container's user access (`chown -R <uid> {path_or_dir}` on the volume, `user:` in "
            "compose, or fix the Dockerfile's USER); ports below 1024 need root or CAP_NET_BIND_SERVICE",
        key_fields=("path",), enrich="path",
    ),
    Signature(
        category="oom", title="Out of memory", severity="critical",
        needles=("out of memory", "heap limit", "outofmemoryerror", "memoryerror", "cannot allocate memory"),
        patterns=(
            r"JavaScript heap out of memory",
            r"Reached heap limit",
            r"java\.lang\.OutOfMemoryError(?::\s*(?P<what>[^\n]{0,80}))?",
            r"\bMemoryError\b",
            r"(?:Out of memory|Cannot allocate memory)",
        ),
        cause="the process ran out of memory",
        fix="raise the memory limit (`deploy.resources.limits.memory`) or the runtime's heap "
            "(NODE_OPTIONS=--max-old-space-size, -Xmx), or find the leak",
    ),
    Signature(
        category="timeout", title="Timeout calling a dependency", severity="medium",
        needles=("timedout", "timed out", "timeout of", "timeouterror", "connection timeout", "request timeout",
                 "operation timeout", "read timeout", "connect timeout"),
        patterns=(
            r"(?:connect\s+)?ETIMEDOUT\s+(?P<target>[\w.\-]+:\d{2,5})?",
            r"(?:Connection|Request|Operation|Read|connect) timed? ?out(?: after (?P<after>\d+\s*m?s))?",
            r"(?:TimeoutError|timeout of (?P<after2>\d+)\s?ms exceeded)",
        ),
        cause="a call{target_txt} timed out: the dependency is slow, overloaded, or the timeout is too short "
              "for this network",
        fix="check the dependency is healthy; raise the client timeout (and the health check's timeout/"
            "start_period) if the network is slow",
        kind="symptom", key_fields=("target",), enrich="target",
    ),
    Signature(
        category="connection-refused", title="Dependency refuses connections", severity="medium",
        needles=("econnrefused", "connection refused"),
        patterns=(
            r"ECONNREFUSED\s+(?P<target>[\w.\-]+:\d{2,5})",
            r"dial tcp (?P<target>[\w.\-]+:\d{2,5}): connect: connection refused",
            r"connection to server at \"?(?P<target>[^\"]+)\"?.{0,40}?Connection refused",
            r"(?:Connection refused|ECONNREFUSED)",
        ),
        cause="the dependency{target_txt} is not accepting connections (down, still starting, or wrong port)",
        fix="start the dependency first and wait for it (`depends_on` with `condition: service_healthy`); "
            "check the port matches what it listens on",
        kind="symptom", key_fields=("target",), enrich="target",
    ),
    Signature(
        category="disk-full", title="Disk full", severity="critical",
        needles=("enospc", "no space left on device"),
        patterns=(r"(?:ENOSPC|No space left on device)",),
        cause="the disk (or the Docker data root) is full",
        fix="free space (`docker system df`; remove old images and build cache only: "
            "`docker image prune`, `docker builder prune`; never prune volumes)",
    ),
    Signature(
        category="engine-unreachable", title="Docker engine unreachable", severity="critical",
        needles=("cannot connect to the docker daemon", "docker daemon socket", "docker.sock"),
        patterns=(
            r"Cannot connect to the Docker daemon(?: at (?P<socket>\S+?))?\.?(?:\s|$)",
            r"permission denied while trying to connect to the Docker daemon socket",
            r"dial unix (?P<socket>\S*docker\.sock): connect: (?:no such file or directory|connection refused|permission denied)",
        ),
        cause="the Docker engine does not answer (crashed, stopped, or the socket is not mounted)",
        fix="start the engine (`systemctl start docker` / restart Docker Desktop), check the socket mount "
            "(`/var/run/docker.sock`), then re-run `runbook diagnose`",
    ),
    Signature(
        category="health-endpoint-missing", title="Health endpoint not found", severity="medium",
        needles=("404",),
        patterns=(
            r"(?:server returned error: )?HTTP/\d(?:\.\d)? 404",
            r"returned error: 404",
            r"\b404 Not Found",
        ),
        cause="the health check calls a path the app does not serve (HTTP 404)",
        fix="point the health check at the app's health route (NestJS Terminus apps here answer on "
            "/api/v1/health or /api/health) or add a /health endpoint",
        sources=("health",),
    ),
]


# -- enrichers: computed template fields (catalog-aware hints) ---------------

@dataclass(frozen=True)
class MatchContext:
    """What a matcher may know about the stack: the service, port -> services, service names."""

    service: str | None = None
    port_services: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    services: frozenset[str] = frozenset()


# Ports a server listens on inside its container even when compose neither publishes nor
# exposes them (image regex -> ports): lets "ECONNREFUSED 127.0.0.1:5432" name `postgres`.
WELL_KNOWN_PORTS: list[tuple[str, tuple[int, ...]]] = [
    (r"postgres|postgis|timescale", (5432,)), (r"(^|/)(redis|valkey|keydb)(:|$)", (6379,)),
    (r"mysql|mariadb|percona", (3306,)), (r"(^|/)mongo(db)?(:|$)", (27017,)),
    (r"kafka(?!-ui)", (9092,)), (r"zookeeper", (2181,)), (r"elasticsearch|opensearch", (9200, 9300)),
    (r"clickhouse", (8123, 9000)), (r"(^|/)minio(:|$)", (9000, 9001)), (r"rabbitmq", (5672, 15672)),
    (r"eventstore", (2113, 1113)), (r"temporalio/(auto-setup|server)", (7233,)), (r"(^|/)nats(:|$)", (4222,)),
    (r"memcached", (11211,)), (r"(^|/)consul(:|$)", (8500,)), (r"(^|/)etcd(:|$)|coreos/etcd", (2379,)),
]


def image_ports(image: Any) -> tuple[int, ...]:
    """Well-known listening ports of an image (empty when unknown)."""
    img = str(image or "").lower()
    for rx, ports in WELL_KNOWN_PORTS:
        if img and re.search(rx, img):
            return ports
    return ()


def port_service_map(frame: pd.DataFrame | None,
                     raw: Mapping[str, Mapping] | None = None) -> dict[int, tuple[str, ...]]:
    """Catalog.frame (+ raw ``expose``) -> {port: services}.

    Container ports, ``expose`` and well-known image ports first; host ports as a fallback.
    """
    if frame is None or len(frame) == 0 or "service" not in frame.columns:
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

    images = frame["image"] if "image" in frame.columns else [None] * len(frame)
    ports_col = frame["ports"] if "ports" in frame.columns else [[]] * len(frame)
    for svc, ports, image in zip(frame["service"], ports_col, images):
        for p in ports if isinstance(ports, list) else []:
            add(inside, p.get("container_port"), svc)
            add(by_host, p.get("host_port"), svc)
        for e in ((raw or {}).get(svc) or {}).get("expose") or []:
            add(inside, e, svc)
        for port in image_ports(image):
            add(inside, port, svc)
    out = {port: tuple(svcs) for port, svcs in by_host.items()}
    out.update({port: tuple(svcs) for port, svcs in inside.items()})
    return out


def context_from_catalog(catalog: Any, service: str | None = None) -> MatchContext:
    """A MatchContext from a Catalog (or a catalog frame), for one service."""
    frame = getattr(catalog, "frame", catalog)
    if frame is None or not isinstance(frame, pd.DataFrame):
        return MatchContext(service=service)
    return MatchContext(service=service, port_services=port_service_map(frame, getattr(catalog, "raw", None)),
                        services=frozenset(str(s) for s in frame.get("service", [])))


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


# -- matching -----------------------------------------------------------------

@dataclass(frozen=True)
class Match:
    """One line attributed to one signature; text masked, long lines cut."""

    category: str
    severity: str
    title: str
    kind: str
    cause: str
    fix: str
    line_no: int
    line: str
    fields: Mapping[str, str]
    source: str
    key: tuple[str, ...]
    context: tuple[str, ...] = ()


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def cut_line(line: str, max_chars: int = MAX_LINE_CHARS, around: int | None = None) -> str:
    """Cut a long line to ``max_chars`` (around position ``around``), marking what was cut."""
    if len(line) <= max_chars:
        return line
    start = 0 if around is None else max(0, min(around - max_chars // 3, len(line) - max_chars))
    end = start + max_chars
    head = f"[…{start} chars cut] " if start else ""
    tail = f" […{len(line) - end} chars cut]" if end < len(line) else ""
    return head + line[start:end] + tail


def _ascii_lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # a few Unicode letters change length when lowered: keep positions
        low = text.translate(_ASCII_LOWER)
    return low


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _prepare(lines: Sequence[str]) -> tuple[str, str]:
    try:
        blob = "\n".join(lines)
    except TypeError:  # bytes or other values: decode with replacement, never fail
        lines = [ln.decode("utf-8", "replace") if isinstance(ln, (bytes, bytearray)) else str(ln) for ln in lines]
        blob = "\n".join(lines)
    if blob.count("\n") != max(len(lines) - 1, 0):
        blob = "\n".join(ln.replace("\r", " ").replace("\n", " ") for ln in lines)
    if "\x1b" in blob:
        blob = _ANSI_RE.sub("", blob)
    return blob, _ascii_lower(blob)


def _needle_hits(low: str, needle: str, limit: int) -> dict[int, int]:
    """line start -> first hit position of ``needle`` in that line (at most ``limit`` lines)."""
    starts: dict[int, int] = {}
    pos = low.find(needle)
    while pos != -1 and len(starts) < limit:
        starts[low.rfind("\n", 0, pos) + 1] = pos
        nl = low.find("\n", pos)
        if nl == -1:
            break
        pos = low.find(needle, nl)
    return starts


@functools.lru_cache(maxsize=16)
def _automaton(needles: tuple[str, ...]) -> Any:
    """One Aho-Corasick automaton over every needle (None when ahocorasick_rs is missing)."""
    if _ac is None:
        return None
    return _ac.AhoCorasick(list(needles), matchkind=_ac.MatchKind.Standard)


def _all_needle_hits(low: str, needles: tuple[str, ...], limit: int) -> dict[str, dict[int, int]]:
    """needle -> {line start: first hit}: one pass for all needles (Aho-Corasick), else one find each."""
    auto = _automaton(needles)
    if auto is None:
        return {n: _needle_hits(low, n, limit) for n in needles}
    out: dict[str, dict[int, int]] = {n: {} for n in needles}
    for idx, start, _end in auto.find_matches_as_indexes(low, overlapping=True):
        starts = out[needles[idx]]
        if len(starts) >= limit:
            continue
        ls = low.rfind("\n", 0, start) + 1
        if ls not in starts:
            starts[ls] = start
    return out


def _signature_hits(sig: Signature, blob: str, low: str, cache: dict[str, dict[int, int]],
                    max_hits: int, claimed: dict[int, tuple]) -> None:
    """Claim for ``sig`` each unclaimed line (by start offset) where one of its patterns matches."""
    starts: dict[int, int] = {}
    for needle in sig.needles:
        for ls, pos in cache.get(needle, {}).items():
            if ls not in claimed:
                starts.setdefault(ls, pos)
    found = 0
    for ls in sorted(starts):
        hit = starts[ls]
        le = low.find("\n", ls)
        le = len(low) if le == -1 else le
        w0, w1 = max(ls, hit - _WINDOW_BEFORE), min(le, hit + _WINDOW_AFTER)
        for rx in sig.compiled:
            m = rx.search(blob, w0, w1)
            if m is not None:
                claimed[ls] = (sig, m.groupdict(), le, m.start())
                found += 1
                break
        if found >= max_hits:
            break


_Hit = tuple  # (line_no, Signature, raw fields, line start, line end, match position)


def _hits(lines: Sequence[str], source: str, signatures: Sequence[Signature] | None,
          max_hits: int) -> tuple[str, list[_Hit]]:
    """(joined text, hits in line order): each line attributed to the first signature that matches it."""
    sigs = [s for s in (SIGNATURES if signatures is None else signatures) if source in s.sources]
    if lines is None or len(lines) == 0 or not sigs:
        return "", []
    blob, low = _prepare(lines)
    needles = tuple(sorted({n for sig in sigs for n in sig.needles}))
    cache = _all_needle_hits(low, needles, max_hits * 4)
    claimed: dict[int, tuple] = {}  # line start -> (sig, groups, line end, match pos); table order wins
    for sig in sigs:
        _signature_hits(sig, blob, low, cache, max_hits, claimed)
    out: list[_Hit] = []
    line_no, counted_to = 0, 0
    for ls in sorted(claimed):
        line_no += blob.count("\n", counted_to, ls)
        counted_to = ls
        sig, groups, le, mpos = claimed[ls]
        out.append((line_no, sig, {k: v for k, v in groups.items() if v is not None and k[0] != "_"}, ls, le, mpos))
    return blob, out


class _Texts:
    """Masked fields, cause, fix and key per (signature, captured values), computed once each."""

    def __init__(self, ctx: MatchContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple, tuple[dict, str, str, tuple[str, ...]]] = {}

    def get(self, sig: Signature, raw: Mapping[str, Any]) -> tuple[dict, str, str, tuple[str, ...]]:
        k = (id(sig), tuple(sorted((a, str(b)) for a, b in raw.items())))
        out = self._cache.get(k)
        if out is None:
            fields = {a: redact.mask_text(str(b))[:200] for a, b in raw.items()}
            if sig.enrich:
                ENRICHERS[sig.enrich](fields, self.ctx)
            tmpl = _Defaults(fields)
            tmpl.setdefault("service", self.ctx.service or "<service>")
            out = (fields, redact.mask_text(sig.cause.format_map(tmpl)), redact.mask_text(sig.fix.format_map(tmpl)),
                   tuple(str(fields.get(f, "")) for f in sig.key_fields))
            self._cache[k] = out
        return out


def _materialize(blob: str, hit: _Hit, texts: _Texts, source: str) -> Match:
    line_no, sig, raw, ls, le, mpos = hit
    fields, cause, fix, key = texts.get(sig, raw)
    after: tuple[str, ...] = ()
    if sig.context_after:
        nxt, extra = le, []
        for _ in range(sig.context_after):
            if nxt >= len(blob):
                break
            end = blob.find("\n", nxt + 1)
            end = len(blob) if end == -1 else end
            extra.append(redact.mask_text(cut_line(blob[nxt + 1:end])))
            nxt = end
        after = tuple(x for x in extra if x.strip())
    return Match(category=sig.category, severity=sig.severity, title=sig.title, kind=sig.kind, cause=cause,
                 fix=fix, line_no=line_no, line=redact.mask_text(cut_line(blob[ls:le], around=mpos - ls)),
                 fields=dict(fields), source=source, key=key, context=after)


def match_lines(lines: Sequence[str], context: MatchContext | None = None, source: str = "log",
                signatures: Sequence[Signature] | None = None, max_hits: int = 10_000) -> list[Match]:
    """Attribute each matching line to the first signature (table order) that matches it.

    ``source`` picks the signatures that read this text ("log" or "health"); at most
    ``max_hits`` lines are attributed per signature.
    """
    blob, hits = _hits(lines, source, signatures, max_hits)
    texts = _Texts(context or MatchContext())
    return [_materialize(blob, h, texts, source) for h in hits]


# -- classification over evidence --------------------------------------------

FIELD_SIGNATURES: dict[str, dict[str, str]] = {
    # Signatures read from container state, not from text (same columns as the table).
    "oom": {"title": "Killed: out of memory", "severity": "critical", "kind": "cause"},
    "crash-loop": {"title": "Crash loop", "severity": "high", "kind": "symptom"},
    "slow-startup": {"title": "Start-up slower than the health-check start period", "severity": "medium",
                     "kind": "cause"},
    "engine-unreachable": {"title": "Docker engine unreachable", "severity": "critical", "kind": "cause"},
    "healthcheck-failing": {"title": "Health check failing", "severity": "medium", "kind": "symptom"},
    "unclassified": {"title": "Unclassified failure", "severity": "medium", "kind": "symptom"},
}


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _get(ev: Mapping[str, Any], key: str) -> Any:
    """A field of an evidence row; NaN/NA (from a DataFrame) reads as None."""
    v = ev.get(key)
    if v is None or isinstance(v, (list, tuple, dict, str)):
        return v
    try:
        return None if pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def _flag(ev: Mapping[str, Any], key: str) -> bool:
    v = _get(ev, key)
    return bool(v) if v is not None else False


def _health_outputs(ev: Mapping[str, Any]) -> list[str]:
    """Health-check outputs: ``health_outputs``, else ``health_log`` entries, else ``health_output``."""
    outs = _get(ev, "health_outputs")
    if outs:
        return [str(o) for o in outs if o]
    log = _get(ev, "health_log") or []
    outs = [str(h.get("output") or "") for h in log if isinstance(h, Mapping)]
    outs = [o for o in outs if o.strip()]
    if outs:
        return outs
    one = _get(ev, "health_output")
    return [str(one)] if one else []


def _events(ev: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in (_get(ev, "events") or []) if isinstance(e, Mapping)]


def _time_to_healthy_s(ev: Mapping[str, Any]) -> float | None:
    """Seconds from start to the first passing health probe (field, else from health_log)."""
    direct = _num(_get(ev, "time_to_healthy_s"))
    if direct is not None:
        return direct
    started = _get(ev, "started_at")
    if started is None:
        return None
    try:
        t0 = pd.Timestamp(started)
        t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0
        for h in _get(ev, "health_log") or []:
            if isinstance(h, Mapping) and h.get("exit_code") == 0 and h.get("start"):
                t = pd.Timestamp(h["start"])
                t = t.tz_localize("UTC") if t.tzinfo is None else t
                if t >= t0:
                    return (t - t0).total_seconds()
    except (ValueError, TypeError):
        return None
    return None


def _is_failing(ev: Mapping[str, Any]) -> bool:
    if _get(ev, "failing") is not None:
        return bool(_get(ev, "failing"))
    state = str(_get(ev, "state") or "")
    exit_code = _num(_get(ev, "exit_code"))
    return (state in ("exited", "dead", "restarting", "created") and exit_code not in (None, 0.0)) \
        or state in ("dead", "restarting") or _get(ev, "health") == "unhealthy" \
        or _flag(ev, "oom_killed") or (_num(_get(ev, "restart_growth")) or 0) > 0


def _last_lines(lines: Sequence[str], n: int = 10) -> list[str]:
    out = []
    for ln in reversed(lines):
        ln = _ANSI_RE.sub("", str(ln)).rstrip()
        if ln.strip():
            out.append(redact.mask_text(cut_line(ln)))
        if len(out) >= n:
            break
    return out[::-1]


def _row(ev: Mapping[str, Any], category: str, cause: str, fix: str, evidence: list[str], *,
         severity: str | None = None, title: str | None = None, kind: str | None = None, count: int = 1,
         first_line: int | None = None, source: str = "state", details: list[dict] | None = None) -> dict:
    meta = FIELD_SIGNATURES.get(category, {})
    return {
        "service": _get(ev, "service"), "container": _get(ev, "container") or _get(ev, "name"),
        "category": category, "title": title or meta.get("title", category),
        "severity": severity or meta.get("severity", "medium"), "kind": kind or meta.get("kind", "cause"),
        "cause": redact.mask_text(cause), "fix": redact.mask_text(fix),
        "evidence": [redact.mask_text(e) for e in evidence], "match_count": int(count),
        "first_line": first_line, "source": source, "details": details or [],
    }


def _aggregate(ev: Mapping[str, Any], blob: str, hits: list[_Hit], texts: _Texts, source: str,
               max_evidence: int, max_details: int = 10, max_keys: int = 5) -> list[dict]:
    """One finding per (category, key fields); only the few kept lines are masked and cut.

    A crash loop repeating one error 10 000 times costs one regex per line, not 10 000
    findings; a category with more than ``max_keys`` distinct keys (10 000 different
    targets) becomes one finding that says how many variants it saw.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[_Hit]] = {}
    keys_per_category: dict[str, set] = {}
    variant_of: dict[tuple, tuple] = {}  # (sig, captured items) -> (group key, variant id)
    variants_seen: dict[tuple, dict[tuple, _Hit]] = {}
    for h in hits:
        sig, raw = h[1], h[2]
        items = (id(sig), tuple(raw.items()))
        known = variant_of.get(items)
        if known is None:
            key = (sig.category, tuple(str(raw.get(k, "")) for k in sig.key_fields))
            known = variant_of[items] = (key, (id(sig), tuple(sorted(raw.items()))))
            keys_per_category.setdefault(sig.category, set()).add(key[1])
        groups.setdefault(known[0], []).append(h)
        variants_seen.setdefault(known[0], {}).setdefault(known[1], h)
    crowded = {c for c, keys in keys_per_category.items() if len(keys) > max_keys}
    if crowded:
        merged: dict[tuple[str, tuple[str, ...]], list[_Hit]] = {}
        merged_variants: dict[tuple, dict[tuple, _Hit]] = {}
        for (cat, key), hs in groups.items():
            new_key = (cat, () if cat in crowded else key)
            merged.setdefault(new_key, []).extend(hs)
            for vid, h in variants_seen[(cat, key)].items():
                merged_variants.setdefault(new_key, {}).setdefault(vid, h)
        groups = {k: sorted(v, key=lambda h: h[0]) for k, v in merged.items()}
        variants_seen = merged_variants
    rows = []
    for gkey, group in groups.items():
        first = _materialize(blob, group[0], texts, source)
        evidence: list[str] = []
        for h in group:
            m = first if h is group[0] else _materialize(blob, h, texts, source)
            for text in (m.line, *m.context):
                if text not in evidence:
                    evidence.append(text)
            if len(evidence) >= max_evidence:
                break
        variants = variants_seen[gkey]
        details = [dict(texts.get(h[1], h[2])[0]) for h in list(variants.values())[:max_details]]
        cause = first.cause
        if len(variants) > 1:
            cause += f" (and {len(variants) - 1} more like it)"
        rows.append(_row(ev, first.category, cause, first.fix, evidence[:max_evidence],
                         severity=first.severity, title=first.title, kind=first.kind, count=len(group),
                         first_line=first.line_no, source=source, details=details))
    return rows


def classify_one(ev: Mapping[str, Any], context: MatchContext | None = None,
                 signatures: Sequence[Signature] | None = None, crash_loop_restarts: int = 3,
                 max_evidence: int = 5) -> list[dict]:
    """Findings (dict rows, FINDING_COLUMNS) for one container's evidence."""
    service = _get(ev, "service")
    ctx = context or MatchContext(service=service)
    if ctx.service is None and service:
        ctx = MatchContext(service=service, port_services=ctx.port_services, services=ctx.services)
    rows: list[dict] = []
    engine_error = _get(ev, "engine_error")
    if engine_error:
        rows.append(_row(ev, "engine-unreachable",
                         "the Docker engine does not answer, so nothing can be inspected or restarted",
                         "start the engine (`systemctl start docker` / restart Docker Desktop) and check "
                         "DOCKER_HOST / the socket; then re-run `runbook diagnose`",
                         [str(engine_error)], source="engine"))
    log_lines = _get(ev, "log_lines")
    log_lines = [] if log_lines is None else list(log_lines)
    health_outputs = _health_outputs(ev)
    texts = _Texts(ctx)
    for source, lines in (("log", log_lines), ("health", health_outputs)):
        blob, hits = _hits(lines, source, signatures, max_hits=10_000)
        rows += _aggregate(ev, blob, hits, texts, source, max_evidence)

    exit_code = _num(_get(ev, "exit_code"))
    events = _events(ev)
    oom_killed = _flag(ev, "oom_killed") or any(e.get("action") == "oom" for e in events)
    if oom_killed or exit_code == 137:
        log_oom = [r for r in rows if r["category"] == "oom"]
        rows = [r for r in rows if r["category"] != "oom"]
        text = ("the kernel killed the process for exceeding its memory limit (OOMKilled)" if oom_killed else
                "the process was killed by SIGKILL (exit 137): an out-of-memory kill, or `docker kill`/a stop "
                "timeout")
        code_txt = int(exit_code) if exit_code is not None else "?"
        rows.append(_row(ev, "oom", text,
                         "raise the memory limit (`deploy.resources.limits.memory` / `mem_limit`) or lower "
                         "the runtime heap (NODE_OPTIONS=--max-old-space-size, -Xmx); check `docker stats`",
                         [f"exit code {code_txt}, OOMKilled={oom_killed}",
                          *[e for r in log_oom for e in r["evidence"]][:max_evidence - 1]],
                         severity="critical" if oom_killed else "high",
                         count=1 + sum(r["match_count"] for r in log_oom)))

    restarts = _num(_get(ev, "restart_count")) or 0
    growth = _num(_get(ev, "restart_growth")) or 0
    state = _get(ev, "state")
    if growth > 0 or state == "restarting" or (restarts >= crash_loop_restarts and _is_failing(ev)):
        grew = f" (+{int(growth)} since the previous sample)" if growth else ""
        exit_txt = f", last exit code {int(exit_code)}" if exit_code is not None else ""
        rows.append(_row(ev, "crash-loop",
                         f"restarted {int(restarts)} times{grew}{exit_txt}: the process keeps exiting and the "
                         f"restart policy hides it",
                         "fix the first error in its logs (the findings above); restarting again will not help",
                         [f"restart_count={int(restarts)}, growth={int(growth)}, state={state}"]))

    start_period = _num(_get(ev, "start_period_s"))
    to_healthy = _time_to_healthy_s(ev) if start_period is not None else None
    if start_period is not None and to_healthy is not None and to_healthy > start_period:
        rows.append(_row(ev, "slow-startup",
                         f"it needs {to_healthy:.0f} s to become healthy, but the health check's start period "
                         f"is {start_period:.0f} s: failures before that count and mark it unhealthy",
                         f"raise `healthcheck.start_period` to at least {int(to_healthy * 1.5) + 1}s (and "
                         f"dependants' wait budget), or make start-up faster (compile at build time)",
                         [f"start_period={start_period:.0f}s, time_to_healthy={to_healthy:.0f}s"]))

    has_health_finding = any(r["source"] == "health" for r in rows)
    if _get(ev, "health") == "unhealthy" and not has_health_finding:
        rows.append(_row(ev, "healthcheck-failing",
                         "the health check fails" + (f": {health_outputs[-1][:200]}" if health_outputs else ""),
                         "run the health-check command by hand (`docker exec <container> <test>`) and fix what "
                         "it reports; check the port and path it calls",
                         _last_lines(health_outputs, 3), source="health"))

    if not rows and _is_failing(ev):
        exit_txt = f" (exit code {int(exit_code)})" if exit_code is not None else ""
        rows.append(_row(ev, "unclassified",
                         f"no known signature matched{exit_txt}; read the last lines",
                         "read the last lines below; if this recurs, add a signature to runbook_lib/signatures.py",
                         _last_lines(log_lines) or _last_lines(health_outputs) or ["(no log lines)"],
                         source="log"))
    return rows


def classify(evidence: Iterable[Mapping[str, Any]] | pd.DataFrame, catalog: Any = None,
             signatures: Sequence[Signature] | None = None, crash_loop_restarts: int = 3,
             max_evidence: int = 5) -> pd.DataFrame:
    """Evidence rows (one per container) -> findings frame (FINDING_COLUMNS), worst first.

    Each evidence row may hold: service, container, state, health, log_lines, health_outputs,
    exit_code, oom_killed, restart_count, restart_growth, start_period_s, time_to_healthy_s,
    engine_error, failing. ``catalog`` (a Catalog or its frame) names services for hints.
    """
    if isinstance(evidence, pd.DataFrame):
        evidence = evidence.to_dict("records")
    base = context_from_catalog(catalog) if catalog is not None else MatchContext()
    periods = _start_periods(catalog)
    rows: list[dict] = []
    for ev in evidence:
        service = _get(ev, "service")
        if _get(ev, "start_period_s") is None and service in periods:
            ev = {**ev, "start_period_s": periods[service]}
        ctx = MatchContext(service=service, port_services=base.port_services, services=base.services)
        rows += classify_one(ev, ctx, signatures, crash_loop_restarts, max_evidence)
    df = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    if len(df):
        df = df.assign(_r=df["severity"].map(SEVERITY_RANK).fillna(9),
                       _k=(df["kind"] != "cause").astype(int))
        df = df.sort_values(["_r", "_k", "service", "category"], kind="stable").drop(columns=["_r", "_k"])
        df = df.reset_index(drop=True)
    return df


def _start_periods(catalog: Any) -> dict[str, float]:
    """service -> healthcheck start_period_s, from a Catalog or its frame."""
    frame = getattr(catalog, "frame", catalog)
    if not isinstance(frame, pd.DataFrame) or "healthcheck" not in frame.columns:
        return {}
    out = {}
    for svc, hc in zip(frame["service"], frame["healthcheck"]):
        if isinstance(hc, Mapping) and hc.get("start_period_s") is not None:
            out[str(svc)] = float(hc["start_period_s"])
    return out


def signature_table(signatures: Sequence[Signature] | None = None) -> pd.DataFrame:
    """The signature library as a frame (for docs and the report's appendix)."""
    rows = [{"category": s.category, "title": s.title, "severity": s.severity, "kind": s.kind,
             "sources": ", ".join(s.sources), "needles": ", ".join(s.needles)}
            for s in (SIGNATURES if signatures is None else signatures)]
    rows += [{"category": k, "title": v["title"], "severity": v["severity"], "kind": v["kind"],
              "sources": "state", "needles": ""} for k, v in FIELD_SIGNATURES.items()
             if k not in {s.category for s in (SIGNATURES if signatures is None else signatures)}]
    return pd.DataFrame(rows)
