"""Protocol probe kinds: each service checked the way its operators check it.

Registered into ``probes`` (imported by ``probes._load_plugins``):

| kind | native check | up / degraded / down |
|---|---|---|
| kafka | Kafka wire protocol: ApiVersions v0, then Metadata v1 | answers / no controller or API error / no or wrong reply |
| elasticsearch | ``GET /_cluster/health`` (Basic auth from ELASTIC_PASSWORD) | green / yellow / red |
| zookeeper | four-letter words ``ruok`` (→ ``imok``) and ``srvr`` (mode, latency) | serving / read-only or 4lw not whitelisted / not serving |
| clickhouse | ``GET /ping`` → ``Ok.`` | |
| traefik | ``GET /ping`` (``--ping``), else the API | ping / ping disabled |
| minio | ``/minio/health/live`` then ``/minio/health/cluster`` | live+quorum / no write quorum |
| rabbitmq | management ``/api/health/checks/alarms`` (RABBITMQ_DEFAULT_USER/PASS), else the AMQP 0-9-1 header → Connection.Start | no alarms / alarms in effect |
| eventstore | ``GET /health/live`` | |
| temporal | gRPC ``grpc.health.v1.Health/Check`` (hand-encoded protobuf), TCP when the health service is not implemented | SERVING / UNKNOWN / NOT_SERVING |
| prometheus | ``/-/healthy`` then ``/-/ready`` | ready / healthy, not ready |
| grafana | ``/api/health`` (``database: ok``) | |
| otel | collector ``health_check`` extension, ``GET /`` on 13133 | "Server available" |

Kinds follow ``probes``' contract: take a ``ProbeSpec``, return a ``ProbeOutcome`` or raise
``ProbeDown`` / ``ProbeUnknown`` / ``TimeoutError``; the runner makes the row, masks it and
bounds the wall time. Every network call here has its own deadline of ``spec.timeout_s``.
Missing credentials → unknown; rejected credentials → down (as the core kinds do).
Credentials never go through ``docker exec`` (the command line shows in ``docker events``).

``KIND_INFO`` (image pattern → kind, default container port, credential variables) and
``image_kind`` / ``credential_options`` let ``probe_derive`` build specs with no configuration.
"""
from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_lib.probes import runner as probes
from runbook_lib.probes.runner import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown, register

MAX_REPLY_BYTES = 64 * 1024


# ---------------------------------------------------------------- catalogue (pure)
@dataclass(frozen=True)
class KindInfo:
    """How to recognise a kind and where it listens inside its container."""

    kind: str
    image_re: str
    port: int
    path: str | None = None
    env_user: tuple[str, ...] = ()
    env_password: tuple[str, ...] = ()
    default_user: str | None = None
    extra_ports: Mapping[str, int] = field(default_factory=dict)


KIND_INFO: dict[str, KindInfo] = {i.kind: i for i in (
    KindInfo("kafka", r"(^|/)(cp-kafka|cp-server|kafka)(:|@|$)", 9092),
    KindInfo("zookeeper", r"(^|/)(cp-zookeeper|zookeeper)(:|@|$)", 2181),
    KindInfo("elasticsearch", r"(^|/)(elasticsearch|opensearch)(:|@|$)", 9200, "/_cluster/health",
             env_user=("ELASTIC_USERNAME",), env_password=("ELASTIC_PASSWORD",), default_user="elastic"),
    KindInfo("clickhouse", r"(^|/)clickhouse(-server)?(:|@|$)", 8123, "/ping"),
    KindInfo("traefik", r"(^|/)traefik(:|@|$)", 8080, "/ping"),
    KindInfo("minio", r"(^|/)minio(:|@|$)", 9000, "/minio/health/live"),
    KindInfo("rabbitmq", r"(^|/)rabbitmq(:|@|$)", 15672, "/api/health/checks/alarms",
             env_user=("RABBITMQ_DEFAULT_USER",), env_password=("RABBITMQ_DEFAULT_PASS",),
             extra_ports={"amqp_port": 5672}),
    KindInfo("eventstore", r"(^|/)eventstore(db)?(:|@|$)", 2113, "/health/live"),
    KindInfo("temporal", r"(^|/)temporalio/(auto-setup|server)(:|@|$)", 7233),
    KindInfo("prometheus", r"(^|/)prometheus(:|@|$)", 9090, "/-/healthy"),
    KindInfo("grafana", r"(^|/)grafana(-oss|-enterprise)?(:|@|$)", 3000, "/api/health"),
    KindInfo("otel", r"(^|/)opentelemetry-collector(-contrib|-k8s)?(:|@|$)", 13133, "/"),
)}


