"""The keep-alive engine transport: a total deadline per call, and one connection reused."""
from __future__ import annotations

import socket
import time

import pytest
from servers import LocalServer

from runbook_lib.engine import connection as connect
from runbook_lib.engine import logs
from runbook_lib.engine.pipeline import stream_many
from runbook_lib.engine.transport import EngineHTTP, get_many, read_stream
from runbook_lib.exceptions import EngineNotFound, EngineTimeout

TRICKLE_GAP_S = 0.05  # far under the per-read timeout: only a total deadline can stop it


class TrickleServer(LocalServer):
    """Answers every request slowly, one byte per gap: the headers or a long body (bounded)."""

    def __init__(self, family: int, address, part: str) -> None:
        self.part = part
        super().__init__(family, address)

    def _serve(self, conn: socket.socket, n: int) -> None:
        body = b"[" + b" " * 2000 + b"]"
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        with conn:
            conn.settimeout(5)
            try:
                while b"\r\n\r\n" not in conn.recv(65536):
                    pass
                self.requests += 1
                data = head + body
                fast = len(head) if self.part == "body" else 0
                conn.sendall(data[:fast])
                for i in range(fast, len(data)):  # ~100 s in all if nobody hangs up
                    if self.stop.is_set():
                        return
                    conn.sendall(data[i:i + 1])
                    time.sleep(TRICKLE_GAP_S)
            except OSError:
                return


@pytest.fixture(params=["unix", "tcp"])
def engine_url_factory(request, tmp_path):
    made = []

    def make(part: str) -> str:
        if request.param == "unix":
            path = str(tmp_path / f"trickle-{part}.sock")
            made.append(TrickleServer(socket.AF_UNIX, path, part))
            return f"unix://{path}"
        srv = TrickleServer(socket.AF_INET, ("127.0.0.1", 0), part)
        made.append(srv)
        return f"tcp://127.0.0.1:{srv.srv.getsockname()[1]}"
    yield make
    for srv in made:
        srv.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_trickling_server_fails_at_the_deadline(engine_url_factory, part):
    """Each byte comes well within the per-read timeout; the call's total deadline still ends it."""
    lean = EngineHTTP(engine_url_factory(part), "1.41", timeout_s=30, deadline_s=0.5)
    with pytest.raises(EngineTimeout) as err:
        lean.get_json("/containers/json")
    assert "within 0.5 s" in str(err.value)


def test_connect_to_a_trickling_engine_times_out(engine_url_factory):
    with pytest.raises(EngineTimeout) as err:
        connect.connect(engine_url_factory("headers"), timeout_s=0.5)
    assert "did not answer within 0.5 s" in str(err.value)


def test_one_keep_alive_connection_and_no_attributes_on_the_client(docker_client):
    client = connect.connect(timeout_s=10)
    before = set(vars(client))
    lean = connect.engine_http(client)
    assert lean is connect.engine_http(client) and lean.api_version == client.api.api_version
    assert connect.engine_target(client).url.startswith("unix://")
    for _ in range(3):
        status, body = lean.get_json("/version")
        assert status == 200 and body["ApiVersion"]
    assert set(vars(client)) == before


def test_a_client_made_elsewhere_gets_a_target_and_transport(docker_client):
    target = connect.engine_target(docker_client)
    assert target.url.startswith("unix://")
    status, _ = connect.engine_http(docker_client).get_json("/_ping")
    assert status == 200


class HangUpServer(LocalServer):
    """Answers one request per connection, then hangs up without saying so (a keep-alive expiry)."""

    def _serve(self, conn: socket.socket, n: int) -> None:
        body = b'{"ok": true}'
        with conn:
            conn.settimeout(5)
            try:
                while b"\r\n\r\n" not in conn.recv(65536):
                    pass
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass


def test_a_connection_the_engine_closed_is_replaced_once():
    srv = HangUpServer()
    try:
        lean = EngineHTTP(f"tcp://127.0.0.1:{srv.srv.getsockname()[1]}", "1.41", timeout_s=5)
        for _ in range(3):
            assert lean.get_json("/info") == (200, {"ok": True})
        assert srv.connections == 3
    finally:
        srv.close()


def test_a_trickling_stream_keeps_what_came_by_the_deadline(engine_url_factory):
    """read_stream (logs): a body still arriving at the deadline is cut there, not an error."""
    lean = EngineHTTP(engine_url_factory("body"), "1.41", timeout_s=30)
    got: list[bytes] = []
    status, body, timed_out = read_stream(lean, "/containers/x/logs", None,
                                          lambda chunk, ctype: got.append(chunk) or True, deadline_s=0.5)
    assert (status, body, timed_out) == (200, None, True)
    assert b"".join(got).startswith(b"[")


