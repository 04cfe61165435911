"""kafka probe kind: Kafka: ApiVersions v0 over the wire protocol, then Metadata v1 (brokers, controller)."""
from __future__ import annotations

import socket
import struct
import time

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown
from runbook_lib.probes.wire import connect, recv_exact, remaining

KAFKA_API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
                   9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 18: "ApiVersions"}
KAFKA_ERRORS = {35: "UNSUPPORTED_VERSION", 5: "LEADER_NOT_AVAILABLE", 6: "NOT_LEADER_OR_FOLLOWER"}
_CLIENT_ID = b"runbook-probe"


class _KafkaReader:
    """Big-endian reader over one response; a short or malformed reply raises ProbeDown."""

    def __init__(self, data: bytes) -> None:
        self.data, self.i = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.i + size > len(self.data):
            raise ProbeDown("malformed Kafka response (truncated): not a Kafka broker?")
        out = struct.unpack_from(fmt, self.data, self.i)
        self.i += size
        return out

    def string(self) -> str | None:
        (n,) = self.take(">h")
        if n < 0:
            return None
        if self.i + n > len(self.data):
            raise ProbeDown("malformed Kafka response (string): not a Kafka broker?")
        s = self.data[self.i:self.i + n].decode("utf-8", errors="replace")
        self.i += n
        return s

    def count(self, limit: int = 10000) -> int:
        (n,) = self.take(">i")
        if n < -1 or n > limit:
            raise ProbeDown(f"malformed Kafka response (array of {n}): not a Kafka broker?")
        return max(n, 0)


def _kafka_call(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes,
                deadline: float) -> _KafkaReader:
    """One request (header v1: api_key, api_version, correlation_id, client_id) → response body reader."""
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    msg = header + body
    sock.settimeout(remaining(deadline))
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", recv_exact(sock, 4, deadline))
    if size < 4 or size > 16 * 1024 * 1024:
        raise ProbeDown(f"reply is not a Kafka frame (size {size}): wrong port, or not a Kafka broker?")
    data = recv_exact(sock, size, deadline)
    (cid,) = struct.unpack_from(">i", data)
    if cid != correlation_id:
        raise ProbeDown(f"Kafka reply has correlation id {cid}, expected {correlation_id}: not a Kafka broker?")
    r = _KafkaReader(data)
    r.i = 4
    return r


def kafka_api_versions(sock: socket.socket, deadline: float) -> tuple[int, dict[int, tuple[int, int]]]:
    """ApiVersions v0 → (error_code, {api_key: (min, max)})."""
    r = _kafka_call(sock, 18, 0, 1, b"", deadline)
    (error_code,) = r.take(">h")
    n = r.count(1000)
    apis = {}
    for _ in range(n):
        key, lo, hi = r.take(">hhh")
        apis[key] = (lo, hi)
    if r.i != len(r.data):
        raise ProbeDown("ApiVersions reply has trailing bytes: not a Kafka broker?")
    return error_code, apis


def kafka_metadata(sock: socket.socket, deadline: float) -> tuple[list[dict], int]:
    """Metadata v1 with no topics → (brokers, controller_id)."""
    r = _kafka_call(sock, 3, 1, 2, struct.pack(">i", 0), deadline)
    brokers = []
    for _ in range(r.count()):
        (node_id,) = r.take(">i")
        host = r.string()
        (port,) = r.take(">i")
        rack = r.string()
        brokers.append({"node_id": node_id, "host": host, "port": port, "rack": rack})
    (controller_id,) = r.take(">i")
    return brokers, controller_id


class Kafka(ProbeKind):
    """The kafka probe kind."""

    name = "kafka"

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Kafka: ApiVersions v0 over the wire protocol, then Metadata v1 (brokers, controller)."""
        if not spec.port:
            raise ProbeUnknown("no port to probe: add one in runbook.yaml")
        deadline = time.monotonic() + spec.timeout_s
        with connect(spec.host, spec.port, deadline) as sock:
            error_code, apis = kafka_api_versions(sock, deadline)
            if error_code != 0:
                name = KAFKA_ERRORS.get(error_code, str(error_code))
                return ProbeOutcome("degraded", reply=f"ApiVersions error {name}",
                                    error=f"broker answered ApiVersions with error {name}")
            reply = f"ApiVersions ok ({len(apis)} APIs)"
            lo, hi = apis.get(3, (0, -1))
            if not lo <= 1 <= hi:
                return ProbeOutcome("up", reply=reply + "; Metadata v1 unsupported")
            brokers, controller = kafka_metadata(sock, deadline)
        detail = [{"component": f"broker {b['node_id']}", "status": "up", "message": f"{b['host']}:{b['port']}"}
                  for b in brokers]
        reply += f", {len(brokers)} broker(s), controller {controller}"
        if controller < 0:
            return ProbeOutcome("degraded", reply=reply, detail=detail,
                                error="no active controller: the cluster cannot elect leaders (check ZooKeeper/KRaft)")
        return ProbeOutcome("up", reply=reply, detail=detail)
