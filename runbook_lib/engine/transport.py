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

import json
import threading
import time
from collections.abc import Iterable
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
