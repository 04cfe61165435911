"""Docker CLI contexts, read from the context store the docker CLI writes (no docker-py).

The current context is ``DOCKER_CONTEXT``, else ``currentContext`` in ``config.json`` of the
Docker config folder (``DOCKER_CONFIG``, default ``~/.docker``). A context named N is described
by ``contexts/meta/<sha256 of N>/meta.json``: ``{"Name": N, "Metadata": {...}, "Endpoints":
{"docker": {"Host": URL, "SkipTLSVerify": bool}}}``; its TLS files, when it has some, sit in
``contexts/tls/<sha256 of N>/docker/`` (ca.pem, cert.pem, key.pem).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class DockerContext:
    """One context's docker endpoint and its TLS files (None where it has none)."""

    name: str
    host: str | None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool = True


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The Docker CLI's config folder: ``DOCKER_CONFIG`` or ``~/.docker``."""
    env = os.environ if environ is None else environ
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context_name(environ: Mapping[str, str] | None = None) -> str:
    """``DOCKER_CONTEXT``, else config.json's ``currentContext``, else "default" (an unreadable file too)."""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONTEXT"):
        return str(env["DOCKER_CONTEXT"])
    try:
        doc = json.loads((config_dir(env) / "config.json").read_text())
    except (OSError, ValueError):
        return "default"
    name = doc.get("currentContext") if isinstance(doc, dict) else None
    return str(name) if name else "default"


def load_context(name: str, environ: Mapping[str, str] | None = None) -> DockerContext | None:
    """The named context (None when the store has no such context).

    "default" is the local socket. A meta.json that is not JSON raises ValueError."""
    if name == "default":
        return DockerContext("default", DEFAULT_HOST)
    store = config_dir(environ) / "contexts"
    key = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta_file = store / "meta" / key / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"corrupted meta file for context {name}: {exc}") from None
    endpoint = ((meta.get("Endpoints") or {}) if isinstance(meta, dict) else {}).get("docker") or {}
    if not isinstance(endpoint, dict):
        raise ValueError(f"unknown endpoint format for context {name}")
    tls_dir = store / "tls" / key / "docker"
    files: dict[str, str] = {}
    if tls_dir.is_dir():
        for f in sorted(tls_dir.iterdir()):
            for prefix in ("ca", "cert", "key"):
                if f.name.startswith(prefix):
                    files[prefix] = str(f)
    if not all(k in files for k in ("ca", "cert", "key")):  # as the docker CLI: all three or none
        files = {}
    return DockerContext(str(meta.get("Name") or name), endpoint.get("Host") or None, files.get("ca"),
                         files.get("cert"), files.get("key"), not bool(endpoint.get("SkipTLSVerify", False)))
