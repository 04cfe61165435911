"""Protocol-faithful stand-in servers for the probe kinds with no Debian server.

Each listens on 127.0.0.1 on a random port, answers only what the probes use, and
is written from the protocol's own documentation:

- ``KafkaStandin``: Kafka wire protocol (kafka.apache.org/protocol): size-prefixed
  frames, request header v1 (api_key, api_version, correlation_id, client_id),
  ApiVersions v0 (key 18) and Metadata v1 (key 3); response header v0.
- ``HttpStandin``: an HTTP/1.1 server with a mutable route table, used for the
  Elasticsearch, ClickHouse, Traefik, MinIO, EventStore, Prometheus, Grafana,
  OpenTelemetry collector and RabbitMQ management shapes (see ``*_routes``).
- ``AmqpStandin``: AMQP 0-9-1 (amqp0-9-1.pdf, section 4.2): the client sends the
  protocol header ``AMQP\\x00\\x00\\x09\\x01``, the server answers with a
  Connection.Start method frame (or with its own header and closes on a mismatch).
- ``GrpcHealthStandin``: a real ``grpc.server`` with a generic handler serving
  ``/grpc.health.v1.Health/Check`` (grpc/health/v1/health.proto), messages encoded
  by hand (protobuf wire format: field 1, varint/length-delimited).

Every server has a ``mode``: ``ok`` (faithful), ``garbage`` (bytes that are not the
protocol), ``silent`` (accepts, never answers); some have more (see each class).
"""
from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

GARBAGE = b"\x17\x03\x03\x00\x10 this is not the protocol you are looking for \xff\xfe\r\n\r\n"


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    """Start on 127.0.0.1:0 in a daemon thread; ``stop()`` closes it."""

    def __init__(self) -> None:
        self.mode = "ok"
        self._stop = threading.Event()
        self.requests: list[Any] = []

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _silent(self, sock: socket.socket) -> None:
        """Accept and never answer, until the client gives up or the server stops."""
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if sock.recv(4096) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return


# --------------------------------------------------------------------------- Kafka
def _kstr(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class KafkaStandin(_Base):
    """A one-broker Kafka answering ApiVersions v0 and Metadata v1.

    Modes: ``ok``; ``no-controller`` (Metadata says controller_id -1);
    ``api-error`` (ApiVersions error_code 35, UNSUPPORTED_VERSION); ``garbage``; ``silent``.
    """

    # a 0.10-era broker: Produce 0-2, Fetch 0-3, Metadata 0-1, ApiVersions 0 only
    API_RANGES = [(0, 0, 2), (1, 0, 3), (3, 0, 1), (18, 0, 0)]

    def __init__(self, node_id: int = 1) -> None:
        super().__init__()
        self.node_id = node_id
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:  # noqa: D401 - socketserver API
                outer._serve(self.request)

        self._server = _TcpServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _serve(self, sock: socket.socket) -> None:
        while True:
            head = self._recv_exact(sock, 4)
            if head is None:
                return
            (size,) = struct.unpack(">i", head)
            if size < 8 or size > 1 << 20:
                return
            payload = self._recv_exact(sock, size)
            if payload is None:
                return
            api_key, api_version, correlation_id = struct.unpack(">hhi", payload[:8])
            self.requests.append((api_key, api_version))
            if self.mode == "silent":
                self._silent(sock)
                return
            if self.mode == "garbage":
                sock.sendall(GARBAGE)
                return
            if api_key == 18:
                # unsupported ApiVersions version: error 35 + our ranges, always in the v0 format (KIP-511)
                body = self._api_versions(unsupported=api_version > 0)
            elif api_key == 3 and api_version in (0, 1):
                body = self._metadata(api_version)
            else:
                return  # a real broker closes on requests it cannot parse
            msg = struct.pack(">i", correlation_id) + body
            sock.sendall(struct.pack(">i", len(msg)) + msg)

    def _api_versions(self, unsupported: bool = False) -> bytes:
        error_code = 35 if self.mode == "api-error" or unsupported else 0
        out = struct.pack(">hi", error_code, len(self.API_RANGES))
        for key, lo, hi in self.API_RANGES:
            out += struct.pack(">hhh", key, lo, hi)
        return out

    def _metadata(self, version: int) -> bytes:
        out = struct.pack(">i", 1) + struct.pack(">i", self.node_id) + _kstr("localhost") + struct.pack(">i", self.port)
        if version >= 1:
            out += _kstr(None)  # rack
            controller = -1 if self.mode == "no-controller" else self.node_id
            out += struct.pack(">i", controller)
        out += struct.pack(">i", 0)  # topics: none requested
        return out


# --------------------------------------------------------------------------- HTTP
Route = tuple[int, str, bytes | str | dict, float]  # status, content type, body, delay_s


class HttpStandin(_Base):
    """HTTP/1.1 server with a mutable route table: ``routes[path] = (status, ctype, body, delay_s)``.

    Modes: ``ok`` (serve routes; unknown path 404); ``garbage`` (non-HTTP bytes);
    ``silent`` (never answers). ``auth = (user, password)`` requires Basic auth (401 otherwise).
    A route body may be a callable taking the handler and returning a route.
    """

    def __init__(self, routes: dict[str, Route | Callable[..., Route]] | None = None, tls: bool = False) -> None:
        super().__init__()
        self.routes: dict[str, Any] = dict(routes or {})
        self.tls = tls
        self.auth: tuple[str, str] | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                outer._serve(self)

            do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls:  # like Elasticsearch 8 with security on: HTTPS only, plaintext gets the door closed
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self_signed_cert())
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append((h.path, h.headers.get("Authorization")))
        if self.mode == "silent":
            self._silent(h.connection)
            h.close_connection = True
            return
        if self.mode == "garbage":
            h.wfile.write(GARBAGE)
            h.close_connection = True
            return
        if self.auth is not None:
            import base64
            want = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            if h.headers.get("Authorization") != want:
                self._send(h, 401, "application/json", {"error": "unauthorized"})
                return
        path = h.path.split("?", 1)[0]
        route = self.routes.get(path)
        if callable(route):
            route = route(h)
        if route is None:
            self._send(h, 404, "text/plain", "404 page not found\n")
            return
        status, ctype, body, delay_s = route
        if delay_s:
            if self._stop.wait(delay_s):
                return
        self._send(h, status, ctype, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, ctype: str, body: Any) -> None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        try:
            h.send_response(status)
            if status != 204:
                h.send_header("Content-Type", ctype)
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if status != 204 and h.command != "HEAD":
                h.wfile.write(data)
        except OSError:
            pass


