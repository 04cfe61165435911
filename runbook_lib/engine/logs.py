"""Evidence for a diagnosis: bounded log tails, health-check outputs, exit state, events.

For every container that is not healthy (or any, on request) one row holds what a
human would read first: the last lines of its log (bounded by lines AND bytes, read as
a stream into a ring buffer so a 200 MB log never sits in memory, decoded with
replacement, very long lines cut and marked, colour codes stripped), the health-check
outputs (``State.Health.Log``), exit code, OOM kill, restart count and its growth since a
previous sample, and the Docker events (die, oom, kill, health_status, restart, start)
in the incident window. Every text is masked with ``redact`` before it lands in the row.

The engine keeps only its last 256 events in memory, and health checks produce exec
events every interval: events older than a few minutes on a busy engine are gone, so
the collector's history store is the long-term source for a timeline.
"""
from __future__ import annotations

import concurrent.futures as cf
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import docker
import docker.errors
import pandas as pd

from runbook_lib import redact
from runbook_lib.engine.connection import engine_http
from runbook_lib.engine.transport import read_stream

EVIDENCE_COLUMNS = [
    "project", "service", "name", "id", "state", "health", "has_healthcheck", "exit_code",
    "oom_killed", "restart_count", "restart_growth", "restart_policy", "started_at", "finished_at",
    "health_log", "health_output", "log_lines", "log_times", "log_bytes_read", "log_truncated", "events", "error", "failing",
]
EVENT_ACTIONS = ("die", "oom", "kill", "health_status", "restart", "start", "stop")
MAX_LINE_BYTES = 4096
MAX_READ_BYTES = 64_000_000  # stop reading one stream after this much (200 lines of 1 MB)
DEFAULT_WINDOW = timedelta(hours=24)
STREAM_DEADLINE_S = 30.0  # a log or event stream is read for at most this long (each read has its own timeout)
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


RECENT_RESTART_S = 300.0  # a running container restarted within this is still crash-looping


def needs_evidence(row: Mapping[str, Any], previous_restarts: int | None = None) -> bool:
    """True for a container that is not healthy: stopped, restarting, unhealthy, starting,
    OOM-killed, or running but restarted recently (a crash loop between two restarts)."""
    state = str(row.get("state") or "")
    health = str(row.get("health") or "none")
    if state != "running":
        return True
    if health in ("unhealthy", "starting"):
        return True
    if bool(row.get("oom_killed")):
        return True
    restarts = int(row.get("restart_count") or 0)
    if previous_restarts is not None and restarts > previous_restarts:
        return True
    uptime = row.get("uptime_s")
    try:
        recent = uptime is not None and float(uptime) < RECENT_RESTART_S
    except (TypeError, ValueError):
        recent = False
    return restarts > 0 and recent


