"""Many streamed GETs (log tails) pipelined on keep-alive connections, each within its own deadline.

``transport.get_many`` pipelines the inventory's inspects; this does the same for bodies that
must be read as a stream: each answer's body goes chunk by chunk to its receiver
(``on_chunk(chunk, content_type) -> keep reading?``), so a log tail stays bounded in memory
and in bytes read. Each answer has ``deadline_s`` in total from the moment it is the next one
due. A body cut short (the receiver stopped, or its deadline passed: what came by then is kept)
ends that connection, and the requests after it go out again on a new one, as do those after
an answer the engine closes the connection with.
"""
from __future__ import annotations

import concurrent.futures as cf
import http.client as http_client
import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from runbook_lib.engine.transport import PIPELINE_WINDOW, AnswerReader, EngineHTTP, resume_pipelined

OnChunk = Callable[[bytes, str], bool]
# per request: (status, error body or None, timed_out); a body cut by its receiver is status 200, not timed out
Result = tuple[int, Any, bool]


class _Cut(Exception):
    """The body in hand was not read to its end (receiver stopped, or its deadline passed)."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("cut")
        self.timed_out = timed_out


class _StreamReader(AnswerReader):
    """AnswerReader whose bodies go to a receiver as they arrive."""

    def _feed(self, n: int | None, on_chunk: OnChunk, ctype: str) -> None:
        """Hand ``n`` body bytes (to the end of the stream with None) to the receiver as they come."""
        while n is None or n > 0:
            if not self.buf and not self._fill():
                if n is None:
                    return
                raise http_client.IncompleteRead(b"", n)
            take = len(self.buf) if n is None else min(n, len(self.buf))
            piece = bytes(self.buf[:take])
            del self.buf[:take]
            if n is not None:
                n -= take
            if not on_chunk(piece, ctype):
                raise _Cut(False)

    def body(self, status: int, headers: dict[bytes, bytes], on_chunk: OnChunk) -> bool:
        """Read the body into ``on_chunk``; True when the engine closes the connection after it."""
        close = self.closes(headers)
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        if status in (101, 204, 304):
            return close
        if headers.get(b"transfer-encoding", b"").lower().endswith(b"chunked"):
            for size in self.chunk_sizes():
                self._feed(size, on_chunk, ctype)
                self._take(2)
            return close
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                raise http_client.HTTPException(f"bad Content-Length {length!r}")
            self._feed(int(length), on_chunk, ctype)
            return close
        self._feed(None, on_chunk, ctype)
        return True


MIN_PER_CONNECTION = 16  # fewer requests than this per connection: not worth another one


def stream_many(http: EngineHTTP, requests: list[tuple[str, dict | None, OnChunk]],
                deadline_s: float, connections: int = 4) -> list[Result]:
    """GET each (path, params, on_chunk), pipelined; (status, error body or None, timed_out) per request.

    The requests are split in up to ``connections`` runs, each pipelined on its own connection
    from its own thread (the engine answers one connection's requests one after the other; the
    threads mostly wait on the sockets). A 200 body goes to its ``on_chunk``; another status's
    body (small JSON) is returned decoded. An engine that does not start an answer within the
    deadline raises ``EngineTimeout``; one that goes away, ``EngineNotRunning``."""
    k = max(1, min(int(connections), len(requests) // MIN_PER_CONNECTION))
    if k == 1:
        return _stream_run(http, requests, deadline_s)
    size = -(-len(requests) // k)
    runs = [requests[i:i + size] for i in range(0, len(requests), size)]
    with cf.ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="engine-logs") as pool:
        parts = list(pool.map(lambda run: _stream_run(http, run, deadline_s), runs))
    return [r for part in parts for r in part]


def _stream_run(http: EngineHTTP, requests: list[tuple[str, dict | None, OnChunk]],
                deadline_s: float) -> list[Result]:
    return resume_pipelined(requests, lambda rest, out: _pipeline(http, rest, deadline_s, out), deadline_s)


def _pipeline(http: EngineHTTP, requests: list[tuple[str, dict | None, OnChunk]], deadline_s: float,
              out: list[Result]) -> None:
    """One new connection: send the requests in windows, read each answer in turn into ``out``;
    returns after an answer that ends the connection (closed by the engine, or cut short)."""
    prefix = f"/v{http.api_version}" if http.api_version else ""
    host = http._origin.host.decode()
    head = f"Host: {'docker' if http._uds else host}\r\nAccept: application/json\r\n\r\n"
    wire = [f"GET {prefix}{path}{'?' + urlencode(params) if params else ''} HTTP/1.1\r\n{head}".encode()
            for path, params, _ in requests]
    sock = socket.socket(socket.AF_UNIX if http._uds else socket.AF_INET, socket.SOCK_STREAM)
    reader = _StreamReader(sock, http.timeout_s)
    try:
        reader.at = time.monotonic() + deadline_s
        sock.settimeout(deadline_s)
        sock.connect(http._uds or (host, http._origin.port))
        sent = 0
        for i, (_path, _params, on_chunk) in enumerate(requests):
            if sent <= i or (sent - i < PIPELINE_WINDOW // 2 and sent < len(wire)):
                batch = wire[sent:i + PIPELINE_WINDOW]
                sock.settimeout(max(reader.at - time.monotonic(), 0.001))
                sock.sendall(b"".join(batch))
                sent += len(batch)
            reader.at = time.monotonic() + deadline_s
            status, headers = reader.head()
            if status != 200:
                raw = bytearray()
                close = reader.body(status, headers, lambda chunk, _ctype: raw.extend(chunk) is None)
                try:
                    out.append((status, json.loads(raw) if raw else None, False))
                except ValueError:
                    out.append((status, bytes(raw).decode("utf-8", "replace"), False))
            else:
                try:
                    close = reader.body(status, headers, on_chunk)
                except _Cut:
                    out.append((200, None, False))
                    return
                except (TimeoutError, socket.timeout):
                    if time.monotonic() < reader.at:
                        raise  # a read that timed out on its own, before the deadline: the engine hung
                    out.append((200, None, True))  # what came by the deadline is kept
                    return
                out.append((200, None, False))
            if close:
                return
    finally:
        sock.close()
