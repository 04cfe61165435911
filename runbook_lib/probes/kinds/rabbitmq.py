"""rabbitmq probe kind: RabbitMQ management ``/api/health/checks/alarms``; falls back to an AMQP
header check.
"""
from __future__ import annotations

import struct
import time
from collections.abc import Mapping
from typing import Any


from runbook_lib.probes.http import http_get
from runbook_lib.probes.kinds.base import ProbeKind, basic_auth, outcome, spec_path
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown
from runbook_lib.probes.wire import MAX_REPLY_BYTES, connect, recv_exact

AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def _amqp_table(data: bytes) -> dict[str, Any]:
    """Decode the string fields of an AMQP field table (enough for product/version)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(data):
        n = data[i]
        key = data[i + 1:i + 1 + n].decode("utf-8", errors="replace")
        i += 1 + n
        t = data[i:i + 1]
        i += 1
        if t == b"S":
            (ln,) = struct.unpack_from(">I", data, i)
            out[key] = data[i + 4:i + 4 + ln].decode("utf-8", errors="replace")
            i += 4 + ln
        elif t == b"F":
            (ln,) = struct.unpack_from(">I", data, i)
            i += 4 + ln
        elif t in (b"t", b"b", b"B"):
            i += 1
        elif t in (b"s", b"u"):
            i += 2
        elif t in (b"I", b"i", b"f"):
            i += 4
        elif t in (b"l", b"L", b"d", b"T"):
            i += 8
        else:
            break
    return out


def amqp_handshake(host: str, port: int, deadline: float) -> dict[str, Any]:
    """Send the AMQP 0-9-1 protocol header; expect a Connection.Start frame → server properties."""
    with connect(host, port, deadline) as sock:
        sock.sendall(AMQP_HEADER)
        head = recv_exact(sock, 7, deadline)
        if head.startswith(b"AMQP"):
            rest = head[4:] + recv_exact(sock, 1, deadline)
            raise ProbeDown(f"broker refused AMQP 0-9-1 and offered protocol {tuple(rest)}")
        ftype, channel, size = struct.unpack(">BHI", head)
        if ftype != 1 or channel != 0 or not 4 <= size <= MAX_REPLY_BYTES:
            raise ProbeDown("reply is not an AMQP method frame: not the AMQP port, or not RabbitMQ?")
        payload = recv_exact(sock, size + 1, deadline)
    if payload[-1:] != b"\xce":
        raise ProbeDown("AMQP frame without frame-end marker: not an AMQP broker?")
    class_id, method_id, major, minor = struct.unpack_from(">HHBB", payload)
    if (class_id, method_id) != (10, 10):
        raise ProbeDown(f"first AMQP method is {class_id}.{method_id}, not Connection.Start")
    props: dict[str, Any] = {}
    try:
        (tlen,) = struct.unpack_from(">I", payload, 6)
        props = _amqp_table(payload[10:10 + tlen])
    except (struct.error, IndexError):
        props = {}
    props["protocol"] = f"{major}-{minor}-1" if (major, minor) == (0, 9) else f"{major}-{minor}"
    return props


class RabbitMQ(ProbeKind):
    """The rabbitmq probe kind."""

    name = "rabbitmq"
    libraries = ('httpx',)
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """RabbitMQ management ``/api/health/checks/alarms``; falls back to an AMQP header check.

        ``spec.port`` is the management port (15672); ``options["amqp_port"]`` the AMQP port
        (5672) for the fallback, or ``options["protocol"] = "amqp"`` to check AMQP only.
        """
        deadline = time.monotonic() + spec.timeout_s
        amqp_port = spec.options.get("amqp_port")
        amqp_only = spec.options.get("protocol") == "amqp" or (amqp_port and int(amqp_port) == spec.port)
        note = None
        if spec.port and not amqp_only:
            auth = None if spec.via == "exec" else (basic_auth(spec) or ("guest", "guest"))
            budget = deadline if not amqp_port or spec.via == "exec" else time.monotonic() + spec.timeout_s / 2
            try:
                r = http_get(spec, spec_path(spec, "/api/health/checks/alarms"), auth=auth, deadline=budget)
                if r.status == 200:
                    return outcome("up", "management API: no alarms", via=r.via)
                if r.status == 503:
                    data = r.json("RabbitMQ management API")
                    alarms = data.get("alarms") if isinstance(data, Mapping) else None
                    detail = [{"component": f"alarm {a.get('resource', '?')}", "status": "down",
                               "message": a.get("node")} for a in (alarms or []) if isinstance(a, Mapping)]
                    reason = data.get("reason") if isinstance(data, Mapping) else None
                    return outcome("degraded", "alarms in effect", via=r.via, detail=detail,
                                    error=f"{reason or 'alarms in effect'}: publishers are blocked")
                note = f"management API HTTP {r.status}" + (
                    " (credentials refused: check RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS)" if r.status == 401 else "")
            except (ProbeDown, OSError) as exc:  # TimeoutError and refused are OSErrors
                note = f"management API: {exc or type(exc).__name__}"
            if not amqp_port or spec.via == "exec":
                if note and "HTTP 401" in note:
                    if spec.via == "exec" or not spec.options.get("password"):
                        raise ProbeUnknown("missing credentials: the management API needs RABBITMQ_DEFAULT_USER/PASS "
                                           "(not sent through docker exec)")
                    raise ProbeDown("authentication failed: check RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS")
                raise ProbeDown(note or "management API gave no answer")
        port = int(amqp_port or spec.port or 5672)
        if spec.via == "exec":
            raise ProbeUnknown("port not published: the AMQP check runs only on a published port")
        props = amqp_handshake(spec.host, port, deadline)
        reply = f"AMQP {props['protocol']} Connection.Start ({props.get('product', '?')} {props.get('version', '')})".strip()
        if note:
            reply += f"; {note}"
        return ProbeOutcome("up", reply=reply, target=f"{spec.host}:{port}" if amqp_port and not amqp_only else None)
