"""The one HTTP GET of the probes: one shared httpx client (per TLS policy), one body cap.

``http_get`` reads ``path`` on the spec's target, or from inside its container with the
image's own curl/wget when ``spec.via == "exec"``. The body is capped at
``MAX_BODY_BYTES`` and the whole exchange is bounded by a monotonic deadline. Timeouts
raise ``TimeoutError``, refused connections ``ConnectionRefusedError``, non-HTTP replies
``ProbeDown`` saying so. With no scheme configured, plain HTTP is tried first, then HTTPS
(Elasticsearch 8 / OpenSearch default to TLS).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from runbook_lib.probes.inside import exec_http_get
from runbook_lib.probes.spec import ProbeDown, ProbeSpec
from runbook_lib.probes.wire import remaining

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class HttpReply:
    """Status and (capped) body of one GET; ``via`` host or exec."""

    status: int
    body: str
    via: str = "host"
    scheme: str = "http"

    def json(self, what: str) -> Any:
        """The body as JSON, or down with what we expected."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProbeDown(f"HTTP {self.status} but the body is not JSON: not {what}? "
                            f"body starts {self.body[:60]!r}") from None


_clients_lock = threading.Lock()
_clients: dict[bool, httpx.Client] = {}


def _client(verify: bool = False) -> httpx.Client:
    """The shared client (thread-safe); no keep-alive, so every probe opens a fresh connection."""
    with _clients_lock:
        client = _clients.get(verify)
        if client is None:
            client = _clients[verify] = httpx.Client(
                trust_env=False, follow_redirects=False, verify=verify,
                limits=httpx.Limits(max_keepalive_connections=0, max_connections=1000))
        return client


class _NotHttp(Exception):
    """The peer did not speak HTTP over the scheme tried; ``tls_hint``: it looks like a TLS port."""

    def __init__(self, message: str, tls_hint: bool = False) -> None:
        super().__init__(message)
        self.tls_hint = tls_hint


def http_get(spec: ProbeSpec, path: str, *, auth: tuple[str, str] | None = None,
             deadline: float | None = None, port: int | None = None,
             headers: Mapping[str, str] | None = None, method: str = "GET",
             scheme: str | None = None) -> HttpReply:
    """GET ``path`` on the spec's target (or from inside its container when ``via == "exec"``).

    ``scheme`` (else ``spec.options["scheme"]``) fixes http or https; none: http, then https.
    ``spec.options["verify_tls"]`` checks certificates (off by default: local stacks).
    """
    deadline = deadline if deadline is not None else time.monotonic() + spec.timeout_s
    port = port or spec.port
    if spec.via == "exec":  # port not published: the image's own curl/wget, no credentials
        status, body = exec_http_get(spec, port, path, deadline=deadline)
        return HttpReply(status, body[:MAX_BODY_BYTES], via="exec")
    configured = scheme or spec.options.get("scheme")
    schemes = [str(configured)] if configured else ["http", "https"]
    for i, sch in enumerate(schemes):
        try:
            return _get_once(spec, sch, port, path, auth, deadline, headers, method)
        except _NotHttp as exc:
            if exc.tls_hint and i + 1 < len(schemes) and deadline - time.monotonic() > 0.05:
                continue
            tried = " and ".join(schemes)
            raise ProbeDown(f"no valid HTTP reply over {tried} ({exc}): wrong port, "
                            f"or not a {spec.kind} server?") from None
    raise AssertionError("unreachable")


def _get_once(spec: ProbeSpec, scheme: str, port: int | None, path: str, auth: tuple[str, str] | None,
              deadline: float, headers: Mapping[str, str] | None, method: str) -> HttpReply:
    url = f"{scheme}://{spec.host}:{port}{path}" if port else f"{scheme}://{spec.host}{path}"
    client = _client(bool(spec.options.get("verify_tls", False)))
    try:
        with client.stream(method, url, auth=auth, headers=dict(headers or {}),
                           timeout=remaining(deadline)) as resp:
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_BODY_BYTES:
                    break
                remaining(deadline)
            body = b"".join(chunks)[:MAX_BODY_BYTES].decode("utf-8", errors="replace")
            if scheme == "http" and resp.status_code == 400 and "https" in body.lower():
                raise _NotHttp("http: HTTP 400, the server wants HTTPS", tls_hint=True)
            return HttpReply(resp.status_code, body, scheme=scheme)
    except httpx.TimeoutException:
        raise TimeoutError("timeout") from None
    except httpx.ConnectError as exc:
        text = str(exc)
        if "refused" in text.lower():
            raise ConnectionRefusedError("connection refused") from None
        if scheme == "https" or "ssl" in text.lower() or "tls" in text.lower():
            raise _NotHttp(f"{scheme}: {type(exc).__name__}: {text[:80]}") from None
        raise ProbeDown(f"cannot connect: {text[:150]}") from None
    except httpx.ReadError as exc:  # reset before any reply: what a TLS port does to plaintext
        raise _NotHttp(f"{scheme}: connection reset ({str(exc)[:60]})", tls_hint=scheme == "http") from None
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as exc:
        text = str(exc)
        # a TLS port closes on plaintext, or answers with a TLS alert record (0x15 0x03 …)
        tls_hint = "without sending a response" in text or "\\x15\\x03" in text
        raise _NotHttp(f"{scheme}: {type(exc).__name__}: {text[:80]}", tls_hint=tls_hint) from None
