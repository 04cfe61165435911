"""Connecting to a Docker engine: where it is, and why it cannot be reached.

Order of precedence: an explicit URL, then ``DOCKER_HOST``, then the active Docker CLI
context (read from the CLI's context store, ``engine.contexts``), then the default socket. Every request
carries a timeout well under docker-py's 60 s default, and the ping a total deadline; the
three ways an engine fails (no daemon, permission denied, a daemon that accepts but never
answers) each raise their own error.

What runbook knows about a client (where its engine is, its keep-alive transport) is kept
beside the client, never patched onto it: ``engine_target(client)``, ``engine_http(client)``.

``connect()`` returns the lean ``engine.client.EngineClient`` (no docker SDK imported) for
``unix://`` and plain ``tcp://`` engines, and a docker-py client (``engine.dockerpy``) for the
others; docker-py clients made elsewhere (tests, notebooks) are accepted everywhere too.
"""
from __future__ import annotations

import os
import socket
import weakref
from dataclasses import dataclass
from typing import Any

from runbook_lib.engine import dockerpy
from runbook_lib.engine.client import EngineClient
from runbook_lib.engine.contexts import current_context_name, load_context
from runbook_lib.engine.transport import DEFAULT_TIMEOUT_S, EngineHTTP, socket_path
from runbook_lib.exceptions import (EngineError, EngineNotRunning, EnginePermissionDenied,
                                    EngineTimeout)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class EngineTarget:
    """Where the engine is and how we learned it."""

    url: str
    source: str  # "explicit" | "DOCKER_HOST" | "context:<name>" | "default" | "client"


@dataclass
class _Attached:
    target: EngineTarget
    http: EngineHTTP | None = None
    http_made: bool = False
    host: str | None = None  # the host name it was connected as (several engines)


# What runbook knows about each client it connected, kept beside the client (never on it).
_ATTACHED: weakref.WeakKeyDictionary[Any, _Attached] = weakref.WeakKeyDictionary()


def _context_host(name: str | None) -> tuple[str, str] | None:
    """(context name, engine host) of the named or current Docker CLI context (None: the default)."""
    name = name or current_context_name()
    if name == "default":
        return None
    try:
        ctx = load_context(name)
    except ValueError:  # a corrupt meta.json: as docker-py, the default engine
        return None
    if ctx is None or ctx.name == "default":
        return None
    return (ctx.name, ctx.host) if ctx.host else None


def resolve_engine(url: str | None = None) -> EngineTarget:
    """Find the engine URL: explicit, DOCKER_HOST, active context, or the default socket."""
    if url:
        return EngineTarget(_normalise(url), "explicit")
    if os.environ.get("DOCKER_HOST"):
        return EngineTarget(_normalise(os.environ["DOCKER_HOST"]), "DOCKER_HOST")
    found = _context_host(os.environ.get("DOCKER_CONTEXT") or None)
    if found:
        return EngineTarget(_normalise(found[1]), f"context:{found[0]}")
    return EngineTarget(DEFAULT_SOCKET, "default")


def _normalise(url: str) -> str:
    url = url.strip()
    if url.startswith("/"):
        return "unix://" + url
    return url


