"""The pipelined inspects' own HTTP/1.1 reader (transport.get_many) on tricky answers.

A scripted server on 127.0.0.1 answers each pipelined request with the bytes the test gives:
chunked bodies, interim and empty answers, a hang-up announced with ``Connection: close``, a
body cut short, an answer with no framing, and one that comes after the deadline.
"""
from __future__ import annotations

import json
import socket

import pytest
from servers import LocalServer

from runbook_lib.engine.transport import EngineHTTP, get_many
from runbook_lib.exceptions import EngineNotRunning, EngineTimeout


def ok(body: object, extra: bytes = b"") -> bytes:
    raw = json.dumps(body).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        extra, len(raw), raw)


def chunked(body: object, sizes: tuple[int, ...] = (3, 5)) -> bytes:
    raw, out, i = json.dumps(body).encode(), [], 0
    for n in sizes:
        if i < len(raw):
            out.append(b"%x;ext=1\r\n%s\r\n" % (len(raw[i:i + n]), raw[i:i + n]))
            i += n
    if i < len(raw):
        out.append(b"%X\r\n%s\r\n" % (len(raw) - i, raw[i:]))
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            + b"".join(out) + b"0\r\nX-Trailer: t\r\n\r\n")


class ScriptServer(LocalServer):
    """Connection n answers its requests with ``scripts[n]``: bytes to send, or ("sleep", s), or "close"."""

    def __init__(self, scripts: list[list]) -> None:
        self.scripts = scripts
        super().__init__()

    def _serve(self, conn: socket.socket, n: int) -> None:
        script = self.scripts[min(n, len(self.scripts) - 1)]
        with conn:
            conn.settimeout(5)
            pending = b""
            try:
                for step in script:
                    if step == "close":
                        return
                    if isinstance(step, tuple):
                        self.stop.wait(step[1])
                        continue
                    while b"\r\n\r\n" not in pending:  # one answer per request, in order
                        data = conn.recv(65536)
                        if not data:
                            return
                        pending += data
                    pending = pending.split(b"\r\n\r\n", 1)[1]
                    conn.sendall(step)
                self.stop.wait(10)  # keep the connection open: the client decides
            except OSError:
                return


@pytest.fixture
def serve():
    made = []

    def make(*scripts: list) -> tuple[ScriptServer, EngineHTTP]:
        srv = ScriptServer(list(scripts))
        made.append(srv)
        return srv, EngineHTTP(srv.url, "1.41", timeout_s=5, deadline_s=1.0)
    yield make
    for srv in made:
        srv.close()


def test_chunked_interim_empty_and_error_answers(serve):
    cont = b"HTTP/1.1 100 Continue\r\n\r\n"
    empty = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    missing = (b"HTTP/1.1 404 Not Found\r\ncontent-length: 27\r\nContent-Type: application/json\r\n\r\n"
               b'{"message":"no such thing"}')
    srv, lean = serve([chunked({"Id": "a", "Env": ["A=1"] * 20}), cont + ok({"b": 2}), empty, missing,
                       ok(["not", "json"], b"X-Long: " + b"y" * 5000 + b"\r\n"),
                       b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"])
    got = get_many(lean, [f"/containers/{i}/json" for i in range(6)])
    assert got == [(200, {"Id": "a", "Env": ["A=1"] * 20}), (200, {"b": 2}), (204, None),
                   (404, {"message": "no such thing"}), (200, ["not", "json"]), (200, "hello")]
    assert srv.connections == 1


def test_connection_close_goes_on_on_a_new_connection(serve):
    first = [ok({"n": 0}), ok({"n": 1}, b"Connection: close\r\n"), "close"]
    srv, lean = serve(first, [ok({"n": 2}), ok({"n": 3})])
    assert get_many(lean, [f"/x/{i}" for i in range(4)]) == [(200, {"n": i}) for i in range(4)]
    assert srv.connections == 2


def test_an_answer_without_framing_ends_with_the_stream(serve):
    srv, lean = serve([b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1, 2]", "close"],
                      [ok({"n": 1})])
    assert get_many(lean, ["/a", "/b"]) == [(200, [1, 2]), (200, {"n": 1})]
    assert srv.connections == 2


@pytest.mark.parametrize("cut", ["body", "chunk", "head"])
def test_an_answer_cut_short_is_an_engine_that_went_away(serve, cut):
    answer = {"body": ok({"long": "x" * 100})[:-20], "chunk": chunked({"long": "x" * 100})[:-30],
              "head": b"HTTP/1.1 200 OK\r\nContent-Le"}[cut]
    _, lean = serve([ok({"n": 0}), answer, "close"])
    with pytest.raises(EngineNotRunning):
        get_many(lean, ["/a", "/b", "/c"])


def test_a_hang_up_before_any_answer_is_an_engine_that_went_away(serve):
    _, lean = serve(["close"])
    with pytest.raises(EngineNotRunning):
        get_many(lean, ["/a"])


def test_garbage_instead_of_a_status_line(serve):
    _, lean = serve([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"])
    with pytest.raises(EngineNotRunning):
        get_many(lean, ["/a"])


def test_a_slow_answer_past_its_deadline_times_out(serve):
    """The first answer comes at once, the second only after the per-answer deadline (1 s)."""
    _, lean = serve([ok({"n": 0}), ("sleep", 3), ok({"n": 1})])
    with pytest.raises(EngineTimeout) as err:  # a client that waited 3 s would have had the answer
        get_many(lean, ["/a", "/b"])
    assert "GET /b within 1 s" in str(err.value)
