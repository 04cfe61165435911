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

from runbook_lib import redact
from runbook_lib.engine import dockerpy
from runbook_lib.engine.client import EngineClient
from runbook_lib.engine.connection import engine_http
from runbook_lib.engine.pipeline import stream_many
from runbook_lib.engine.streams import LogSink, lean_events, lean_log_tail, log_params, refusal

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


def _tail_kw(tail_lines: int, since: Any, timestamps: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {"stdout": True, "stderr": True, "tail": max(int(tail_lines), 1), "stream": True,
                          "follow": False, "timestamps": timestamps}  # docker-py follows when streaming
    if since is not None:
        kw["since"] = since.timestamp() if isinstance(since, datetime) else since
    return kw


def _tail_result(tail: LineTail, stopped_early: bool, timed_out: bool, timestamps: bool,
                 deadline_s: float) -> dict[str, Any]:
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


def read_log_tail(client, container_id: str, *, tail_lines: int = 200, max_bytes: int = 256_000,
                  since: datetime | None = None, max_line_bytes: int = MAX_LINE_BYTES,
                  max_read_bytes: int = MAX_READ_BYTES, timestamps: bool = True,
                  deadline_s: float = STREAM_DEADLINE_S) -> dict[str, Any]:
    """Stream the last ``tail_lines`` lines through a LineTail (bounded memory, read and time).

    With ``timestamps`` the engine's time of each line goes to ``log_times`` (error bursts).
    A stream that trickles past ``deadline_s`` is cut there and marked truncated."""
    kw = _tail_kw(tail_lines, since, timestamps)
    tail = LineTail(tail_lines, max_bytes, max_line_bytes)
    lean = _lean(client)
    if lean is not None:
        stopped_early, timed_out = lean_log_tail(lean, container_id, kw, tail, max_read_bytes, deadline_s)
    else:
        stopped_early, timed_out = _docker_py_log_tail(client, container_id, kw, tail, max_read_bytes, deadline_s)
    return _tail_result(tail, stopped_early, timed_out, timestamps, deadline_s)


def read_log_tails(client, container_ids: list[str], *, tail_lines: int = 200, max_bytes: int = 256_000,
                   since: datetime | None = None, max_line_bytes: int = MAX_LINE_BYTES,
                   max_read_bytes: int = MAX_READ_BYTES, timestamps: bool = True,
                   deadline_s: float = STREAM_DEADLINE_S) -> list[dict[str, Any] | Exception] | None:
    """``read_log_tail`` of many containers at once, pipelined on keep-alive connections (each stream
    within ``deadline_s``, bounded as ever); a refused one (removed meanwhile) gets its
    EngineNotFound / EngineAPIError in its place. None where there is no keep-alive transport."""
    lean = _lean(client)
    if lean is None:
        return None
    kw = _tail_kw(tail_lines, since, timestamps)
    params = log_params(kw)
    tails = [LineTail(tail_lines, max_bytes, max_line_bytes) for _ in container_ids]
    sinks = [LogSink(t, max_read_bytes) for t in tails]
    answers = stream_many(lean, [(f"/containers/{cid}/logs", params, sink)
                                 for cid, sink in zip(container_ids, sinks)], deadline_s)
    out: list[dict[str, Any] | Exception] = []
    for cid, tail, sink, (status, body, timed_out) in zip(container_ids, tails, sinks, answers):
        sink.finish()
        if status != 200:
            out.append(refusal(status, body, cid))
        else:
            out.append(_tail_result(tail, sink.stopped, timed_out, timestamps, deadline_s))
    return out


def _lean(client: Any):
    """The keep-alive transport of runbook's or docker-py's own client (not of stand-ins: they go through ``api``)."""
    return engine_http(client) if isinstance(client, EngineClient) or dockerpy.is_docker_client(client) else None


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


def _event_time(ev: Mapping[str, Any]) -> str | None:
    """The event's time as ISO 8601 UTC text, to the nanosecond when the engine gives it."""
    if ev.get("timeNano"):
        seconds, nanos = divmod(int(ev["timeNano"]), 1_000_000_000)
    elif ev.get("time"):
        seconds, nanos = int(ev["time"]), 0
    else:
        return None
    return iso_ns(seconds, nanos)


def iso_ns(seconds: int, nanos: int = 0, sep: str = "T") -> str:
    """Epoch seconds + nanoseconds -> ISO text as pandas writes a UTC Timestamp: 9 fraction digits when
    the nanoseconds are not whole microseconds, 6 when there are any, none otherwise."""
    base = datetime.fromtimestamp(seconds, timezone.utc).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    frac = f".{nanos:09d}" if nanos % 1000 else f".{nanos // 1000:06d}" if nanos else ""
    return f"{base}{frac}+00:00"


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
    return {"time": _event_time(ev), "action": base,
            "exit_code": int(exit_code) if exit_code not in (None, "") else None,
            "detail": redact.mask_text(detail), "id": str((ev.get("Actor") or {}).get("ID") or ev.get("id") or "")[:12]}


def epoch_s(t: Any) -> float:
    """A time (datetime or pandas Timestamp, naive = UTC; ISO text; epoch seconds) -> epoch seconds."""
    if isinstance(t, (int, float)):
        return float(t)
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def read_events(client: Any, since: Any, until: Any, filters: dict[str, Any], deadline_s: float) -> Iterator[dict]:
    """The raw events in [since, until] (``until`` not in the future) within ``deadline_s``: over the
    keep-alive transport, else docker-py's stream (what came by the deadline is kept)."""
    t0, t1 = epoch_s(since), epoch_s(until)
    lean = _lean(client)
    if lean is not None:
        return iter(lean_events(lean, t0, t1, filters, deadline_s))
    # Strings keep sub-second precision (docker-py floors datetimes to whole seconds,
    # which would drop the events of the current second).
    return bounded(client.api.events(since=f"{t0:.6f}", until=f"{t1:.6f}", decode=True, filters=filters), deadline_s)


def gather_events(client, container_ids: Iterable[str], since: datetime,
                  until: datetime | None = None, deadline_s: float = STREAM_DEADLINE_S) -> dict[str, list[dict]]:
    """Docker events of the given containers in [since, until] -> id (12 chars) -> events.

    The stream is read for at most ``deadline_s`` (what came by then is kept)."""
    ids = [i for i in container_ids if i]
    out: dict[str, list[dict]] = {i[:12]: [] for i in ids}
    if not ids:
        return out
    until = until or datetime.now(timezone.utc)
    flt = {"type": "container", "container": ids, "event": list(EVENT_ACTIONS)}
    for ev in read_events(client, since, until, flt, deadline_s):
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


def _previous_counts(previous: Any) -> dict[str, int]:
    """name (or service) -> restart count of a previous sample: a mapping, rows, or a frame."""
    if previous is None:
        return {}
    if isinstance(previous, Mapping):
        return {str(k): int(v) for k, v in previous.items()}
    if hasattr(previous, "to_dict"):  # an inventory frame
        if "restart_count" not in previous:
            return {}
        previous = previous.to_dict("records")
    rows = [r for r in previous if isinstance(r, Mapping) and "restart_count" in r]
    key = "name" if rows and "name" in rows[0] else "service"
    return {str(r[key]): int(r["restart_count"] or 0) for r in rows}


def evidence_window(since: Any = None, until: datetime | None = None,
                    now: datetime | None = None) -> tuple[datetime, datetime, datetime]:
    """(since, until, now) of an evidence gathering: until defaults to now, since to now - DEFAULT_WINDOW."""
    now = now or datetime.now(timezone.utc)
    until = until or now
    if since is None:
        since = now - DEFAULT_WINDOW
    if hasattr(since, "to_pydatetime"):  # a pandas Timestamp
        since = since.to_pydatetime()
    return since, until, now


def evidence_attrs(notes: list[str], since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
    """What an evidence gathering says about itself (the frame's attrs): ``notes``, then the window
    ``since`` / ``until`` and ``gathered_at`` as ISO text (UTC; a naive ``since`` is UTC)."""
    since_utc = since.astimezone(timezone.utc) if since.tzinfo else since.replace(tzinfo=timezone.utc)
    return {"notes": list(notes), "since": since_utc.isoformat(), "until": until.isoformat(),
            "gathered_at": now.isoformat()}


_BASE_COLUMNS = ("project", "service", "name", "id", "state", "health", "has_healthcheck", "exit_code",
                 "oom_killed", "restart_count", "restart_policy", "started_at", "finished_at", "health_log",
                 "health_output")


def gather_evidence_rows(client, rows: Iterable[Mapping[str, Any]], services: Iterable[str] | None = None,
                         all: bool = False, tail_lines: int = 200, max_bytes: int = 256_000,  # noqa: A002
                         since: Any = None, until: datetime | None = None, previous: Any = None,
                         events: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                         max_workers: int = 8) -> tuple[list[dict[str, Any]], list[str]]:
    """One evidence row (EVIDENCE_COLUMNS keys) per selected inventory row (not healthy ones unless
    ``all``/``services``), and the notes of this gathering: (rows, notes). No pandas."""
    since, until, _now = evidence_window(since, until)
    wanted = set(services or [])
    prev = _previous_counts(previous)
    picked = []
    for r in rows:
        failing = needs_evidence(r, prev.get(str(r["name"]), prev.get(str(r["service"]))))
        if wanted:
            if r["service"] not in wanted and r["name"] not in wanted:
                continue
        elif not all and not failing:
            continue
        picked.append((r, failing))
    notes: list[str] = []
    tails = read_log_tails(client, [r["id"] for r, _ in picked], tail_lines=tail_lines, max_bytes=max_bytes,
                           max_line_bytes=max_line_bytes) if len(picked) > 1 else None
    index = {id(r): i for i, (r, _) in enumerate(picked)}

    def tail_of(r: Mapping[str, Any]) -> dict[str, Any]:
        if tails is None:
            return read_log_tail(client, r["id"], tail_lines=tail_lines, max_bytes=max_bytes, since=None,
                                 max_line_bytes=max_line_bytes)
        got = tails[index[id(r)]]
        if isinstance(got, Exception):
            raise got
        return got

    def one(item) -> dict[str, Any]:
        r, failing = item
        base = {c: r.get(c) for c in _BASE_COLUMNS}
        base["failing"] = failing
        if base["state"] != "running" and base["health"] not in (None, "none"):
            base["health"] = "none"  # a stopped container keeps its last health status: stale, not news
        before = prev.get(str(r["name"]), prev.get(str(r["service"])))
        base["restart_growth"] = (int(r["restart_count"] or 0) - before) if before is not None else None
        base["events"] = []
        base["error"] = None
        try:
            base.update(tail_of(r))
        except dockerpy.not_found():
            base.update(log_lines=[], log_times=[], log_bytes_read=0, log_truncated=False,
                        error="container removed while gathering evidence")
        except dockerpy.api_errors() as exc:
            base.update(log_lines=[], log_times=[], log_bytes_read=0, log_truncated=False,
                        error=redact.mask_text(f"logs unavailable: {exc.explanation or exc}"))
        return {c: base.get(c) for c in EVIDENCE_COLUMNS}

    if len(picked) <= 1 or tails is not None:  # the tails are read: what is left is Python (no pool)
        out = [one(r) for r in picked]
    else:
        with cf.ThreadPoolExecutor(max_workers=max_workers) as pool:
            out = list(pool.map(one, picked))
    if events and out:
        try:
            evs = gather_events(client, [r["id"] for r in out], since, until)
            for row in out:
                row["events"] = evs.get(str(row["id"])[:12], [])
        except dockerpy.api_errors() as exc:
            notes.append(redact.mask_text(f"events unavailable: {exc}"))
    return out, notes
