"""Streamed engine answers over the keep-alive transport: log tails and events (no docker SDK, no pandas).

``lean_log_tail`` reads one container's log stream (demultiplexed, bounded by bytes and by a
total deadline) into a ``logs.LineTail``; ``lean_events`` reads the events of a closed span
(``until`` given: the engine ends the stream) within a total deadline.
"""
from __future__ import annotations

import json
from typing import Any

from runbook_lib.engine.client import convert_filters
from runbook_lib.engine.transport import EngineHTTP, read_stream
from runbook_lib.exceptions import EngineAPIError, EngineNotFound


class _Demux:
    """The engine's log stream -> payload bytes: frames (8-byte header: stream, 0, 0, 0, size) of a
    container without a TTY, raw bytes of one with a TTY. The kind is read from the Content-Type
    (API 1.42+), else from the first bytes: a raw log never starts with 0-2 and three NUL bytes
    (with timestamps it starts with the year)."""

    def __init__(self) -> None:
        self.framed: bool | None = None
        self._buf = bytearray()
        self._left = 0  # payload bytes still due in the current frame

    def feed(self, chunk: bytes, content_type: str) -> list[bytes]:
        if self.framed is None:
            if "multiplexed" in content_type:
                self.framed = True
            else:  # older engines call both kinds raw-stream
                self._buf += chunk
                if len(self._buf) < 4:
                    return []
                b = self._buf
                self.framed = b[0] in (0, 1, 2) and b[1] == b[2] == b[3] == 0
                chunk, self._buf = bytes(b), bytearray()
        if not self.framed:
            return [chunk]
        out: list[bytes] = []
        view = memoryview(self._buf + chunk) if self._buf else memoryview(chunk)
        self._buf = bytearray()
        i, n = 0, len(view)
        while i < n:
            if self._left:
                take = min(self._left, n - i)
                out.append(bytes(view[i:i + take]))
                self._left -= take
                i += take
                continue
            if n - i < 8:
                self._buf = bytearray(view[i:])
                break
            self._left = int.from_bytes(view[i + 4:i + 8], "big")
            i += 8
        return out

    def flush(self) -> list[bytes]:
        """What is held back at the end of the stream (a raw log shorter than 4 bytes)."""
        held, self._buf = bytes(self._buf), bytearray()
        return [held] if held and not self.framed else []


def log_params(kw: dict[str, Any]) -> dict[str, str]:
    """The query of GET /containers/{id}/logs for ``logs.read_log_tail``'s keywords (never follows)."""
    params = {"stdout": "1", "stderr": "1", "tail": str(kw["tail"]), "follow": "0",
              "timestamps": "1" if kw["timestamps"] else "0"}
    if "since" in kw:
        params["since"] = str(kw["since"])
    return params


class LogSink:
    """One log stream's receiver: demultiplexes the chunks into ``tail.feed`` (a ``logs.LineTail``)
    and asks to stop (returns False) once ``max_read_bytes`` were read."""

    def __init__(self, tail: Any, max_read_bytes: int) -> None:
        self.tail, self.max_read_bytes, self.stopped = tail, max_read_bytes, False
        self._demux = _Demux()

    def __call__(self, chunk: bytes, content_type: str) -> bool:
        for payload in self._demux.feed(chunk, content_type):
            self.tail.feed(payload)
            if self.tail.bytes_read >= self.max_read_bytes:
                self.stopped = True
                return False
        return True

    def finish(self) -> None:
        """The end of the stream: what the demultiplexer held back goes to the tail."""
        for payload in self._demux.flush():
            self.tail.feed(payload)


def refusal(status: int, body: Any, container_id: str) -> EngineAPIError:
    """The error of a log request the engine refused: EngineNotFound (404) or EngineAPIError."""
    message = body.get("message") if isinstance(body, dict) else body
    cls = EngineNotFound if status == 404 else EngineAPIError
    return cls(f"{status} logs of {container_id}", explanation=str(message or status), status=status)


def lean_log_tail(lean: EngineHTTP, container_id: str, kw: dict[str, Any], tail: Any, max_read_bytes: int,
                  deadline_s: float) -> tuple[bool, bool]:
    """The log tail over the keep-alive transport (no inspect for the TTY flag, ~0.2 ms of Python):
    the payload goes to ``tail.feed`` (a ``logs.LineTail``). Returns (stopped at max_read_bytes, timed out).

    A missing container raises EngineNotFound, another refusal EngineAPIError."""
    sink = LogSink(tail, max_read_bytes)
    status, body, timed_out = read_stream(lean, f"/containers/{container_id}/logs", log_params(kw), sink, deadline_s)
    sink.finish()
    if status != 200:
        raise refusal(status, body, container_id)
    return sink.stopped, timed_out


def lean_events(lean: EngineHTTP, since_s: float, until_s: float, filters: dict[str, Any],
                deadline_s: float) -> list[dict[str, Any]]:
    """GET /events for [since_s, until_s] (epoch seconds, sub-second kept) -> the decoded events that
    came within ``deadline_s`` (a stream still open at the deadline keeps what came by then)."""
    params = {"since": f"{since_s:.6f}", "until": f"{until_s:.6f}", "filters": convert_filters(filters)}
    buf = bytearray()
    out: list[dict[str, Any]] = []

    def on_chunk(chunk: bytes, _content_type: str) -> bool:
        buf.extend(chunk)
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:nl]).strip()
            start = nl + 1
            if line:
                out.append(json.loads(line))
        del buf[:start]
        return True
    status, body, _timed_out = read_stream(lean, "/events", params, on_chunk, deadline_s)
    if status != 200:
        message = body.get("message") if isinstance(body, dict) else body
        raise EngineAPIError(f"{status} events", explanation=str(message or status), status=status)
    if bytes(buf).strip():
        out.append(json.loads(bytes(buf)))
    return out
