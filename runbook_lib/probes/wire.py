"""Socket and byte helpers for the wire-protocol kinds, each bounded by a monotonic deadline."""
from __future__ import annotations

import socket
import time

MAX_REPLY_BYTES = 64 * 1024


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (``time.monotonic()``); ``TimeoutError`` when none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timeout")
    return left


def connect(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection (no Nagle) opened within the deadline."""
    sock = socket.create_connection((host, int(port)), timeout=remaining(deadline))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    """Exactly ``n`` bytes, or ``ConnectionResetError`` when the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        sock.settimeout(remaining(deadline))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_all(sock: socket.socket, deadline: float, limit: int = MAX_REPLY_BYTES) -> bytes:
    """Everything until the peer closes (at most ``limit`` bytes)."""
    buf = bytearray()
    while len(buf) < limit:
        sock.settimeout(remaining(deadline))
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)
