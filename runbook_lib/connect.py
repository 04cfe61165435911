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