def image_kind(image: str | None) -> str | None:
    """The protocol kind of an image reference (``confluentinc/cp-kafka:7.5.0`` → kafka), or None."""
    if not image:
        return None
    ref = str(image).lower()
    for info in KIND_INFO.values():
        if re.search(info.image_re, ref):
            return info.kind
    return None


def credential_options(kind: str, environment: Mapping[str, Any] | None) -> dict[str, Any]:
    """Probe options (user/password) for a kind from the service's own (unmasked) environment."""
    info = KIND_INFO.get(kind)
    env = dict(environment or {})
    if info is None:
        return {}
    out: dict[str, Any] = {}
    password = next((env[k] for k in info.env_password if env.get(k)), None)
    user = next((env[k] for k in info.env_user if env.get(k)), None)
    if password:
        out["password"] = str(password)
        out["user"] = str(user or info.default_user or "")
    elif user:
        out["user"] = str(user)
    return out


# ---------------------------------------------------------------- HTTP helpers
@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str
    via: str = "host"
    scheme: str = "http"

    def json(self, what: str) -> Any:
        """The body as JSON, or down with what we expected."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProbeDown(f"HTTP {self.status} but the body is not JSON: not {what}? "
                            f"body starts {self.body[:60]!r}") from None


_client_lock = threading.Lock()
_client = None


def _http_client():
    """One shared httpx client (thread-safe); no keep-alive, so every probe opens a fresh connection."""
    global _client
    import httpx
    with _client_lock:
        if _client is None:
            _client = httpx.Client(trust_env=False, follow_redirects=False, verify=False,
                                   limits=httpx.Limits(max_keepalive_connections=0, max_connections=1000))
        return _client


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timeout")
    return left


def http_get(spec: ProbeSpec, path: str, *, auth: tuple[str, str] | None = None,
             deadline: float | None = None, port: int | None = None) -> HttpReply:
    """GET ``path`` on the spec's target (or from inside its container when ``via == "exec"``).

    Body capped at 64 KiB, whole exchange bounded by ``deadline``. Timeouts raise
    ``TimeoutError``, refused connections ``ConnectionRefusedError``, non-HTTP replies
    ``ProbeDown`` saying so.
    """
    deadline = deadline if deadline is not None else time.monotonic() + spec.timeout_s
    port = port or spec.port
    if spec.via == "exec":  # port not published: the image's own curl/wget, no credentials
        status, body = probes.exec_http_get(spec, port, path, deadline=deadline)
        return HttpReply(status, body[:MAX_REPLY_BYTES], via="exec")
    # no scheme configured: plain HTTP first, then HTTPS (Elasticsearch 8 / OpenSearch default to TLS)
    configured = spec.options.get("scheme")
    schemes = [str(configured)] if configured else ["http", "https"]
    for i, scheme in enumerate(schemes):
        try:
            return _get_once(spec, scheme, port, path, auth, deadline)
        except _NotHttp as exc:
            if exc.tls_hint and i + 1 < len(schemes) and deadline - time.monotonic() > 0.05:
                continue
            tried = " and ".join(schemes)
            raise ProbeDown(f"no valid HTTP reply over {tried} ({exc}): wrong port, "
                            f"or not a {spec.kind} server?") from None
    raise AssertionError("unreachable")


class _NotHttp(Exception):
    """The peer did not speak HTTP over the scheme tried; ``tls_hint``: it looks like a TLS port."""

    def __init__(self, message: str, tls_hint: bool = False) -> None:
        super().__init__(message)
        self.tls_hint = tls_hint


def _get_once(spec: ProbeSpec, scheme: str, port: int | None, path: str, auth: tuple[str, str] | None,
              deadline: float) -> HttpReply:
    import httpx
    url = f"{scheme}://{spec.host}:{port}{path}" if port else f"{scheme}://{spec.host}{path}"
    try:
        with _http_client().stream("GET", url, auth=auth, timeout=_remaining(deadline)) as resp:
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_REPLY_BYTES:
                    break
                _remaining(deadline)
            body = b"".join(chunks)[:MAX_REPLY_BYTES].decode("utf-8", errors="replace")
            if scheme == "http" and resp.status_code == 400 and "https" in body.lower():
                raise _NotHttp("http: HTTP 400, the server wants HTTPS", tls_hint=True)
            return HttpReply(resp.status_code, body, scheme=scheme)
    except httpx.TimeoutException:
        raise TimeoutError("timeout") from None
    except httpx.ConnectError as exc:
        text = str(exc)
        if "refused" in text.lower():
            raise ConnectionRefusedError("connection refused") from None
        if scheme == "https" or "ssl" in text.lower() or "tls" in text.lower():
            raise _NotHttp(f"{scheme}: {type(exc).__name__}: {text[:80]}") from None
        raise ProbeDown(f"cannot connect: {text[:150]}") from None
    except httpx.ReadError as exc:  # reset before any reply: what a TLS port does to plaintext
        raise _NotHttp(f"{scheme}: connection reset ({str(exc)[:60]})", tls_hint=scheme == "http") from None
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as exc:
        text = str(exc)
        # a TLS port closes on plaintext, or answers with a TLS alert record (0x15 0x03 …)
        tls_hint = "without sending a response" in text or "\\x15\\x03" in text
        raise _NotHttp(f"{scheme}: {type(exc).__name__}: {text[:80]}", tls_hint=tls_hint) from None


def _outcome(state: str, reply: Any = None, *, via: str = "host", detail: list[dict] | None = None,
             error: str | None = None) -> ProbeOutcome:
    if via == "exec":
        note = "port not published: probed from inside the container"
        reply = f"{reply} ({note})" if reply else note
    return ProbeOutcome(state, reply=reply, detail=detail or [], error=error, via=via)


def _http_down(r: HttpReply, what: str) -> ProbeOutcome:
    """Down: ``what`` (an endpoint) answered an unexpected HTTP status."""
    return _outcome("down", f"HTTP {r.status}", via=r.via, error=f"{what} answered HTTP {r.status}")


def _auth(spec: ProbeSpec, default_user: str | None = None) -> tuple[str, str] | None:
    password = spec.options.get("password")
    if not password:
        return None
    return (str(spec.options.get("user") or default_user or ""), str(password))


def _path(spec: ProbeSpec, default: str) -> str:
    p = spec.path or default
    return p if p.startswith("/") else "/" + p


def _exec_kind(kind: str):
    """Register a kind that probes from inside the container itself (same judgement as on the host)."""
    def deco(func):
        func.handles_exec = True
        return register(kind, func)
    return deco


# ---------------------------------------------------------------- HTTP kinds
_ES_STATES = {"green": "up", "yellow": "degraded", "red": "down"}


@_exec_kind("elasticsearch")
def probe_elasticsearch(spec: ProbeSpec) -> ProbeOutcome:
    """``GET /_cluster/health``: green up, yellow degraded, red down (Basic auth if a password is known)."""
    auth = None if spec.via == "exec" else _auth(spec, "elastic")
    r = http_get(spec, _path(spec, "/_cluster/health"), auth=auth)
    if r.status in (401, 403):
        if spec.via == "exec":
            raise ProbeUnknown("Elasticsearch needs credentials, which are not sent through docker exec: "
                               "publish port 9200 on 127.0.0.1")
        if auth is None:
            raise ProbeUnknown(f"missing credentials: Elasticsearch answered HTTP {r.status}; set ELASTIC_PASSWORD "
                               "in the service's environment or password in runbook.yaml probes:")
        raise ProbeDown(f"authentication failed (HTTP {r.status}): check ELASTIC_PASSWORD")
    data = r.json("Elasticsearch _cluster/health")
    if r.status != 200:
        err = data.get("error") if isinstance(data, Mapping) else None
        reason = (err.get("type") if isinstance(err, Mapping) else err) or f"HTTP {r.status}"
        return _outcome("down", f"HTTP {r.status}", via=r.via, error=f"cluster health failed: {reason}")
    if not isinstance(data, Mapping) or str(data.get("status")) not in _ES_STATES:
        raise ProbeDown("reply has no green/yellow/red status: not an Elasticsearch _cluster/health")
    colour = str(data["status"])
    state = _ES_STATES[colour]
    msg = (f"nodes {data.get('number_of_nodes')}, active shards {data.get('active_shards_percent_as_number')} %, "
           f"unassigned {data.get('unassigned_shards')}, pending tasks {data.get('number_of_pending_tasks')}")
    detail = [{"component": f"cluster {data.get('cluster_name', '')}".strip(), "status": colour, "message": msg}]
    error = None if state == "up" else f"cluster {colour}: {data.get('unassigned_shards')} unassigned shards"
    return _outcome(state, f"cluster {colour}", via=r.via, detail=detail, error=error)


@_exec_kind("clickhouse")
def probe_clickhouse(spec: ProbeSpec) -> ProbeOutcome:
    """ClickHouse HTTP ``/ping`` answers ``Ok.``."""
    r = http_get(spec, _path(spec, "/ping"))
    if r.status != 200:
        return _http_down(r, "/ping")
    if r.body.strip() != "Ok.":
        raise ProbeDown(f"/ping answered {r.body.strip()[:40]!r}, not 'Ok.': not ClickHouse's HTTP port?")
    return _outcome("up", "Ok.", via=r.via)


@_exec_kind("traefik")
def probe_traefik(spec: ProbeSpec) -> ProbeOutcome:
    """Traefik ``/ping`` (needs ``--ping``); without it the API (``/api/version``) tells it is alive."""
    deadline = time.monotonic() + spec.timeout_s
    r = http_get(spec, _path(spec, "/ping"), deadline=deadline)
    if r.status == 200:
        return _outcome("up", r.body.strip()[:40] or "HTTP 200", via=r.via)
    if r.status == 404:
        v = http_get(spec, "/api/version", deadline=deadline)
        if v.status == 200:
            try:
                version = json.loads(v.body).get("Version")
            except (ValueError, AttributeError):
                version = None
            return _outcome("up", f"API answers (Traefik {version or '?'}); /ping not enabled", via=r.via)
        return _outcome("degraded", "HTTP 404", via=r.via,
                        error="Traefik answers but /ping is not enabled: start it with --ping "
                              "(and --api.insecure for the API port) to get a health endpoint")
    return _http_down(r, "/ping")


@_exec_kind("minio")
def probe_minio(spec: ProbeSpec) -> ProbeOutcome:
    """MinIO ``/minio/health/live`` then ``/minio/health/cluster`` (503 = no write quorum → degraded)."""
    deadline = time.monotonic() + spec.timeout_s
    r = http_get(spec, _path(spec, "/minio/health/live"), deadline=deadline)
    if r.status != 200:
        return _http_down(r, "liveness")
    c = http_get(spec, "/minio/health/cluster", deadline=deadline)
    detail = [{"component": "live", "status": "up", "message": None},
              {"component": "cluster", "status": "up" if c.status == 200 else "down",
               "message": None if c.status == 200 else f"HTTP {c.status}"}]
    if c.status == 200:
        return _outcome("up", "live, cluster has write quorum", via=r.via, detail=detail)
    return _outcome("degraded", f"live, cluster HTTP {c.status}", via=r.via, detail=detail,
                    error="cluster health failed: no write quorum (drives or nodes offline)")


@_exec_kind("eventstore")
def probe_eventstore(spec: ProbeSpec) -> ProbeOutcome:
    """EventStoreDB ``/health/live`` (204 by default)."""
    r = http_get(spec, _path(spec, "/health/live"))
    if 200 <= r.status < 300:
        return _outcome("up", f"HTTP {r.status}", via=r.via)
    return _http_down(r, "/health/live")


@_exec_kind("prometheus")
def probe_prometheus(spec: ProbeSpec) -> ProbeOutcome:
    """Prometheus ``/-/healthy`` then ``/-/ready`` (healthy but not ready → degraded)."""
    deadline = time.monotonic() + spec.timeout_s
    r = http_get(spec, _path(spec, "/-/healthy"), deadline=deadline)
    if r.status != 200:
        return _http_down(r, "/-/healthy")
    ready = http_get(spec, "/-/ready", deadline=deadline)
    if ready.status == 200:
        return _outcome("up", "healthy, ready", via=r.via)
    return _outcome("degraded", f"healthy, /-/ready HTTP {ready.status}", via=r.via,
                    error="not ready yet (starting, replaying the WAL)")


@_exec_kind("grafana")
def probe_grafana(spec: ProbeSpec) -> ProbeOutcome:
    """Grafana ``/api/health``: ``database: ok``."""
    r = http_get(spec, _path(spec, "/api/health"))
    data = r.json("Grafana /api/health")
    if not isinstance(data, Mapping) or "database" not in data:
        raise ProbeDown(f"HTTP {r.status} without a 'database' field: not Grafana's /api/health")
    db = str(data.get("database"))
    detail = [{"component": "database", "status": "up" if db == "ok" else "down", "message": db}]
    reply = f"Grafana {data.get('version', '?')}, database {db}"
    if r.status == 200 and db == "ok":
        return _outcome("up", reply, via=r.via, detail=detail)
    return _outcome("down", reply, via=r.via, detail=detail, error=f"database {db} (HTTP {r.status})")


@_exec_kind("otel")
def probe_otel(spec: ProbeSpec) -> ProbeOutcome:
    """OpenTelemetry collector health_check extension (port 13133): ``Server available``."""
    r = http_get(spec, _path(spec, "/"))
    try:
        data = json.loads(r.body) if r.body.strip() else {}
    except ValueError:
        data = None
    status = str(data.get("status")) if isinstance(data, Mapping) and data.get("status") is not None else None
    if r.status == 200:
        if data is None:
            raise ProbeDown("HTTP 200 but not the health_check extension's JSON: wrong port (13133)?")
        reply = status or ("healthy" if data.get("healthy") else "HTTP 200")
        return _outcome("up", reply, via=r.via)
    return _outcome("down", status or f"HTTP {r.status}", via=r.via,
                    error=f"collector not available (HTTP {r.status})")


# ---------------------------------------------------------------- raw sockets
def _connect(host: str, port: int, deadline: float) -> socket.socket:
    sock = socket.create_connection((host, int(port)), timeout=_remaining(deadline))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def _recv_all(sock: socket.socket, deadline: float, limit: int = MAX_REPLY_BYTES) -> bytes:
    buf = bytearray()
    while len(buf) < limit:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------- kafka
KAFKA_API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
                   9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 18: "ApiVersions"}
KAFKA_ERRORS = {35: "UNSUPPORTED_VERSION", 5: "LEADER_NOT_AVAILABLE", 6: "NOT_LEADER_OR_FOLLOWER"}
_CLIENT_ID = b"runbook-probe"


class _KafkaReader:
    """Big-endian reader over one response; a short or malformed reply raises ProbeDown."""

    def __init__(self, data: bytes) -> None:
        self.data, self.i = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.i + size > len(self.data):
            raise ProbeDown("malformed Kafka response (truncated): not a Kafka broker?")
        out = struct.unpack_from(fmt, self.data, self.i)
        self.i += size
        return out

    def string(self) -> str | None:
        (n,) = self.take(">h")
        if n < 0:
            return None
        if self.i + n > len(self.data):
            raise ProbeDown("malformed Kafka response (string): not a Kafka broker?")
        s = self.data[self.i:self.i + n].decode("utf-8", errors="replace")
        self.i += n
        return s

    def count(self, limit: int = 10000) -> int:
        (n,) = self.take(">i")
        if n < -1 or n > limit:
            raise ProbeDown(f"malformed Kafka response (array of {n}): not a Kafka broker?")
        return max(n, 0)


def _kafka_call(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes,
                deadline: float) -> _KafkaReader:
    """One request (header v1: api_key, api_version, correlation_id, client_id) → response body reader."""
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    msg = header + body
    sock.settimeout(_remaining(deadline))
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4, deadline))
    if size < 4 or size > 16 * 1024 * 1024:
        raise ProbeDown(f"reply is not a Kafka frame (size {size}): wrong port, or not a Kafka broker?")
    data = _recv_exact(sock, size, deadline)
    (cid,) = struct.unpack_from(">i", data)
    if cid != correlation_id:
        raise ProbeDown(f"Kafka reply has correlation id {cid}, expected {correlation_id}: not a Kafka broker?")
    r = _KafkaReader(data)
    r.i = 4
    return r


def kafka_api_versions(sock: socket.socket, deadline: float) -> tuple[int, dict[int, tuple[int, int]]]:
    """ApiVersions v0 → (error_code, {api_key: (min, max)})."""
    r = _kafka_call(sock, 18, 0, 1, b"", deadline)
    (error_code,) = r.take(">h")
    n = r.count(1000)
    apis = {}
    for _ in range(n):
        key, lo, hi = r.take(">hhh")
        apis[key] = (lo, hi)
    if r.i != len(r.data):
        raise ProbeDown("ApiVersions reply has trailing bytes: not a Kafka broker?")
    return error_code, apis


def kafka_metadata(sock: socket.socket, deadline: float) -> tuple[list[dict], int]:
    """Metadata v1 with no topics → (brokers, controller_id)."""
    r = _kafka_call(sock, 3, 1, 2, struct.pack(">i", 0), deadline)
    brokers = []
    for _ in range(r.count()):
        (node_id,) = r.take(">i")
        host = r.string()
        (port,) = r.take(">i")
        rack = r.string()
        brokers.append({"node_id": node_id, "host": host, "port": port, "rack": rack})
    (controller_id,) = r.take(">i")
    return brokers, controller_id


@register("kafka")
def probe_kafka(spec: ProbeSpec) -> ProbeOutcome:
    """Kafka: ApiVersions v0 over the wire protocol, then Metadata v1 (brokers, controller)."""
    if not spec.port:
        raise ProbeUnknown("no port to probe: add one in runbook.yaml")
    deadline = time.monotonic() + spec.timeout_s
    with _connect(spec.host, spec.port, deadline) as sock:
        error_code, apis = kafka_api_versions(sock, deadline)
        if error_code != 0:
            name = KAFKA_ERRORS.get(error_code, str(error_code))
            return ProbeOutcome("degraded", reply=f"ApiVersions error {name}",
                                error=f"broker answered ApiVersions with error {name}")
        reply = f"ApiVersions ok ({len(apis)} APIs)"
        lo, hi = apis.get(3, (0, -1))
        if not lo <= 1 <= hi:
            return ProbeOutcome("up", reply=reply + "; Metadata v1 unsupported")
        brokers, controller = kafka_metadata(sock, deadline)
    detail = [{"component": f"broker {b['node_id']}", "status": "up", "message": f"{b['host']}:{b['port']}"}
              for b in brokers]
    reply += f", {len(brokers)} broker(s), controller {controller}"
    if controller < 0:
        return ProbeOutcome("degraded", reply=reply, detail=detail,
                            error="no active controller: the cluster cannot elect leaders (check ZooKeeper/KRaft)")
    return ProbeOutcome("up", reply=reply, detail=detail)


# ---------------------------------------------------------------- zookeeper
_ZK_SERVING = ("standalone", "leader", "follower", "observer")


def zk_four_letter(host: str, port: int, word: str, deadline: float) -> str:
    """Send a four-letter word; the server answers and closes the connection."""
    with _connect(host, port, deadline) as sock:
        sock.sendall(word.encode("ascii"))
        return _recv_all(sock, deadline).decode("utf-8", errors="replace")


def _zk_exec(spec: ProbeSpec, word: str, deadline: float) -> str:
    client = probes.engine_client()
    if client is None or not spec.container:
        raise ProbeUnknown("port not published and no container/engine to probe from inside")
    if "nc" not in probes.detect_tools(spec.container, client):
        raise ProbeUnknown("port not published and the image has no nc to send four-letter words from inside")
    host = str(spec.options.get("exec_host", "127.0.0.1"))
    t = max(1, int(_remaining(deadline)))
    _, out = probes._exec(client, spec.container,
                          ["sh", "-c", f"printf {word} | nc -w {t} {host} {int(spec.port)}"], spec.timeout_s)
    return out


def parse_srvr(text: str) -> dict[str, str]:
    """``srvr`` output → {"Mode": …, "Latency min/avg/max": …, …}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


