"""The lean engine client ``connect()`` returns for ``unix://`` and plain ``tcp://`` engines.

It answers what runbook's own hot paths ask over the keep-alive transport (``EngineHTTP``):
ping, version, info, the container list and inspect (``client.api.containers`` /
``inspect_container``). The inventory, log tails, events and the recovery actions reach the
transport directly (``connection.engine_http``). Everything else a docker-py client offers
(``client.containers``, ``client.images``, ``client.api.exec_create``, Swarm services...) is
forwarded to a docker-py client made on first use (``engine.dockerpy``), on the same engine,
API version and timeout: the docker SDK is imported only by the commands that need it.

Errors of the lean calls: 404 raises ``EngineNotFound``, any other refusal ``EngineAPIError``
(catch ``dockerpy.not_found()`` / ``dockerpy.api_errors()`` to take docker-py's too).
"""
from __future__ import annotations

import json
import threading
from typing import Any

from runbook_lib.engine import dockerpy
from runbook_lib.engine.transport import EngineHTTP
from runbook_lib.exceptions import EngineAPIError, EngineNotFound


def check(status: int, data: Any, what: str) -> Any:
    """The answer's data, or EngineNotFound (404) / EngineAPIError (other 4xx/5xx) naming ``what``."""
    if status < 400:  # 304: already started / already stopped, as docker-py takes it
        return data
    msg = data.get("message") if isinstance(data, dict) else data
    text = f"{status} {'Client' if status < 500 else 'Server'} Error for {what}: {msg}"
    raise (EngineNotFound if status == 404 else EngineAPIError)(text, status=status)


def convert_filters(filters: dict[str, Any]) -> str:
    """docker-py's filter encoding: each value a list of strings (bools as "true"/"false"), as JSON."""
    out: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, list):
            value = [value]
        out[key] = [str(v) for v in value]
    return json.dumps(out)


class _Forwarding:
    """Attributes not defined here come from the owner's docker-py counterpart, made on first use."""

    def _counterpart(self) -> Any:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    _OWN = frozenset({"_owner", "_docker_py", "_lock", "url", "http", "timeout_s", "api"})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in self._OWN:  # not set yet (copy, unpickling): never forward
            raise AttributeError(name)
        return getattr(self._counterpart(), name)


class EngineAPI(_Forwarding):
    """``client.api``: the low-level calls runbook makes often, lean; the rest from docker-py's APIClient."""

    def __init__(self, owner: EngineClient) -> None:
        self._owner = owner

    @property
    def base_url(self) -> str:
        return self._owner.url

    @property
    def timeout(self) -> float:
        return self._owner.timeout_s

    @property
    def api_version(self) -> str | None:
        return self._owner.http.api_version

    def _counterpart(self) -> Any:
        return self._owner.docker_py().api

    def _get(self, path: str, params: dict | None = None) -> Any:
        status, data = self._owner.http.get_json(path, params)
        return check(status, data, f"GET {path}")

    def ping(self) -> bool:
        """GET /_ping: True (an engine that does not answer raises EngineError)."""
        self._get("/_ping")
        return True

    def version(self, api_version: bool = True) -> dict:  # noqa: ARG002 - docker-py's signature
        return self._get("/version")

    def info(self) -> dict:
        return self._get("/info")

    def containers(self, quiet: bool = False, all: bool = False, trunc: bool = False,  # noqa: A002
                   latest: bool = False, since: str | None = None, before: str | None = None,
                   limit: int = -1, size: bool = False, filters: dict | None = None) -> list:
        """GET /containers/json as docker-py's ``containers()`` returns it (dicts, or ids with ``quiet``)."""
        if trunc or latest or since or before:
            return self._counterpart().containers(quiet=quiet, all=all, trunc=trunc, latest=latest, since=since,
                                                  before=before, limit=limit, size=size, filters=filters)
        params: dict[str, Any] = {"all": "1" if all else "0", "size": "1" if size else "0"}
        if limit and limit > 0:
            params["limit"] = str(limit)
        if filters:
            params["filters"] = convert_filters(filters)
        res = self._get("/containers/json", params)
        return [{"Id": c["Id"]} for c in res] if quiet else res

    def inspect_container(self, container: str) -> dict:
        return self._get(f"/containers/{container}/json")


class EngineClient(_Forwarding):
    """A docker-py-shaped client of one ``unix://`` or plain ``tcp://`` engine (see the module docstring)."""

    def __init__(self, url: str, http: EngineHTTP, timeout_s: float) -> None:
        self.url, self.http, self.timeout_s = url, http, float(timeout_s)
        self.api = EngineAPI(self)
        self._docker_py: Any = None
        self._lock = threading.Lock()

    def docker_py(self) -> Any:
        """The docker-py client of the same engine, made (and docker-py imported) on first use."""
        with self._lock:
            if self._docker_py is None:
                self._docker_py = dockerpy.docker_client(self.url, self.timeout_s,
                                                         version=self.http.api_version or "auto")
            return self._docker_py

    def _counterpart(self) -> Any:
        return self.docker_py()

    def ping(self) -> bool:
        return self.api.ping()

    def version(self, api_version: bool = True) -> dict:
        return self.api.version(api_version)

    def info(self) -> dict:
        return self.api.info()

    def close(self) -> None:
        """Close the keep-alive connections (and docker-py's, if it was made)."""
        self.http.close()
        if self._docker_py is not None:
            self._docker_py.close()

    def __repr__(self) -> str:
        return f"<EngineClient {self.url} api {self.http.api_version}>"
