"""The gateway to docker-py: the ONLY module that imports the docker SDK, and only when it is used.

docker-py pulls requests and paramiko (0.15-0.19 s of imports). ``unix://`` and plain ``tcp://``
engines are answered by ``engine.client.EngineClient`` over the keep-alive transport and never
need it; docker-py is imported here on the first call that does: ssh:// and TLS engines, image
builds, ``docker exec``, Swarm services, or any ``client.<attribute>`` the lean client forwards.
This is the one documented exception to "imports at the top" (docs/DESIGN.md).

Errors: code catches ``not_found()`` / ``api_errors()``: runbook's own ``EngineNotFound`` /
``EngineAPIError`` (what the lean transport raises) plus docker-py's classes once docker-py is
imported. Before that no docker-py call can have raised, so nothing is lost by not naming them.
"""
from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import Any

from runbook_lib.exceptions import EngineAPIError, EngineNotFound


def loaded() -> bool:
    """True once docker-py has been imported in this process (by us or by the caller)."""
    return "docker" in sys.modules


def docker() -> ModuleType:
    """The docker package, imported on first use."""
    import docker as docker_sdk  # noqa: PLC0415 - the docker-py gateway: imported only when docker-py is used
    return docker_sdk


def errors() -> ModuleType:
    """``docker.errors`` (imports docker-py: for code that uses docker-py anyway, e.g. the demo's builds)."""
    import docker.errors as docker_errors  # noqa: PLC0415 - the docker-py gateway (see module docstring)
    return docker_errors


def _loaded_error(name: str) -> tuple[type[BaseException], ...]:
    mod = sys.modules.get("docker.errors")
    cls = getattr(mod, name, None) if mod is not None else None
    return (cls,) if isinstance(cls, type) else ()


def not_found() -> tuple[type[BaseException], ...]:
    """What "no such container/object" raises: EngineNotFound, and docker-py's NotFound once imported."""
    return (EngineNotFound, *_loaded_error("NotFound"))


def api_errors() -> tuple[type[BaseException], ...]:
    """What a refused engine call raises: EngineAPIError, and docker-py's APIError once imported."""
    return (EngineAPIError, *_loaded_error("APIError"))


def is_docker_client(obj: Any) -> bool:
    """True for a docker-py ``DockerClient`` (False without importing docker-py when it is not loaded)."""
    mod = sys.modules.get("docker")
    cls = getattr(mod, "DockerClient", None) if mod is not None else None
    return isinstance(cls, type) and isinstance(obj, cls)


def docker_client(base_url: str, timeout_s: float, version: str = "auto", **kwargs: Any) -> Any:
    """A docker-py ``DockerClient`` (no call made unless ``version`` is "auto")."""
    return docker().DockerClient(base_url=base_url, timeout=timeout_s, version=version, **kwargs)


def tls_client(base_url: str, timeout_s: float, *, client_cert: tuple[str, str] | None, ca_cert: str | None,
               verify: bool | str) -> Any:
    """A docker-py client over TLS that trusts the engine's own CA even when REQUESTS_CA_BUNDLE is set."""
    tls = docker().tls.TLSConfig(client_cert=client_cert, ca_cert=ca_cert, verify=verify)
    return _engine_ca_client_class()(base_url=base_url, timeout=timeout_s, version="auto", tls=tls)


@functools.cache
def _engine_ca_client_class() -> type:
    """docker-py's DockerClient whose API client keeps its own ``verify`` (defined once docker-py is imported).

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify``
    (psf/requests#3829), which would reject every private engine CA on machines that set it.
    """
    sdk = docker()

    class EngineCAClient(sdk.APIClient):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001 - requests hook
            out = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None:
                out["verify"] = self.verify
            return out

    class EngineCADockerClient(sdk.DockerClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: D107 - same arguments as DockerClient
            self.api = EngineCAClient(*args, **kwargs)

    return EngineCADockerClient
