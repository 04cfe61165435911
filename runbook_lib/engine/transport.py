"""The keep-alive engine transport: lean HTTP calls with a total deadline per call.

docker-py spends ~1.3 ms of Python per request (requests + urllib3). One httpcore
connection to the same socket spends ~0.2 ms, which is what lets a full inventory (list +
one inspect per container) beat ``docker ps -aq | xargs docker inspect``. Used for
``unix://`` and plain ``tcp://`` engines; anything else (ssh, TLS) goes through docker-py.

Every call has a total deadline, not only a per-read timeout: the network backend clamps
each connect, write and read to the time the call has left, so a server that trickles its
body one byte at a time still fails at the deadline with ``EngineTimeout``.
"""
from __future__ import annotations

import http.client as http_client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpcore

from runbook_lib.exceptions import EngineNotRunning, EngineTimeout

DEFAULT_TIMEOUT_S = 5.0
_STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError, httpcore.ConnectionNotAvailable)


def socket_path(url: str) -> str | None:
    """The filesystem path of a ``unix://`` engine URL (None for other schemes)."""
    if url.startswith("unix://"):
        return url[len("unix://"):] or "/var/run/docker.sock"
    return None


class _Deadline:
    """The end of the call in progress (monotonic seconds); one call at a time per transport."""

    def __init__(self) -> None:
        self.at = float("inf")

    def left(self, timeout: float | None, exc: type[Exception]) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise exc("the call's deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        raise NotImplementedError("the lean engine transport speaks plain HTTP only")

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sync backend, with every timeout clamped to the call's deadline."""

    def __init__(self, deadline: _Deadline) -> None:
        self._inner, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                                 socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Connection:
    """One keep-alive connection and the deadline of the call it carries."""

    def __init__(self, origin: httpcore.Origin, uds: str | None) -> None:
        self.deadline = _Deadline()
        self.conn = httpcore.HTTPConnection(origin, uds=uds, network_backend=_DeadlineBackend(self.deadline))
        self.used = False

    def usable(self) -> bool:
        return not self.used or (not self.conn.is_closed() and self.conn.is_available())


class EngineHTTP:
    """Engine calls over keep-alive connections, each within ``deadline_s`` (or its own) in total.

    Calls from several threads use up to ``max_connections`` connections at once (the
    inventory inspects concurrently); one thread reuses one connection. ``api_version``
    None sends unversioned paths (``/_ping`` before the version is known).
    """

    def __init__(self, url: str, api_version: str | None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 deadline_s: float | None = None, max_connections: int = 4) -> None:
        self.api_version = api_version
        self.timeout_s = float(timeout_s)
        self.deadline_s = float(deadline_s if deadline_s is not None else timeout_s)
        self.max_connections = max(1, int(max_connections))
        self._uds = socket_path(url)
        if self._uds is not None:
            self._origin = httpcore.Origin(b"http", b"docker", 80)
        elif url.startswith(("tcp://", "http://")):
            hostport = url.split("://", 1)[1].rstrip("/")
            host, _, port = hostport.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"EngineHTTP needs host:port in {url}")
            self._origin = httpcore.Origin(b"http", host.strip("[]").encode(), int(port))
        else:
            raise ValueError(f"EngineHTTP does not handle {url}")
        t = self.timeout_s
        self._extensions = {"timeout": {"connect": t, "read": t, "write": t, "pool": t}}
        self._headers = [(b"Host", b"docker"), (b"Accept", b"application/json")]
        self._idle: list[_Connection] = []
        self._open = 0
        self._cond = threading.Condition()

    def get(self, path: str, params: dict | None = None) -> tuple[int, bytes]:
        """GET /v<api>/<path> within the deadline: (status, body). httpcore's errors propagate."""
        return self.request("GET", path, params)

    def request(self, method: str, path: str, params: dict | None = None, body: Any = None,
                deadline_s: float | None = None) -> tuple[int, bytes]:
        """One call to /v<api>/<path> within ``deadline_s`` (default: the transport's) in total.

        ``body`` is sent as JSON. Reads may wait up to the whole deadline (a restart answers
        only once the container stopped). Retries once on a reused connection that the engine
        had closed meanwhile; httpcore's errors propagate."""
        prefix = f"/v{self.api_version}" if self.api_version else ""
        target = f"{prefix}{path}" + (f"?{urlencode(params)}" if params else "")
        url = httpcore.URL(scheme=b"http", host=self._origin.host, port=self._origin.port, target=target.encode())
        total_s = self.deadline_s if deadline_s is None else float(deadline_s)
        extensions = self._extensions
        if total_s > self.timeout_s:
            extensions = {"timeout": {**self._extensions["timeout"], "read": total_s}}
        headers, content = self._headers, None
        if body is not None or method != "GET":
            content = json.dumps(body).encode() if body is not None else b""
            headers = self._headers + [(b"Content-Type", b"application/json"),
                                       (b"Content-Length", str(len(content)).encode())]
        end = time.monotonic() + total_s
        for attempt in (0, 1):
            c = self._acquire(end)
            reused = c.used
            c.deadline.at, c.used = end, True
            try:
                resp = c.conn.request(method, url, headers=headers, content=content, extensions=extensions)
            except _STALE:
                self._release(c, keep=False)
                if attempt or not reused:  # a fresh connection that fails is a real failure
                    raise
                self.close()  # the engine closed them all (restarted?): retry on a new one
                continue
            except BaseException:
                self._release(c, keep=False)
                raise
            c.deadline.at = float("inf")
            self._release(c, keep=True)
            return resp.status, resp.content
        raise RuntimeError("unreachable")

    def get_json(self, path: str, params: dict | None = None) -> tuple[int, Any]:
        """GET /v<api>/<path>: (status, decoded JSON or None); engine failures as EngineError."""
        return self.call_json("GET", path, params)

    def call_json(self, method: str, path: str, params: dict | None = None, body: Any = None,
                  deadline_s: float | None = None) -> tuple[int, Any]:
        """One call within its total deadline: (status, decoded JSON or None); engine failures as EngineError.

        A deadline overrun raises ``EngineTimeout`` ("timed out after N s")."""
        total_s = self.deadline_s if deadline_s is None else float(deadline_s)
        try:
            status, raw = self.request(method, path, params, body, deadline_s)
        except httpcore.TimeoutException:
            raise EngineTimeout(f"The Docker engine did not answer {method} {path} within {total_s:g} s "
                                f"(timed out after {total_s:g} s); it may be hung or overloaded "
                                f"(raise --engine-timeout).") from None
        except (httpcore.ConnectError, *_STALE) as exc:
            raise EngineNotRunning(f"The Docker engine went away during the run ({exc or type(exc).__name__}): "
                                   f"start it again (`sudo systemctl start docker`).") from None
        try:
            return status, (json.loads(raw) if raw else None)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def _acquire(self, end: float) -> _Connection:
        with self._cond:
            while True:
                while self._idle:
                    c = self._idle.pop()
                    if c.usable():
                        return c
                    c.conn.close()
                    self._open -= 1
                if self._open < self.max_connections:
                    self._open += 1
                    return _Connection(self._origin, self._uds)
                left = end - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    raise httpcore.PoolTimeout("no engine connection came free before the deadline")

    def _release(self, c: _Connection, keep: bool) -> None:
        with self._cond:
            if keep:
                self._idle.append(c)
            else:
                c.conn.close()
                self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        """Drop the idle keep-alive connections (the next call opens a new one)."""
        with self._cond:
            for c in self._idle:
                c.conn.close()
            self._open -= len(self._idle)
            self._idle.clear()