_CERT: tuple[str, str] | None = None


def self_signed_cert() -> tuple[str, str]:
    """(cert, key) paths of a throw-away self-signed certificate for 127.0.0.1 (openssl CLI)."""
    global _CERT
    if _CERT is None:
        import subprocess
        import tempfile
        d = tempfile.mkdtemp(prefix="rb-tls-")
        cert, key = f"{d}/cert.pem", f"{d}/key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        _CERT = (cert, key)
    return _CERT


# Route tables of each service shape, from the services' documentation.
def es_health(status: str = "green", **extra: Any) -> dict:
    """Elasticsearch ``GET /_cluster/health`` body for a colour."""
    body = {"cluster_name": "docker-cluster", "status": status, "timed_out": False,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 12,
            "active_shards": 12, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": {"green": 0, "yellow": 5, "red": 7}.get(status, 0),
            "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": {"green": 100.0, "yellow": 70.6, "red": 41.2}.get(status, 0.0)}
    body.update(extra)
    return body


def es_routes(status: str = "green") -> dict[str, Route]:
    # ES answers 200 for every colour (408 only when a wait_for_status times out)
    return {"/_cluster/health": (200, "application/json", es_health(status), 0.0),
            "/": (200, "application/json", {"name": "es01", "cluster_name": "docker-cluster",
                                             "version": {"number": "8.11.1"}, "tagline": "You Know, for Search"}, 0.0)}


def clickhouse_routes() -> dict[str, Route]:
    return {"/ping": (200, "text/html; charset=UTF-8", "Ok.\n", 0.0)}


def traefik_routes(ping: bool = True) -> dict[str, Route]:
    r: dict[str, Route] = {"/api/version": (200, "application/json", {"Version": "3.5.0", "Codename": "chabichou"}, 0.0)}
    if ping:
        r["/ping"] = (200, "text/plain; charset=utf-8", "OK", 0.0)
    return r


def minio_routes(cluster_ok: bool = True) -> dict[str, Route]:
    return {"/minio/health/live": (200, "text/plain", b"", 0.0),
            "/minio/health/cluster": ((200 if cluster_ok else 503), "text/plain", b"", 0.0)}


def eventstore_routes() -> dict[str, Route]:
    return {"/health/live": (204, "text/plain", b"", 0.0)}


def prometheus_routes(ready: bool = True) -> dict[str, Route]:
    return {"/-/healthy": (200, "text/plain; charset=utf-8", "Prometheus Server is Healthy.\n", 0.0),
            "/-/ready": ((200, "text/plain; charset=utf-8", "Prometheus Server is Ready.\n", 0.0) if ready
                         else (503, "text/plain; charset=utf-8", "Service Unavailable", 0.0))}


def grafana_routes(database: str = "ok") -> dict[str, Route]:
    body = {"commit": "895fbafb7a", "database": database, "version": "10.2.0"}
    return {"/api/health": ((200 if database == "ok" else 503), "application/json", body, 0.0)}


def otel_routes(available: bool = True) -> dict[str, Route]:
    if available:
        body = {"status": "Server available", "upSince": "2026-11-27T00:00:00.000000000Z", "uptime": "1h2m3s"}
        return {"/": (200, "application/json", body, 0.0)}
    return {"/": (503, "application/json", {"status": "Server not available", "upSince": "0001-01-01T00:00:00Z",
                                           "uptime": ""}, 0.0)}