@_exec_kind("zookeeper")
def probe_zookeeper(spec: ProbeSpec) -> ProbeOutcome:
    """ZooKeeper ``ruok`` → ``imok`` and ``srvr`` (mode, latency); words not whitelisted → not down."""
    if not spec.port:
        raise ProbeUnknown("no port to probe: add one in runbook.yaml")
    deadline = time.monotonic() + spec.timeout_s
    via = spec.via

    def ask(word: str) -> str:
        if via == "exec":
            return _zk_exec(spec, word, deadline)
        return zk_four_letter(spec.host, int(spec.port), word, deadline)

    ruok = ask("ruok").strip()
    ruok_blocked = "not in the whitelist" in ruok
    if ruok and ruok != "imok" and not ruok_blocked and "not currently serving" not in ruok:
        raise ProbeDown(f"ruok answered {ruok[:40]!r}, not 'imok': not ZooKeeper?")
    srvr = ask("srvr")
    srvr_blocked = "not in the whitelist" in srvr
    info = parse_srvr(srvr)
    mode = info.get("Mode", "").lower()
    detail = []
    if info:
        detail.append({"component": "server", "status": mode or "?",
                       "message": ", ".join(f"{k} {info[k]}" for k in
                                            ("Latency min/avg/max", "Outstanding", "Node count", "Connections")
                                            if k in info)})
    out_via = "exec" if via == "exec" else "host"
    if "not currently serving" in srvr or "not currently serving" in ruok:
        return _outcome("down", "not serving", via=out_via,
                        error="ZooKeeper runs but is not serving requests (no quorum?)")
    if mode in _ZK_SERVING:
        reply = f"{'imok' if ruok == 'imok' else 'ruok not whitelisted'}, mode {mode}"
        if "Latency min/avg/max" in info:
            reply += f", latency {info['Latency min/avg/max']} ms"
        return _outcome("up", reply, via=out_via, detail=detail)
    if mode == "read-only":
        return _outcome("degraded", "mode read-only", via=out_via, detail=detail,
                        error="read-only: partitioned from the quorum")
    if ruok == "imok" and srvr_blocked:
        return _outcome("up", "imok (srvr not whitelisted)", via=out_via)
    if ruok_blocked and srvr_blocked:
        return _outcome("degraded", "4lw not whitelisted", via=out_via,
                        error="ZooKeeper answered but ruok/srvr are not whitelisted: add "
                              "4lw.commands.whitelist=ruok,srvr (ZOOKEEPER_4LW_COMMANDS_WHITELIST)")
    if not ruok and not srvr:
        raise ProbeDown("connection closed with no reply to ruok/srvr: not ZooKeeper, or not serving")
    if srvr.strip() and not info:
        raise ProbeDown(f"srvr answered {srvr.strip()[:40]!r}: not ZooKeeper?")
    return _outcome("degraded", f"imok, mode {mode or '?'}", via=out_via, detail=detail,
                    error="srvr did not report a serving mode")