def read_stream(http: EngineHTTP, path: str, params: dict | None,
                on_chunk: Callable[[bytes, str], bool], deadline_s: float) -> tuple[int, Any, bool]:
    """GET a streamed body (logs) within ``deadline_s``: each chunk goes to ``on_chunk(chunk, content_type)``
    as it arrives, and reading stops when that returns False.

    Returns (status, error body or None, timed_out). Unlike ``get``, a body still arriving at the
    deadline is no error: what came by then is kept and ``timed_out`` is True. A stream cut short
    closes its connection (the rest is never drained); a complete one goes back to the pool.
    """
    prefix = f"/v{http.api_version}" if http.api_version else ""
    target = f"{prefix}{path}" + (f"?{urlencode(params)}" if params else "")
    url = httpcore.URL(scheme=b"http", host=http._origin.host, port=http._origin.port, target=target.encode())
    end = time.monotonic() + deadline_s
    for attempt in (0, 1):
        c = http._acquire(end)
        reused, started, keep = c.used, False, False
        c.deadline.at, c.used = end, True
        try:
            with c.conn.stream("GET", url, headers=http._headers, extensions=http._extensions) as resp:
                started = True
                if resp.status != 200:
                    body = resp.read()
                    keep = True
                    try:
                        return resp.status, json.loads(body) if body else None, False
                    except ValueError:
                        return resp.status, body.decode("utf-8", "replace"), False
                ctype = next((v.decode("latin-1") for k, v in resp.headers if k.lower() == b"content-type"), "")
                try:
                    for chunk in resp.iter_stream():
                        if chunk and not on_chunk(chunk, ctype):
                            return 200, None, False
                except httpcore.TimeoutException:
                    if time.monotonic() < end:
                        raise  # a read that timed out on its own, before the deadline: the engine hung
                    return 200, None, True
                keep = True
                return 200, None, False
        except _STALE:
            if started or attempt or not reused:
                raise
            http.close()  # a reused connection the engine had closed: once more on a new one
            continue
        finally:
            c.deadline.at = float("inf")
            http._release(c, keep=keep)
    raise RuntimeError("unreachable")


