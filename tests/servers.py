"""Real servers for tests, all on 127.0.0.1 random ports, started and stopped by fixtures.

Reuse them from any test module with ``from servers import *  # noqa`` in conftest or
``pytest_plugins = ["servers"]``; conftest.py already puts tests/ on sys.path.

- ``postgres_server``: a real PostgreSQL 15 (Debian binaries) with scram password auth;
  ``.user``, ``.password``, ``.dbname``, ``.port``.
- ``redis_server``: a real redis-server with ``--requirepass``; ``.password``, ``.port``.
- ``http_stub``: an HTTP server with Terminus bodies, slow answers, 500s and garbage;
  ``.port``, ``.url(path)``, ``.routes`` (path → Route) you may extend per test.
- ``tcp_blackhole``: a listening port whose accept queue is full: connects hang
  (SYNs dropped) until the client's timeout; ``.port``.
- ``silent_server``: accepts TCP connections and never answers (a PostgreSQL that
  accepts and never speaks); ``.port``.
- ``LocalServer``: a base for raw HTTP servers (unix socket or TCP), one thread per
  connection; subclasses write ``_serve(conn, n)``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("RUNBOOK_PG_BIN", "/usr/lib/postgresql/15/bin"))
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until 127.0.0.1:port accepts connections (or the process died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} did not open in {timeout_s}s")


def _stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)


# ---------------------------------------------------------------- PostgreSQL
@dataclass
class PgServer:
    port: int
    user: str
    password: str
    dbname: str
    host: str = HOST


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL on 127.0.0.1 with password (scram) auth; stopped at session end."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}: apt-get install postgresql-15")
    base = Path(tempfile.mkdtemp(prefix="rb-pg-"))
    data = base / "data"
    password = "pg-" + secrets.token_hex(8)
    user, dbname = "runbook", "runbook"
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    os.chmod(pwfile, 0o600)
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
                                 "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    proc = subprocess.Popen(_as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                          "-h", HOST, "-k", str(base), "-c", "fsync=off",
                                          "-c", "max_connections=60", "-c", "shared_buffers=16MB"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 60, proc)
        # the port opens before startup finishes: wait for a real answer
        deadline = time.monotonic() + 30
        import psycopg
        while True:
            try:
                psycopg.connect(host=HOST, port=port, user=user, password=password, dbname="postgres",
                                connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield PgServer(port=port, user=user, password=password, dbname="postgres")
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- Redis
@dataclass
class RedisServer:
    port: int
    password: str
    host: str = HOST


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on 127.0.0.1 with --requirepass; stopped at session end."""
    exe = shutil.which("redis-server")
    if not exe:
        pytest.fail("redis-server not found: apt-get install redis-server")
    password = "rd-" + secrets.token_hex(8)
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="rb-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", HOST, "--requirepass", password,
                             "--save", "", "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 30, proc)
        yield RedisServer(port=port, password=password)
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- HTTP
@dataclass
class Route:
    status: int = 200
    body: bytes | str | dict = b""
    delay_s: float = 0.0
    content_type: str = "application/json"


TERMINUS_OK = {"status": "ok",
               "info": {"database": {"status": "up"}, "redis": {"status": "up"}, "memory_heap": {"status": "up"}},
               "error": {},
               "details": {"database": {"status": "up"}, "redis": {"status": "up"}, "memory_heap": {"status": "up"}}}
TERMINUS_PARTIAL = {"status": "error",
                    "info": {"database": {"status": "up"}},
                    "error": {"kafka": {"status": "down", "message": "Connection timeout"}},
                    "details": {"database": {"status": "up"},
                                "kafka": {"status": "down", "message": "Connection timeout"}}}
TERMINUS_ALL_DOWN = {"status": "error", "info": {},
                     "error": {"database": {"status": "down", "message": "ECONNREFUSED"}},
                     "details": {"database": {"status": "down", "message": "ECONNREFUSED"}}}


def default_routes() -> dict[str, Route]:
    return {
        "/health": Route(200, TERMINUS_OK),
        "/api/v1/health": Route(503, TERMINUS_PARTIAL),
        "/health/down": Route(503, TERMINUS_ALL_DOWN),
        "/plain": Route(200, {"status": "ok", "service": "master-data", "version": "1.0.0"}),
        "/slow": Route(200, {"status": "ok"}, delay_s=30.0),
        "/500": Route(500, "Internal Server Error", content_type="text/plain"),
        "/garbage": Route(200, b"\x00\xff\xfe{not json <script>alert(1)</script>", content_type="application/json"),
        "/cluster/yellow": Route(200, {"status": "yellow", "number_of_nodes": 1}),
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs under a concurrent round (1 s retransmit)


class HttpStub:
    """ThreadingHTTPServer on 127.0.0.1 answering from ``routes`` (404 otherwise)."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes = routes if routes is not None else default_routes()
        self.hits: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                stub.hits.append(path)
                route = stub.routes.get(path)
                if route is None:
                    route = Route(404, {"statusCode": 404, "message": f"Cannot GET {path}"})
                if route.delay_s:
                    time.sleep(route.delay_s)
                body = route.body
                if isinstance(body, dict):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = _Server((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self) -> HttpStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_stub():
    """An HTTP server with Terminus, slow, 500 and garbage routes (per test, editable)."""
    stub = HttpStub().start()
    try:
        yield stub
    finally:
        stub.stop()


# ---------------------------------------------------------------- TCP blackhole / silent server
class TcpBlackhole:
    """A listening socket (backlog 0) whose accept queue is filled: further SYNs are dropped."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(2):
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect((HOST, self.port))
            except OSError:
                c.close()
                break
            self.fillers.append(c)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()


@pytest.fixture
def tcp_blackhole():
    """A port where TCP connects hang until the client's timeout."""
    bh = TcpBlackhole()
    try:
        yield bh
    finally:
        bh.close()


class SilentServer:
    """Accepts connections and never sends a byte (holds them open until closed)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent_server():
    """A PostgreSQL-lookalike that accepts TCP connections and never answers."""
    s = SilentServer()
    try:
        yield s
    finally:
        s.close()


class LocalServer:
    """A tiny HTTP server on a unix socket or 127.0.0.1: one thread per connection, stops itself."""

    def __init__(self, family: int = socket.AF_INET, address=(HOST, 0)) -> None:
        self.srv = socket.socket(family, socket.SOCK_STREAM)
        self.srv.bind(address)
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.stop = threading.Event()
        self.requests = self.connections = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            n, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://{HOST}:{self.srv.getsockname()[1]}"

    def _serve(self, conn: socket.socket, n: int) -> None:
        """Answer connection number ``n`` (0 for the first)."""
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()
        self.srv.close()
        self.thread.join(5)
