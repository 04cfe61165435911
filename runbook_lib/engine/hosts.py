"""Several Docker engines, named one way everywhere: ``NAME=URL``, a URL, or a Docker context.

Where the hosts come from (first that names any): ``--host NAME=URL`` (repeatable), the
``RUNBOOK_HOSTS`` environment variable (comma- or space-separated entries), ``hosts:`` in
``runbook.yaml``. Each entry is ``NAME=URL``, a bare URL (named after its host part), or a
Docker context name (its docker endpoint, read from the CLI's context store: ``engine.contexts``).

URLs: ``unix:///path``, ``tcp://host:port`` (plain, or TLS with client certificates:
``?cert_path=DIR`` holding ca.pem, cert.pem and key.pem, or ``tls_ca``/``tls_cert``/
``tls_key`` in the URL or the config entry; ``DOCKER_CERT_PATH`` when ``DOCKER_TLS_VERIFY``
is set), and ``ssh://user@host[:port]`` (docker-py shells out to the ``ssh`` client). Only TLS and
ssh:// engines use docker-py (through ``engine.dockerpy``); plain ones get the lean client.

``connect_host`` returns a client that answered a ping, or raises the actionable
``EngineError`` of ``engine.connection``; ``HostAudit`` is an audit log that names the
engine host in every record it writes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runbook_lib import redact
from runbook_lib.config import RunbookConfig
from runbook_lib.engine import dockerpy
from runbook_lib.engine.audit_log import AuditLog
from runbook_lib.engine.connection import (DEFAULT_TIMEOUT_S, EngineTarget, attach_target, classify_error,
                                           connect, engine_target)
from runbook_lib.engine.contexts import DEFAULT_HOST, load_context
from runbook_lib.exceptions import ConfigError, EngineError

ENV_VAR = "RUNBOOK_HOSTS"
SCHEMES = ("unix", "tcp", "ssh", "http", "https")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_TLS_KEYS = ("tls_ca", "tls_cert", "tls_key", "cert_path", "tls_verify")


@dataclass(frozen=True)
class HostSpec:
    """One named engine: where it is, how to authenticate, where the name came from."""

    name: str
    url: str
    source: str = "explicit"  # "--host" | "RUNBOOK_HOSTS" | "config" | "context:<name>"
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool = True
    timeout_s: float | None = None

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0].lower()

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_cert or self.tls_ca) or self.scheme == "https"

    @property
    def display_url(self) -> str:
        """The URL without its query (certificate paths) and with any password masked."""
        return redact.mask_text(self.url.split("?", 1)[0])


def _fail(entry: str, why: str) -> ConfigError:
    return ConfigError(f"host '{redact.mask_text(entry)}': {why}. Fix: name hosts as NAME=URL, e.g. "
                       f"--host prod=ssh://ops@prod.example --host lab=unix:///var/run/docker.sock "
                       f"--host edge=tcp://10.0.0.5:2376?cert_path=~/.docker/edge, or give a Docker context name.")


def _tls_from(options: Mapping[str, Any], entry: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cert_path = options.get("cert_path")
    if cert_path:
        d = Path(str(cert_path)).expanduser()
        out.update(tls_ca=str(d / "ca.pem"), tls_cert=str(d / "cert.pem"), tls_key=str(d / "key.pem"))
    tls = options.get("tls")
    if isinstance(tls, Mapping):
        options = {**options, **{f"tls_{k}": v for k, v in tls.items()}}
    for key in ("tls_ca", "tls_cert", "tls_key"):
        if options.get(key):
            out[key] = str(Path(str(options[key])).expanduser())
    if "tls_verify" in options:
        out["tls_verify"] = str(options["tls_verify"]).lower() not in ("0", "false", "no", "off")
    if bool(out.get("tls_cert")) != bool(out.get("tls_key")):
        raise _fail(entry, "a TLS client certificate needs both tls_cert and tls_key")
    return out


def parse_url(name: str, url: str, source: str = "explicit", options: Mapping[str, Any] | None = None,
              entry: str | None = None) -> HostSpec:
    """Check an engine URL and its TLS options; returns the HostSpec (pure, no connection)."""
    entry = entry or f"{name}={url}"
    url = url.strip()
    if url.startswith("/"):
        url = "unix://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _fail(entry, f"unsupported URL scheme '{scheme or '(none)'}' (use unix://, tcp:// or ssh://)")
    if scheme == "unix" and not parts.path:
        raise _fail(entry, "a unix:// URL needs the socket path (unix:///var/run/docker.sock)")
    if scheme in ("tcp", "http", "https") and (not parts.hostname or parts.port is None):
        raise _fail(entry, "a tcp:// URL needs host and port (tcp://10.0.0.5:2376)")
    if scheme == "ssh" and not parts.hostname:
        raise _fail(entry, "an ssh:// URL needs a host (ssh://user@host[:port])")
    if not _NAME_RE.match(name):
        raise _fail(entry, "a host name uses letters, digits, '.', '_' and '-' (up to 63)")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = _tls_from({**query, **dict(options or {})}, entry)
    base = url.split("?", 1)[0]
    if scheme == "tcp" and not tls and os.environ.get("DOCKER_TLS_VERIFY") and os.environ.get("DOCKER_CERT_PATH"):
        tls = _tls_from({"cert_path": os.environ["DOCKER_CERT_PATH"]}, entry)
    timeout = (options or {}).get("timeout_s")
    return HostSpec(name=name, url=base, source=source, timeout_s=float(timeout) if timeout else None, **tls)


def _name_from_url(url: str) -> str:
    parts = urlsplit(url if "://" in url else "unix://" + url)
    if parts.scheme == "unix":
        return Path(parts.path).stem or "local"
    return (parts.hostname or "host").replace(":", "-")


def context_host(name: str, source: str | None = None) -> HostSpec:
    """The engine of a Docker CLI context (``engine.contexts``), named after the context."""
    try:
        ctx = load_context(name)
    except (OSError, ValueError) as exc:
        raise _fail(name, f"Docker context could not be read ({exc})") from None
    if ctx is None:
        raise _fail(name, "neither NAME=URL, a URL, nor a Docker context (`docker context ls`)")
    tls: dict[str, Any] = {}
    if ctx.tls_cert:
        tls = {"tls_ca": ctx.tls_ca, "tls_cert": ctx.tls_cert, "tls_key": ctx.tls_key, "tls_verify": ctx.tls_verify}
    host = ctx.host or DEFAULT_HOST
    spec = parse_url(name if _NAME_RE.match(name) else _name_from_url(host), host, source or f"context:{name}")
    return replace(spec, **{k: v for k, v in tls.items() if v is not None})


def parse_host(entry: str | Mapping[str, Any], source: str = "--host") -> HostSpec:
    """One host entry: 'NAME=URL', a URL, a Docker context name, or a config mapping {name, url, ...}."""
    if isinstance(entry, Mapping):
        options = {k: v for k, v in entry.items() if k not in ("name", "url")}
        return parse_url(str(entry.get("name")), str(entry.get("url")), source, options)
    text = str(entry).strip()
    if not text:
        raise _fail(text, "empty entry")
    if "=" in text and "://" in text.split("=", 1)[1] or re.match(r"^[A-Za-z0-9_.-]+=/", text):
        name, url = text.split("=", 1)
        return parse_url(name.strip(), url, source, entry=text)
    if "://" in text or text.startswith("/"):
        return parse_url(_name_from_url(text), text, source, entry=text)
    if "=" in text:
        raise _fail(text, "the part after '=' is not an engine URL")
    return context_host(text)


def split_env(value: str) -> list[str]:
    """RUNBOOK_HOSTS: entries separated by commas, spaces or newlines."""
    return [p for p in re.split(r"[,\s]+", value or "") if p]


def resolve_hosts(cli_hosts: Iterable[str] | None = None, config: RunbookConfig | None = None,
                  environ: Mapping[str, str] | None = None) -> list[HostSpec]:
    """The named engines of this run: --host, else RUNBOOK_HOSTS, else runbook.yaml hosts, else [].

    An empty list means "the one default engine" (``engine.connection.resolve_engine``).
    Two entries with the same name are an error.
    """
    env = os.environ if environ is None else environ
    cli = [h for h in (cli_hosts or []) if str(h).strip()]
    if cli:
        specs = [parse_host(h, "--host") for h in cli]
    elif env.get(ENV_VAR):
        specs = [parse_host(h, ENV_VAR) for h in split_env(env[ENV_VAR])]
    elif config is not None and config.hosts:
        specs = [parse_host(h, "config") for h in config.hosts]
    else:
        specs = []
    seen: dict[str, HostSpec] = {}
    for s in specs:
        if s.name in seen:
            raise ConfigError(f"host name '{s.name}' is used twice ({seen[s.name].display_url} and {s.display_url}). "
                              f"Fix: give each engine its own name (--host NAME=URL).")
        seen[s.name] = s
    return specs


def connect_host(spec: HostSpec, timeout_s: float | None = None) -> Any:
    """A docker client for this host that answered a ping, or the EngineError saying why not.

    Plain unix:// and tcp:// go through ``engine.connection.connect`` (and its fast
    transport); TLS and ssh:// use docker-py's own transports.
    """
    timeout = float(timeout_s or spec.timeout_s or DEFAULT_TIMEOUT_S)
    if spec.scheme in ("unix", "tcp", "http") and not spec.uses_tls:
        client = connect(spec.url, timeout)
        attach_target(client, engine_target(client), host=spec.name)
        return client
    base_url = spec.url
    target = EngineTarget(spec.url, f"host:{spec.name}")
    if spec.uses_tls:
        for path in (spec.tls_ca, spec.tls_cert, spec.tls_key):
            if path and not Path(path).is_file():
                raise EngineError(f"host {spec.name}: TLS file {path} not found. Fix: point cert_path (or tls_ca, "
                                  f"tls_cert, tls_key) at the engine's client certificates.")
        base_url = "https://" + spec.url.split("://", 1)[1]
        # the fast plain-HTTP transport must not be used for this engine: name it https://
        target = EngineTarget(base_url, f"host:{spec.name}")
    try:
        if spec.uses_tls:
            client = dockerpy.tls_client(
                base_url, timeout, client_cert=(spec.tls_cert, spec.tls_key) if spec.tls_cert else None,
                ca_cert=spec.tls_ca, verify=spec.tls_ca if (spec.tls_verify and spec.tls_ca) else spec.tls_verify)
        else:
            client = dockerpy.docker_client(base_url, timeout, use_ssh_client=spec.scheme == "ssh")
        client.ping()
    except Exception as exc:  # noqa: BLE001 - classified into our own errors
        raise classify_error(exc, target, timeout) from None
    attach_target(client, target, host=spec.name)
    return client


def try_connect_host(spec: HostSpec, timeout_s: float | None = None) -> tuple[Any | None, EngineError | None]:
    """(client, None) or (None, error): an unreachable host is a reason, not a crash."""
    try:
        return connect_host(spec, timeout_s), None
    except EngineError as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - e.g. the ssh client missing
        return None, EngineError(redact.mask_text(f"host {spec.name} ({spec.display_url}): {exc}"))


class HostAudit(AuditLog):
    """An audit log whose every record names the engine host it acts on (``params.engine_host``,
    and ``params.engine_url``, masked, when given)."""

    def __init__(self, host: str, path: str | os.PathLike | None = None, url: str | None = None) -> None:
        super().__init__(path)
        self.engine_host = host
        self.engine_url = redact.mask_text(url) if url else None

    def _record(self, phase: str, step_id: str, action: str, target: str | None, params: Any,
                dry_run: bool, outcome: str | None, detail: Any) -> dict[str, Any]:
        merged = {**(params if isinstance(params, Mapping) else {}), "engine_host": self.engine_host}
        if self.engine_url:
            merged["engine_url"] = self.engine_url
        return super()._record(phase, step_id, action, target, merged, dry_run, outcome, detail)