class AnswerReader:
    """Pipelined HTTP/1.1 answers read straight off one socket: status line, the three headers
    that frame a body (Content-Length, Transfer-Encoding, Connection), and the body. Every read
    is clamped to ``at``, the deadline of the answer in hand. ~10 us of Python per answer (a 6 KB
    inspect) where ``http.client``, whose header parser is the e-mail package's, spends ~45 us.
    """

    MAX_HEAD = 65536  # bytes of status line + headers before the answer counts as malformed

    def __init__(self, sock: socket.socket, read_timeout_s: float) -> None:
        self.sock, self.read_timeout_s, self.at = sock, read_timeout_s, float("inf")
        self.buf = bytearray()  # unread bytes; deleting from the front of a bytearray is cheap

    def _fill(self) -> bool:
        """Read what the socket has (waiting until the deadline at most); False at the end of the stream."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's deadline passed")
        self.sock.settimeout(min(self.read_timeout_s, left))
        data = self.sock.recv(262144)
        if not data:
            return False
        self.buf += data
        return True

    def _until(self, sep: bytes, limit: int) -> bytes:
        """The bytes before the next ``sep`` (consumed with it)."""
        i = self.buf.find(sep)
        while i < 0:
            if len(self.buf) > limit:
                raise http_client.LineTooLong("the engine's answer head")
            start = max(0, len(self.buf) - len(sep) + 1)
            if not self._fill():
                if not self.buf:
                    raise http_client.RemoteDisconnected("the engine closed the connection without an answer")
                raise http_client.IncompleteRead(bytes(self.buf))
            i = self.buf.find(sep, start)
        out = bytes(self.buf[:i])
        del self.buf[:i + len(sep)]
        return out

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise http_client.IncompleteRead(bytes(self.buf), n - len(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _rest(self) -> bytes:
        while self._fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def head(self) -> tuple[int, dict[bytes, bytes]]:
        """Status and headers (names lower-cased; ``:version`` the HTTP version) of the next answer;
        interim answers (100 Continue) are skipped: the real one follows."""
        while True:
            lines = self._until(b"\r\n\r\n", self.MAX_HEAD).split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code = rest[:3]
            if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise http_client.BadStatusLine(lines[0].decode("latin-1"))
            status = int(code)
            if 100 <= status < 200 and status != 101:
                continue
            headers = {b":version": version}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            return status, headers

    @staticmethod
    def closes(headers: dict[bytes, bytes]) -> bool:
        """True when the engine closes the connection after this answer."""
        conn = headers.get(b"connection", b"").lower()
        return b"close" in conn or (headers[b":version"] == b"HTTP/1.0" and b"keep-alive" not in conn)

    def answer(self) -> tuple[int, bytes, bool]:
        """The next answer: (status, body, whether the engine closes the connection after it)."""
        status, headers = self.head()
        close = self.closes(headers)
        if status in (101, 204, 304):
            return status, b"", close
        if headers.get(b"transfer-encoding", b"").lower().endswith(b"chunked"):
            return status, self._chunked(), close
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                raise http_client.HTTPException(f"bad Content-Length {length!r} in the engine's answer")
            return status, self._take(int(length)), close
        return status, self._rest(), True  # no framing: the body ends where the stream does

    def chunk_sizes(self) -> Iterator[int]:
        """The sizes of a chunked body's chunks, each read when the caller has consumed the one
        before (its bytes and their CRLF); the last chunk and the trailers are consumed here."""
        while True:
            line = self._until(b"\r\n", self.MAX_HEAD)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise http_client.HTTPException(f"bad chunk size {line[:40]!r} in the engine's answer") from None
            if size == 0:
                while self._until(b"\r\n", self.MAX_HEAD):  # trailers, up to the empty line
                    pass
                return
            yield size

    def _chunked(self) -> bytes:
        return b"".join(self._take(size + 2)[:-2] for size in self.chunk_sizes())


PIPELINE_WINDOW = 64  # requests in flight at once (bounds what sits unread in the socket buffers)


def get_many(http: EngineHTTP, paths: list[str]) -> list[tuple[int, Any]]:
    """GET many paths (inspects) pipelined on one connection: the requests go out in windows
    without waiting, the engine answers them in order. Each response has ``http.deadline_s`` in
    total from the moment it is the next one due (a trickling engine still fails at a deadline).

    Returns (status, decoded JSON or None) per path, in order; failures as EngineError, like
    ``get_json``. ~60 us of Python per inspect (two thirds of it JSON decoding) against ~0.3 ms
    for one request at a time.
    A connection the engine closes after some answers is replaced for the rest.
    """
    return resume_pipelined(paths, lambda rest, out: _pipeline(http, rest, out), http.deadline_s)


def resume_pipelined(items: list, pipeline: Callable[[list, list], None], deadline_s: float) -> list:
    """Run ``pipeline(items still due, out)`` on new connections until every item has its answer in
    ``out``: a connection the engine closes after some answers is replaced for the rest. Failures
    become EngineError (``items[i][0]`` or ``items[i]`` names the request that did not answer)."""
    out: list = []
    try:
        while len(out) < len(items):
            answered = len(out)
            try:
                pipeline(items[answered:], out)
            except (http_client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if len(out) == answered:  # not one answer on a new connection: a real failure
                    raise
    except (TimeoutError, socket.timeout):
        due = items[len(out)]
        raise EngineTimeout(f"The Docker engine did not answer GET {due[0] if isinstance(due, tuple) else due} "
                            f"within {deadline_s:g} s; it may be hung or overloaded (raise --engine-timeout).") from None
    except (OSError, http_client.HTTPException) as exc:
        raise EngineNotRunning(f"The Docker engine went away during the run ({exc or type(exc).__name__}): "
                               f"start it again (`sudo systemctl start docker`).") from None
    return out


def _pipeline(http: EngineHTTP, paths: list[str], out: list[tuple[int, Any]]) -> None:
    """One new connection: send ``paths`` in windows, append each answer to ``out`` as it is read;
    returns early when the engine says it closes the connection after an answer."""
    prefix = f"/v{http.api_version}" if http.api_version else ""
    host = http._origin.host.decode()
    head = f"Host: {'docker' if http._uds else host}\r\nAccept: application/json\r\n\r\n"
    wire = [f"GET {prefix}{p} HTTP/1.1\r\n{head}".encode() for p in paths]
    sock = socket.socket(socket.AF_UNIX if http._uds else socket.AF_INET, socket.SOCK_STREAM)
    reader = AnswerReader(sock, http.timeout_s)
    try:
        reader.at = time.monotonic() + http.deadline_s
        sock.settimeout(http.deadline_s)
        sock.connect(http._uds or (host, http._origin.port))
        sent = 0
        for i in range(len(wire)):
            if sent <= i or (sent - i < PIPELINE_WINDOW // 2 and sent < len(wire)):
                batch = wire[sent:i + PIPELINE_WINDOW]
                sock.settimeout(max(reader.at - time.monotonic(), 0.001))
                sock.sendall(b"".join(batch))
                sent += len(batch)
            reader.at = time.monotonic() + http.deadline_s
            status, body, close = reader.answer()
            try:
                out.append((status, json.loads(body) if body else None))
            except ValueError:
                out.append((status, body.decode("utf-8", "replace")))
            if close:
                return
    finally:
        sock.close()