def rabbitmq_routes(alarms: bool = False) -> dict[str, Route]:
    if alarms:
        body = {"status": "failed", "reason": "There are alarms in effect in the cluster",
                "alarms": [{"node": "rabbit@rabbitmq", "resource": "disk"}]}
        return {"/api/health/checks/alarms": (503, "application/json", body, 0.0)}
    return {"/api/health/checks/alarms": (200, "application/json", {"status": "ok"}, 0.0)}


# --------------------------------------------------------------------------- AMQP
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def _shortstr(s: str) -> bytes:
    b = s.encode()
    return bytes([len(b)]) + b


def _longstr(b: bytes | str) -> bytes:
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b


def connection_start_frame(product: str = "RabbitMQ", version: str = "3.12.14") -> bytes:
    """The AMQP 0-9-1 Connection.Start method frame a broker sends after the header."""
    table = b"".join(_shortstr(k) + b"S" + _longstr(v) for k, v in
                     (("product", product), ("version", version), ("platform", "Erlang/OTP 26")))
    args = struct.pack(">HHBB", 10, 10, 0, 9) + _longstr(table) + _longstr("PLAIN AMQPLAIN") + _longstr("en_US")
    return struct.pack(">BHI", 1, 0, len(args)) + args + b"\xce"


class AmqpStandin(_Base):
    """An AMQP 0-9-1 broker up to Connection.Start. Modes: ok, garbage, silent."""

    def __init__(self) -> None:
        super().__init__()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        self._server = _TcpServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        data = b""
        try:
            while len(data) < 8:
                chunk = sock.recv(8 - len(data))
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        self.requests.append(data)
        if self.mode == "silent":
            self._silent(sock)
            return
        if self.mode == "garbage":
            sock.sendall(GARBAGE)
            return
        if data != AMQP_HEADER:
            sock.sendall(AMQP_HEADER)  # spec: reply with the supported header, then close
            return
        sock.sendall(connection_start_frame())
        time.sleep(0.05)


# --------------------------------------------------------------------------- gRPC health
SERVING, NOT_SERVING, SERVICE_UNKNOWN = 1, 2, 3


def _decode_service(request: bytes) -> str:
    """HealthCheckRequest{string service = 1} from protobuf wire bytes."""
    i, service = 0, ""
    while i < len(request):
        tag = request[i]
        i += 1
        if tag == 0x0A:
            length, shift = 0, 0
            while True:
                b = request[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            service = request[i:i + length].decode()
            i += length
        else:
            break
    return service


class GrpcHealthStandin:
    """A Temporal-frontend-like gRPC server serving only grpc.health.v1.Health/Check.

    ``statuses`` maps a service name to SERVING / NOT_SERVING; a name not in it
    gets NOT_FOUND, as grpc's reference health servicer does. ``implement=False``
    serves no health service (UNIMPLEMENTED).
    """

    WORKFLOW_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"

    def __init__(self, implement: bool = True) -> None:
        import grpc

        self.statuses: dict[str, int] = {"": SERVING, self.WORKFLOW_SERVICE: SERVING}
        self.requests: list[str] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        if implement:
            def check(request: bytes, context: Any) -> bytes:
                service = _decode_service(request)
                self.requests.append(service)
                if service not in self.statuses:
                    context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
                return b"\x08" + bytes([self.statuses[service]])  # field 1, varint

            handler = grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health",
                {"Check": grpc.unary_unary_rpc_method_handler(check)})  # bytes in, bytes out
            self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop(grace=None)


class BannerServer(_Base):
    """Sends ``banner`` (default: garbage) the moment a client connects, then closes: a wrong service."""

    def __init__(self, banner: bytes = GARBAGE) -> None:
        super().__init__()
        self.banner = banner
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    self.request.sendall(outer.banner)
                except OSError:
                    pass

        self._server = _TcpServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ZkFourLetterStandin(_Base):
    """ZooKeeper four-letter-word replies for states the real server cannot be put in on demand.

    ``mode``: ``blocked`` (every word "is not executed because it is not in the whitelist",
    as ZooKeeper 3.4.10+ answers with a restrictive ``4lw.commands.whitelist``) or
    ``not-serving`` (what a server without quorum answers). ZooKeeper reads the four bytes,
    answers, and closes the connection. The real server is used for the serving states.
    """

    def __init__(self, mode: str = "blocked") -> None:
        super().__init__()
        self.mode = mode
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                word = b""
                self.request.settimeout(5)
                try:
                    while len(word) < 4:
                        chunk = self.request.recv(4 - len(word))
                        if not chunk:
                            return
                        word += chunk
                    outer.requests.append(word.decode())
                    if outer.mode == "not-serving" and word != b"ruok":
                        reply = b"This ZooKeeper instance is not currently serving requests\n"
                    elif outer.mode == "not-serving":
                        reply = b"imok"
                    else:
                        reply = word + b" is not executed because it is not in the whitelist.\n"
                    self.request.sendall(reply)
                except OSError:
                    pass

        self._server = _TcpServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