def classify_error(exc: BaseException, target: EngineTarget, timeout_s: float) -> EngineError:
    """Map a low-level failure to one of the three actionable engine errors."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.append(e)
        for nxt in (e.__cause__, e.__context__, *[a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]):
            if nxt is not None:
                todo.append(nxt)
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    text = " ".join(f"{type(e).__name__}: {e}" for e in seen).lower()
    where = f"{target.url} (from {target.source})"
    if any(isinstance(e, PermissionError) for e in seen) or "permission denied" in text:
        return EnginePermissionDenied(
            f"Permission denied on the Docker socket {where}. Run as root, or add your user to the "
            f"'docker' group (sudo usermod -aG docker $USER, then log in again).")
    if any(isinstance(e, (socket.timeout, TimeoutError)) for e in seen) or "timed out" in text or "timeout" in text:
        return EngineTimeout(
            f"The Docker engine at {where} accepted the connection but did not answer within "
            f"{timeout_s:g} s. The daemon may be hung or overloaded: check `systemctl status docker` or "
            f"the dockerd log, restart the daemon, or raise the timeout (--engine-timeout).")
    if any(isinstance(e, (FileNotFoundError, ConnectionRefusedError)) for e in seen) or \
            "no such file" in text or "connection refused" in text or "name or service not known" in text:
        return EngineNotRunning(
            f"No Docker engine answers at {where}: the daemon is not running or the socket is missing. "
            f"Start it (`sudo systemctl start docker`, or `sudo dockerd &`), or point DOCKER_HOST / "
            f"--engine-url at a running engine.")
    return EngineNotRunning(f"Cannot use the Docker engine at {where}: {exc}. Check that dockerd is running "
                            f"and DOCKER_HOST / --engine-url is right.")


def connect(url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
    """Return a client that answered a ping, or raise an EngineError saying why not.

    ``unix://`` and plain ``tcp://``: the lean ``EngineClient`` (its ``api_version`` read from
    GET /version, as docker-py's ``version="auto"``); other URLs: a docker-py client."""
    target = resolve_engine(url)
    path = socket_path(target.url)
    if path is not None:
        if not os.path.exists(path):
            raise EngineNotRunning(
                f"No Docker engine: the socket {path} does not exist (engine from {target.source}). "
                f"Start the daemon (`sudo systemctl start docker`, or `sudo dockerd &`), or set DOCKER_HOST.")
        if not os.access(path, os.R_OK | os.W_OK):
            raise EnginePermissionDenied(
                f"Permission denied on the Docker socket {path}. Run as root, or add your user to the "
                f"'docker' group (sudo usermod -aG docker $USER, then log in again).")
    try:
        lean = EngineHTTP(target.url, None, timeout_s)
    except ValueError:  # ssh://, TLS: docker-py only
        lean = None
    try:
        if lean is not None:  # the ping has a total deadline: a trickling server cannot hold us
            lean.get("/_ping")
            status, version = lean.get_json("/version")
            if status != 200 or not isinstance(version, dict) or not version.get("ApiVersion"):
                raise EngineNotRunning(f"GET /version answered HTTP {status}: {version}")
            lean.api_version = str(version["ApiVersion"])
            client: Any = EngineClient(target.url, lean, timeout_s)
        else:
            client = dockerpy.docker_client(target.url, timeout_s)
            client.ping()
    except Exception as exc:  # noqa: BLE001 - classified into our own errors
        if lean is not None:
            lean.close()
        raise classify_error(exc, target, timeout_s) from None
    _ATTACHED[client] = _Attached(target, lean, http_made=True)
    return client


def try_connect(url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
    """Like connect(), but return (client, None) or (None, error) so a report can go on degraded."""
    try:
        return connect(url, timeout_s), None
    except EngineError as exc:
        return None, exc




def engine_target(client: Any) -> EngineTarget:
    """Where this client's engine is: as resolved by connect(), or read from the client's base URL."""
    attached = _ATTACHED.get(client)
    if attached is not None:
        return attached.target
    url = str(client.api.base_url)
    if url.startswith("http+docker://"):
        url = DEFAULT_SOCKET
    return EngineTarget(url, "client")


def attach_target(client: Any, target: EngineTarget, *, host: str | None = None) -> None:
    """Record where a client made elsewhere (several engines, ssh, TLS) points, beside the client."""
    known = _ATTACHED.get(client)
    if known is not None and known.target == target:
        known.host = host  # keep its keep-alive transport
    else:
        _ATTACHED[client] = _Attached(target, host=host)


def engine_host(client: Any) -> str | None:
    """The host name a client was connected as (None for the single local engine)."""
    attached = _ATTACHED.get(client)
    return attached.host if attached is not None else None


def engine_http(client: Any) -> EngineHTTP | None:
    """The keep-alive transport for this client's engine (made once), or None where it does not apply."""
    if isinstance(client, EngineClient):
        return client.http
    attached = _ATTACHED.get(client)
    if attached is None:
        attached = _ATTACHED.setdefault(client, _Attached(engine_target(client)))
    if not attached.http_made:
        timeout = client.api.timeout if isinstance(client.api.timeout, (int, float)) else DEFAULT_TIMEOUT_S
        try:
            attached.http = EngineHTTP(attached.target.url, client.api.api_version, timeout)
        except ValueError:
            attached.http = None
        attached.http_made = True
    return attached.http