class _DockerPyOnly:
    """The same engine through docker-py only (what ssh:// and TLS engines use)."""

    def __init__(self, client) -> None:
        self.api = client.api


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize("script", ["echo one; echo two >&2; printf 'no newline'", "printf ok",
                                    "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"])
def test_log_tail_over_the_transport_equals_docker_py(docker_client, containers, tty, script):
    c = containers(["sh", "-c", script], tty=tty)
    c.wait(timeout=60)
    for kw in ({}, {"timestamps": False}, {"tail_lines": 5}, {"max_read_bytes": 20}):
        lean = logs.read_log_tail(docker_client, c.id, **kw)
        slow = logs.read_log_tail(_DockerPyOnly(docker_client), c.id, **kw)
        if kw.get("max_read_bytes"):  # both stop at the first chunk past the cap (docker-py's TTY chunks are 1 byte)
            assert lean["log_truncated"] and slow["log_truncated"]
            assert lean["log_bytes_read"] >= 20 and slow["log_bytes_read"] >= 20
        else:
            assert lean == slow, kw


def test_log_tail_of_a_removed_container_is_not_found(docker_client):
    with pytest.raises(EngineNotFound):  # runbook's own: the lean transport imports no docker-py
        logs.read_log_tail(docker_client, "0" * 64)


@pytest.mark.parametrize("part", ["headers", "body"])
def test_pipelined_gets_fail_at_the_deadline(engine_url_factory, part):
    """get_many (the inventory's inspects): the same total deadline per answer as one GET."""
    lean = EngineHTTP(engine_url_factory(part), "1.41", timeout_s=30, deadline_s=0.5)
    with pytest.raises(EngineTimeout) as err:
        get_many(lean, ["/containers/a/json", "/containers/b/json"])
    assert "within 0.5 s" in str(err.value)


def test_pipelined_gets_go_on_when_the_engine_hangs_up():
    srv = HangUpServer()
    try:
        lean = EngineHTTP(f"tcp://127.0.0.1:{srv.srv.getsockname()[1]}", "1.41", timeout_s=5)
        assert get_many(lean, [f"/containers/{i}/json" for i in range(3)]) == [(200, {"ok": True})] * 3
        assert srv.connections == 3
    finally:
        srv.close()


def test_pipelined_gets_equal_one_at_a_time(docker_client, containers):
    made = [containers(["sleep", "60"], name=f"pipe{i}") for i in range(3)]  # only these: others change state
    lean = connect.engine_http(docker_client)
    paths = [f"/containers/{c.id}/json" for c in made] + ["/containers/nosuchcontainer/json"]
    many = get_many(lean, paths)
    assert many == [lean.get_json(p) for p in paths] and many[-1][0] == 404


def test_pipelined_log_tails_equal_one_by_one(docker_client, containers):
    """read_log_tails (pipelined, as gather_evidence reads them) gives what read_log_tail gives one by
    one: framed and TTY logs, a cut at max_read_bytes (the rest go out again on a new connection),
    a container that is gone (its EngineNotFound in its place)."""
    made = [containers(["sh", "-c", script], tty=tty)
            for tty in (False, True)
            for script in ("echo one; echo two >&2; printf 'no newline'", "printf ok",
                           "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done")]
    for c in made:
        c.wait(timeout=60)
    ids = [c.id for c in made] + ["0" * 64] + [made[0].id]
    for kw in ({}, {"timestamps": False}, {"tail_lines": 5}, {"max_read_bytes": 20}):
        many = logs.read_log_tails(docker_client, ids, **kw)
        for cid, got in zip(ids, many):
            if cid == "0" * 64:
                assert isinstance(got, EngineNotFound)
                continue
            assert got == logs.read_log_tail(docker_client, cid, **kw), (cid, kw)


@pytest.mark.parametrize("part", ["headers", "body"])
def test_pipelined_streams_keep_the_deadline(engine_url_factory, part):
    """stream_many (the log tails of a diagnosis): a body still arriving at its deadline is cut there
    and kept (the next request goes out again on a new connection); no answer at all is EngineTimeout."""
    lean = EngineHTTP(engine_url_factory(part), "1.41", timeout_s=30)
    got: list[list[bytes]] = [[], []]
    requests = [(f"/containers/{i}/logs", None, lambda chunk, ctype, i=i: got[i].append(chunk) or True)
                for i in range(2)]
    if part == "headers":
        with pytest.raises(EngineTimeout, match="within 0.5 s"):
            stream_many(lean, requests, deadline_s=0.5)
        return
    assert stream_many(lean, requests, deadline_s=0.5) == [(200, None, True), (200, None, True)]
    assert all(b"".join(g).startswith(b"[") for g in got)