def cut_line(line: str, max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """Cut a line longer than ``max_line_bytes`` (UTF-8) and mark how much was cut."""
    raw = line.encode("utf-8", "replace")
    if len(raw) <= max_line_bytes:
        return line
    head = raw[:max_line_bytes].decode("utf-8", "ignore")
    return f"{head}…[cut {len(raw) - len(head.encode('utf-8'))} bytes]"


class LineTail:
    """Streaming tail: keeps the last ``tail_lines`` lines, each cut to ``max_line_bytes``.

    Memory is bounded by ``tail_lines * max_line_bytes`` whatever the stream holds (a
    1 MB line costs 4 KB); ``max_bytes`` then bounds what is returned.
    """

    def __init__(self, tail_lines: int = 200, max_bytes: int = 256_000,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.tail_lines, self.max_bytes, self.max_line_bytes = max(int(tail_lines), 1), max_bytes, max_line_bytes
        self._lines: deque[tuple[bytes, int]] = deque(maxlen=self.tail_lines)
        self._cur = bytearray()
        self._cur_len = 0
        self.seen_lines = 0
        self.bytes_read = 0

    def feed(self, chunk: bytes) -> None:
        """Add a chunk of the stream (any split, newlines anywhere)."""
        self.bytes_read += len(chunk)
        start, n = 0, len(chunk)
        while start <= n:
            nl = chunk.find(b"\n", start)
            stop = n if nl < 0 else nl
            room = self.max_line_bytes - len(self._cur)
            if room > 0:
                self._cur += chunk[start:min(stop, start + room)]
            self._cur_len += stop - start
            if nl < 0:
                return
            self._push()
            start = nl + 1

    def _push(self) -> None:
        self._lines.append((bytes(self._cur), self._cur_len))
        self.seen_lines += 1
        self._cur = bytearray()
        self._cur_len = 0

    def lines(self) -> tuple[list[str], bool]:
        """(masked lines, truncated?): colour codes stripped, bad bytes replaced, long lines marked."""
        if self._cur_len:
            self._push()
        truncated = self.seen_lines > len(self._lines)
        out: list[str] = []
        held = 0
        for head, full in reversed(self._lines):
            text = _ANSI_RE.sub("", head.decode("utf-8", errors="replace")).rstrip("\r")
            if full > len(head):
                text = f"{text}…[cut {full - len(head)} bytes]"
                truncated = True
            held += len(head)
            if held > self.max_bytes and out:
                truncated = True
                break
            out.append(redact.mask_text(text))
        out.reverse()
        return out, truncated


def split_tail(data: bytes, *, tail_lines: int = 200, max_bytes: int = 256_000,
               max_line_bytes: int = MAX_LINE_BYTES) -> tuple[list[str], bool]:
    """Bytes of a log -> (masked tail lines, truncated?). Pure; the streaming path uses LineTail."""
    t = LineTail(tail_lines, max_bytes, max_line_bytes)
    t.feed(data)
    return t.lines()


_TS_PREFIX_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ?")


def split_timestamps(lines: list[str]) -> tuple[list[str], list[str | None]]:
    """Engine timestamps (``timestamps=True``) off the front of each line -> (lines, ISO times)."""
    out, times = [], []
    for ln in lines:
        m = _TS_PREFIX_RE.match(ln)
        if m:
            out.append(ln[m.end():])
            times.append(m.group(1))
        else:
            out.append(ln)
            times.append(None)
    return out, times


def read_log_tail(client, container_id: str, *, tail_lines: int = 200, max_bytes: int = 256_000,
                  since: datetime | None = None, max_line_bytes: int = MAX_LINE_BYTES,
                  max_read_bytes: int = MAX_READ_BYTES, timestamps: bool = True,
                  deadline_s: float = STREAM_DEADLINE_S) -> dict[str, Any]:
    """Stream the last ``tail_lines`` lines through a LineTail (bounded memory, read and time).

    With ``timestamps`` the engine's time of each line goes to ``log_times`` (error bursts).
    A stream that trickles past ``deadline_s`` is cut there and marked truncated."""
    kw: dict[str, Any] = {"stdout": True, "stderr": True, "tail": max(int(tail_lines), 1), "stream": True,
                          "follow": False, "timestamps": timestamps}  # docker-py follows when streaming
    if since is not None:
        kw["since"] = since.timestamp() if isinstance(since, datetime) else since
    tail = LineTail(tail_lines, max_bytes, max_line_bytes)
    stopped_early = timed_out = False
    lean = engine_http(client) if isinstance(client, docker.DockerClient) else None
    if lean is not None:
        stopped_early, timed_out = _lean_log_tail(lean, container_id, kw, tail, max_read_bytes, deadline_s)
    else:
        stopped_early, timed_out = _docker_py_log_tail(client, container_id, kw, tail, max_read_bytes, deadline_s)
    lines, truncated = tail.lines()
    times: list[str | None] = [None] * len(lines)
    if timestamps:
        lines, times = split_timestamps(lines)
    if stopped_early or timed_out:
        why = f"{tail.bytes_read} bytes" if stopped_early else f"{deadline_s:g} s ({tail.bytes_read} bytes)"
        lines.append(f"…[stopped reading after {why}; the newest lines may be missing]")
        times.append(None)
        truncated = True
    return {"log_lines": lines, "log_times": times, "log_bytes_read": tail.bytes_read, "log_truncated": truncated}


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


def _lean_log_tail(lean, container_id: str, kw: dict[str, Any], tail: LineTail, max_read_bytes: int,
                   deadline_s: float) -> tuple[bool, bool]:
    """The log tail over the keep-alive transport (no inspect for the TTY flag, ~0.2 ms of Python)."""
    params = {"stdout": "1", "stderr": "1", "tail": str(kw["tail"]), "follow": "0",
              "timestamps": "1" if kw["timestamps"] else "0"}
    if "since" in kw:
        params["since"] = str(kw["since"])
    demux = _Demux()
    stopped = [False]

    def on_chunk(chunk: bytes, content_type: str) -> bool:
        for payload in demux.feed(chunk, content_type):
            tail.feed(payload)
            if tail.bytes_read >= max_read_bytes:
                stopped[0] = True
                return False
        return True
    status, body, timed_out = read_stream(lean, f"/containers/{container_id}/logs", params, on_chunk, deadline_s)
    for payload in demux.flush():
        tail.feed(payload)
    if status != 200:
        message = body.get("message") if isinstance(body, dict) else body
        cls = docker.errors.NotFound if status == 404 else docker.errors.APIError
        raise cls(f"{status} logs of {container_id}", explanation=str(message or status))
    return stopped[0], timed_out


def _docker_py_log_tail(client, container_id: str, kw: dict[str, Any], tail: LineTail, max_read_bytes: int,
                        deadline_s: float) -> tuple[bool, bool]:
    """The log tail through docker-py (ssh://, TLS, stand-ins): the deadline is checked between chunks."""
    stopped_early = timed_out = False
    deadline = time.monotonic() + deadline_s
    stream = client.api.logs(container_id, **kw)
    try:
        for chunk in stream:
            if chunk:
                tail.feed(chunk)
            if tail.bytes_read >= max_read_bytes:
                stopped_early = True
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    return stopped_early, timed_out


def _event_time(ev: Mapping[str, Any]) -> pd.Timestamp | None:
    if ev.get("timeNano"):
        return pd.Timestamp(int(ev["timeNano"]), unit="ns", tz="UTC")
    if ev.get("time"):
        return pd.Timestamp(int(ev["time"]), unit="s", tz="UTC")
    return None


def normalise_event(ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """A raw Docker event -> {time, action, exit_code, detail, id} (None when not of interest)."""
    action = str(ev.get("Action") or ev.get("status") or "")
    base = action.split(":", 1)[0].strip()
    if base not in EVENT_ACTIONS:
        return None
    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
    detail = action.split(":", 1)[1].strip() if ":" in action else ""
    if base == "kill" and attrs.get("signal"):
        detail = f"signal {attrs['signal']}"
    exit_code = attrs.get("exitCode")
    t = _event_time(ev)
    return {"time": t.isoformat() if t is not None else None, "action": base,
            "exit_code": int(exit_code) if exit_code not in (None, "") else None,
            "detail": redact.mask_text(detail), "id": str((ev.get("Actor") or {}).get("ID") or ev.get("id") or "")[:12]}


def _epoch(t) -> float:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.timestamp()


def gather_events(client, container_ids: Iterable[str], since: datetime,
                  until: datetime | None = None, deadline_s: float = STREAM_DEADLINE_S) -> dict[str, list[dict]]:
    """Docker events of the given containers in [since, until] -> id (12 chars) -> events.

    The stream is read for at most ``deadline_s`` (what came by then is kept)."""
    ids = [i for i in container_ids if i]
    out: dict[str, list[dict]] = {i[:12]: [] for i in ids}
    if not ids:
        return out
    until = until or datetime.now(timezone.utc)
    # Strings keep sub-second precision (docker-py floors datetimes to whole seconds,
    # which would drop the events of the current second).
    stream = client.api.events(since=f"{_epoch(since):.6f}", until=f"{_epoch(until):.6f}", decode=True,
                               filters={"type": "container", "container": ids, "event": list(EVENT_ACTIONS)})
    for ev in bounded(stream, deadline_s):
        n = normalise_event(ev)
        if n and n["id"] in out:
            out[n["id"]].append(n)
    return out


def bounded(stream: Iterable[Any], deadline_s: float) -> Iterator[Any]:
    """The items of an engine stream until ``deadline_s`` has passed (the one that came last is kept);
    the stream is closed however the loop ends."""
    deadline = time.monotonic() + deadline_s
    try:
        for item in stream:
            yield item
            if time.monotonic() >= deadline:
                break
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()


def _previous_counts(previous) -> dict[str, int]:
    if previous is None:
        return {}
    if isinstance(previous, Mapping):
        return {str(k): int(v) for k, v in previous.items()}
    if isinstance(previous, pd.DataFrame) and "restart_count" in previous:
        key = "name" if "name" in previous else "service"
        return {str(r[key]): int(r["restart_count"] or 0) for _, r in previous.iterrows()}
    return {}


def empty_evidence() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVIDENCE_COLUMNS})


def gather_evidence(client, inventory: pd.DataFrame, services: Iterable[str] | None = None,
                    all: bool = False, tail_lines: int = 200, max_bytes: int = 256_000,  # noqa: A002
                    since: datetime | pd.Timestamp | None = None, until: datetime | None = None,
                    previous=None, events: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                    max_workers: int = 8) -> pd.DataFrame:
    """One evidence row per selected container (not healthy ones unless ``all``/``services``)."""
    now = datetime.now(timezone.utc)
    until = until or now
    if since is None:
        since = now - DEFAULT_WINDOW
    if isinstance(since, pd.Timestamp):
        since = since.to_pydatetime()
    wanted = set(services or [])
    prev = _previous_counts(previous)
    rows = []
    for _, r in inventory.iterrows():
        failing = needs_evidence(r, prev.get(str(r["name"]), prev.get(str(r["service"]))))
        if wanted:
            if r["service"] not in wanted and r["name"] not in wanted:
                continue
        elif not all and not failing:
            continue
        rows.append((r, failing))
    notes: list[str] = []

    def one(item) -> dict[str, Any]:
        r, failing = item
        base = {c: r.get(c) for c in ("project", "service", "name", "id", "state", "health", "has_healthcheck",
                                      "exit_code", "oom_killed", "restart_count", "restart_policy",
                                      "started_at", "finished_at", "health_log", "health_output")}
        base["failing"] = failing
        if base["state"] != "running" and base["health"] not in (None, "none"):
            base["health"] = "none"  # a stopped container keeps its last health status: stale, not news
        before = prev.get(str(r["name"]), prev.get(str(r["service"])))
        base["restart_growth"] = (int(r["restart_count"] or 0) - before) if before is not None else None
        base["events"] = []
        base["error"] = None
        try:
            base.update(read_log_tail(client, r["id"], tail_lines=tail_lines, max_bytes=max_bytes,
                                      since=None, max_line_bytes=max_line_bytes))
        except docker.errors.NotFound:
            base.update(log_lines=[], log_times=[], log_bytes_read=0, log_truncated=False,
                        error="container removed while gathering evidence")
        except docker.errors.APIError as exc:
            base.update(log_lines=[], log_times=[], log_bytes_read=0, log_truncated=False,
                        error=redact.mask_text(f"logs unavailable: {exc.explanation or exc}"))
        return base

    if len(rows) <= 1:
        out = [one(r) for r in rows]
    else:
        with cf.ThreadPoolExecutor(max_workers=max_workers) as pool:
            out = list(pool.map(one, rows))
    if events and out:
        try:
            evs = gather_events(client, [r["id"] for r in out], since, until)
            for row in out:
                row["events"] = evs.get(str(row["id"])[:12], [])
        except docker.errors.APIError as exc:
            notes.append(redact.mask_text(f"events unavailable: {exc}"))
    df = pd.DataFrame(out, columns=EVIDENCE_COLUMNS) if out else empty_evidence()
    df.attrs["notes"] = list(inventory.attrs.get("notes", [])) + notes
    df.attrs["since"] = pd.Timestamp(since).tz_convert("UTC").isoformat() if pd.Timestamp(since).tzinfo else \
        pd.Timestamp(since, tz="UTC").isoformat()
    df.attrs["until"] = pd.Timestamp(until).isoformat()
    df.attrs["gathered_at"] = now.isoformat()
    return df