# ---------------------------------------------------------------- rabbitmq (management API, AMQP)
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def _amqp_table(data: bytes) -> dict[str, Any]:
    """Decode the string fields of an AMQP field table (enough for product/version)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(data):
        n = data[i]
        key = data[i + 1:i + 1 + n].decode("utf-8", errors="replace")
        i += 1 + n
        t = data[i:i + 1]
        i += 1
        if t == b"S":
            (ln,) = struct.unpack_from(">I", data, i)
            out[key] = data[i + 4:i + 4 + ln].decode("utf-8", errors="replace")
            i += 4 + ln
        elif t == b"F":
            (ln,) = struct.unpack_from(">I", data, i)
            i += 4 + ln
        elif t in (b"t", b"b", b"B"):
            i += 1
        elif t in (b"s", b"u"):
            i += 2
        elif t in (b"I", b"i", b"f"):
            i += 4
        elif t in (b"l", b"L", b"d", b"T"):
            i += 8
        else:
            break
    return out


def amqp_handshake(host: str, port: int, deadline: float) -> dict[str, Any]:
    """Send the AMQP 0-9-1 protocol header; expect a Connection.Start frame → server properties."""
    with _connect(host, port, deadline) as sock:
        sock.sendall(AMQP_HEADER)
        head = _recv_exact(sock, 7, deadline)
        if head.startswith(b"AMQP"):
            rest = head[4:] + _recv_exact(sock, 1, deadline)
            raise ProbeDown(f"broker refused AMQP 0-9-1 and offered protocol {tuple(rest)}")
        ftype, channel, size = struct.unpack(">BHI", head)
        if ftype != 1 or channel != 0 or not 4 <= size <= MAX_REPLY_BYTES:
            raise ProbeDown("reply is not an AMQP method frame: not the AMQP port, or not RabbitMQ?")
        payload = _recv_exact(sock, size + 1, deadline)
    if payload[-1:] != b"\xce":
        raise ProbeDown("AMQP frame without frame-end marker: not an AMQP broker?")
    class_id, method_id, major, minor = struct.unpack_from(">HHBB", payload)
    if (class_id, method_id) != (10, 10):
        raise ProbeDown(f"first AMQP method is {class_id}.{method_id}, not Connection.Start")
    props: dict[str, Any] = {}
    try:
        (tlen,) = struct.unpack_from(">I", payload, 6)
        props = _amqp_table(payload[10:10 + tlen])
    except (struct.error, IndexError):
        props = {}
    props["protocol"] = f"{major}-{minor}-1" if (major, minor) == (0, 9) else f"{major}-{minor}"
    return props


@_exec_kind("rabbitmq")
def probe_rabbitmq(spec: ProbeSpec) -> ProbeOutcome:
    """RabbitMQ management ``/api/health/checks/alarms``; falls back to an AMQP header check.

    ``spec.port`` is the management port (15672); ``options["amqp_port"]`` the AMQP port
    (5672) for the fallback, or ``options["protocol"] = "amqp"`` to check AMQP only.
    """
    deadline = time.monotonic() + spec.timeout_s
    amqp_port = spec.options.get("amqp_port")
    amqp_only = spec.options.get("protocol") == "amqp" or (amqp_port and int(amqp_port) == spec.port)
    note = None
    if spec.port and not amqp_only:
        auth = None if spec.via == "exec" else (_auth(spec) or ("guest", "guest"))
        budget = deadline if not amqp_port or spec.via == "exec" else time.monotonic() + spec.timeout_s / 2
        try:
            r = http_get(spec, _path(spec, "/api/health/checks/alarms"), auth=auth, deadline=budget)
            if r.status == 200:
                return _outcome("up", "management API: no alarms", via=r.via)
            if r.status == 503:
                data = r.json("RabbitMQ management API")
                alarms = data.get("alarms") if isinstance(data, Mapping) else None
                detail = [{"component": f"alarm {a.get('resource', '?')}", "status": "down",
                           "message": a.get("node")} for a in (alarms or []) if isinstance(a, Mapping)]
                reason = data.get("reason") if isinstance(data, Mapping) else None
                return _outcome("degraded", "alarms in effect", via=r.via, detail=detail,
                                error=f"{reason or 'alarms in effect'}: publishers are blocked")
            note = f"management API HTTP {r.status}" + (
                " (credentials refused: check RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS)" if r.status == 401 else "")
        except (ProbeDown, OSError) as exc:  # TimeoutError and refused are OSErrors
            note = f"management API: {exc or type(exc).__name__}"
        if not amqp_port or spec.via == "exec":
            if note and "HTTP 401" in note:
                if spec.via == "exec" or not spec.options.get("password"):
                    raise ProbeUnknown("missing credentials: the management API needs RABBITMQ_DEFAULT_USER/PASS "
                                       "(not sent through docker exec)")
                raise ProbeDown("authentication failed: check RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS")
            raise ProbeDown(note or "management API gave no answer")
    port = int(amqp_port or spec.port or 5672)
    if spec.via == "exec":
        raise ProbeUnknown("port not published: the AMQP check runs only on a published port")
    props = amqp_handshake(spec.host, port, deadline)
    reply = f"AMQP {props['protocol']} Connection.Start ({props.get('product', '?')} {props.get('version', '')})".strip()
    if note:
        reply += f"; {note}"
    return ProbeOutcome("up", reply=reply, target=f"{spec.host}:{port}" if amqp_port and not amqp_only else None)


# ---------------------------------------------------------------- temporal (gRPC health)
GRPC_HEALTH_METHOD = "/grpc.health.v1.Health/Check"
TEMPORAL_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
_HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def encode_health_request(service: str) -> bytes:
    """HealthCheckRequest{string service = 1} in protobuf wire format."""
    if not service:
        return b""
    data = service.encode()
    length, varint = len(data), bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(varint) + data


def decode_health_response(data: bytes) -> int:
    """HealthCheckResponse{ServingStatus status = 1} → the status number (0 when absent)."""
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        value, shift = 0, 0
        if tag & 0x07 == 0:  # varint
            while i < len(data):
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if tag >> 3 == 1:
                return value
        else:
            raise ProbeDown("gRPC health reply is not a HealthCheckResponse")
    return 0


@register("temporal")
def probe_temporal(spec: ProbeSpec) -> ProbeOutcome:
    """Temporal frontend: gRPC ``grpc.health.v1.Health/Check`` (WorkflowService, then ""); TCP if unimplemented."""
    import grpc
    if not spec.port:
        raise ProbeUnknown("no port to probe: add one in runbook.yaml")
    deadline = time.monotonic() + spec.timeout_s
    services = [s for s in (spec.options.get("grpc_service", TEMPORAL_SERVICE), "") if s is not None]
    channel = grpc.insecure_channel(f"{spec.host}:{spec.port}",
                                    options=[("grpc.enable_retries", 0), ("grpc.max_receive_message_length", 65536)])
    try:
        check = channel.unary_unary(GRPC_HEALTH_METHOD)  # no serializers: bytes in, bytes out
        for service in dict.fromkeys(services):
            try:
                raw = check(encode_health_request(service), timeout=_remaining(deadline))
            except grpc.RpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.NOT_FOUND:
                    continue
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    with _connect(spec.host, spec.port, deadline):
                        pass
                    return ProbeOutcome("up", reply="gRPC health service not implemented; TCP connect ok")
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise TimeoutError("timeout") from None
                details = (exc.details() or "").strip()
                if "refused" in details.lower():
                    raise ConnectionRefusedError("connection refused") from None
                raise ProbeDown(f"not a plaintext gRPC server (wrong port, or TLS enabled?): gRPC {code.name}: "
                                f"{details.rpartition('UNAVAILABLE: ')[2][:150]}") from None
            status = decode_health_response(raw)
            name = _HEALTH_STATUS.get(status, str(status))
            label = service or "server"
            detail = [{"component": label, "status": name, "message": None}]
            if status == 1:
                return ProbeOutcome("up", reply=f"{label}: SERVING", detail=detail)
            if status == 2:
                return ProbeOutcome("down", reply=f"{label}: NOT_SERVING", detail=detail,
                                    error="frontend reports NOT_SERVING")
            if status == 3:
                continue
            return ProbeOutcome("degraded", reply=f"{label}: {name}", detail=detail,
                                error=f"health status {name}")
        return ProbeOutcome("degraded", reply="no health status for the frontend service",
                            error="gRPC health knows neither the WorkflowService nor the server")
    finally:
        channel.close()


PROTOCOL_KINDS = tuple(KIND_INFO)
