"""Connecting to a Docker engine: where it is, and why it cannot be reached.

Order of precedence: an explicit URL, then ``DOCKER_HOST``, then the active Docker CLI
context, then the default socket. Every request carries a timeout well under
docker-py's 60 s default; the three ways an engine fails (no daemon, permission
denied, a daemon that accepts but never answers) each raise their own error.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.exceptions import (EngineError, EngineNotRunning, EnginePermissionDenied,
                                    EngineTimeout)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class EngineTarget:
    """Where the engine is and how we learned it."""

    url: str
    source: str  # "explicit" | "DOCKER_HOST" | "context:<name>" | "default"


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _context_host(name: str) -> str | None:
    meta = _docker_config_dir() / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        data = json.loads(meta.read_text())
        return data.get("Endpoints", {}).get("docker", {}).get("Host")
    except (OSError, ValueError):
        return None


def resolve_engine(url: str | None = None) -> EngineTarget:
    """Find the engine URL: explicit, DOCKER_HOST, active context, or the default socket."""
    if url:
        return EngineTarget(_normalise(url), "explicit")
    if os.environ.get("DOCKER_HOST"):
        return EngineTarget(_normalise(os.environ["DOCKER_HOST"]), "DOCKER_HOST")
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((_docker_config_dir() / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError):
            name = None
    if name and name != "default":
        host = _context_host(name)
        if host:
            return EngineTarget(_normalise(host), f"context:{name}")
    return EngineTarget(DEFAULT_SOCKET, "default")


def _normalise(url: str) -> str:
    url = url.strip()
    if url.startswith("/"):
        return "unix://" + url
    return url


def _socket_path(url: str) -> str | None:
    if url.startswith("unix://"):
        return url[len("unix://"):] or "/var/run/docker.sock"
    return None


def _classify(exc: BaseException, target: EngineTarget, timeout_s: float) -> EngineError:
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
    """Return a docker.DockerClient that answered a ping, or raise an EngineError saying why not."""
    import docker  # imported here: the pure modules never need it

    target = resolve_engine(url)
    path = _socket_path(target.url)
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
        client = docker.DockerClient(base_url=target.url, timeout=timeout_s, version="auto")
        client.ping()
    except Exception as exc:  # noqa: BLE001 - classified into our own errors
        raise _classify(exc, target, timeout_s) from None
    client.runbook_target = target  # type: ignore[attr-defined]
    return client


def try_connect(url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
    """Like connect(), but return (client, None) or (None, error) so a report can go on degraded."""
    try:
        return connect(url, timeout_s), None
    except EngineError as exc:
        return None, exc


class EngineHTTP:
    """A lean HTTP/1.1 client for read-only engine calls over one keep-alive connection.

    docker-py spends ~1.3 ms of Python per request (requests + urllib3); a plain
    http.client connection to the same socket spends ~0.2 ms, which is what lets a full
    inventory (list + one inspect per container) beat `docker ps -aq | xargs docker inspect`.
    Used for unix:// and plain tcp:// engines; anything else goes through docker-py.
    """

    def __init__(self, url: str, api_version: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        import http.client

        self.api_version = api_version
        self.timeout_s = timeout_s
        path = _socket_path(url)
        if path is not None:
            class _UnixConnection(http.client.HTTPConnection):
                def connect(self) -> None:  # noqa: D401 - http.client hook
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.settimeout(self.timeout)
                    self.sock.connect(path)
            self._factory = lambda: _UnixConnection("localhost", timeout=timeout_s)
        elif url.startswith(("tcp://", "http://")):
            hostport = url.split("://", 1)[1].rstrip("/")
            self._factory = lambda: http.client.HTTPConnection(hostport, timeout=timeout_s)
        else:
            raise ValueError(f"EngineHTTP does not handle {url}")
        self._conn = None
        self._lock = threading.Lock()

    def get_json(self, path: str, params: dict | None = None):
        """GET /v<api>/<path>; returns (status, decoded JSON or None). Retries once on a stale connection."""
        import http.client
        from urllib.parse import urlencode

        target = f"/v{self.api_version}{path}" + (f"?{urlencode(params)}" if params else "")
        with self._lock:
            try:
                return self._get(target)
            except (socket.timeout, TimeoutError):
                self.close()
                raise EngineTimeout(f"The Docker engine did not answer GET {path} within {self.timeout_s:g} s; "
                                    f"it may be hung or overloaded (raise --engine-timeout).") from None
            except (FileNotFoundError, ConnectionRefusedError):
                self.close()
                raise EngineNotRunning("The Docker engine went away during the run: start it again "
                                       "(`sudo systemctl start docker`).") from None

    def _get(self, target: str):
        import http.client

        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._factory()
            try:
                self._conn.request("GET", target, headers={"Host": "docker"})
                resp = self._conn.getresponse()
                body = resp.read()
                status = resp.status
                if resp.will_close:
                    self.close()
                return status, (json.loads(body) if body else None)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def engine_http(client) -> EngineHTTP | None:
    """The lean HTTP client for this docker client's engine, or None where it does not apply."""
    cached = getattr(client, "_runbook_http", None)
    if cached is not None:
        return cached
    target = getattr(client, "runbook_target", None)
    url = target.url if target else str(client.api.base_url)
    if url.startswith("http+docker://"):
        url = DEFAULT_SOCKET
    try:
        timeout = client.api.timeout if isinstance(client.api.timeout, (int, float)) else DEFAULT_TIMEOUT_S
        lean = EngineHTTP(url, client.api._version, timeout)
    except ValueError:
        return None
    client._runbook_http = lean
    return lean
