"""What every probe kind is: a small class with its metadata and one ``check`` method.

Metadata that describes a technology (default port, HTTP path, image patterns, where the
credentials come from) is read from ``runbook_lib.knowledge``; a kind keeps only what is
its own: its name, the libraries it needs, and how the runner treats it (``handles_exec``:
it judges an in-container answer itself; ``timeout_is_unknown``: a hang is lost coverage).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from runbook_lib import knowledge
from runbook_lib.probes.http import HttpReply
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec


class ProbeKind:
    """A probe kind. Subclasses set ``name`` (and ``libraries``) and implement ``check``."""

    name: ClassVar[str] = ""
    libraries: ClassVar[tuple[str, ...]] = ()
    handles_exec: ClassVar[bool] = False
    timeout_is_unknown: ClassVar[bool] = False

    def check(self, spec: ProbeSpec) -> ProbeOutcome | Mapping[str, Any] | None:
        """Probe once; return an outcome or raise ``ProbeDown`` / ``ProbeUnknown`` / a network error."""
        raise NotImplementedError

    def __call__(self, spec: ProbeSpec) -> ProbeOutcome | Mapping[str, Any] | None:
        return self.check(spec)

    @property
    def technology(self) -> knowledge.Technology | None:
        """The knowledge record probed with this kind (None: tcp, docker, ad-hoc kinds)."""
        if self.name == knowledge.application().probe_kind:
            return knowledge.application()
        return knowledge.by_probe_kind(self.name)

    @property
    def info(self) -> knowledge.ProbeInfo | None:
        """Port, path and credential variables from the knowledge table."""
        tech = self.technology
        return tech.probe if tech is not None else None

    @property
    def default_port(self) -> int | None:
        """The port the server listens on inside its container (None when it has no fixed one)."""
        return self.info.port if self.info is not None else None

    @property
    def default_path(self) -> str | None:
        """The HTTP path the kind reads by default (None for wire protocols)."""
        return self.info.path if self.info is not None else None

    @property
    def image_patterns(self) -> tuple[str, ...]:
        """Image patterns (knowledge syntax) of every technology this kind probes."""
        out: list[str] = []
        for tech in knowledge.technologies():
            for t in (tech, *tech.variants):
                if t.probe_kind == self.name:
                    out.extend(p for p in t.images if p not in out)
        return tuple(out)

    def __repr__(self) -> str:
        return f"<probe kind {self.name}>"


class FunctionKind(ProbeKind):
    """A kind made from a plain function (``register("name", func)``, tests and plugins)."""

    def __init__(self, name: str, func: Any) -> None:
        self._name = name
        self.func = func

    @property  # type: ignore[override]
    def name(self) -> str:
        return self._name

    @property  # type: ignore[override]
    def handles_exec(self) -> bool:
        return bool(getattr(self.func, "handles_exec", False))

    @property  # type: ignore[override]
    def timeout_is_unknown(self) -> bool:
        return bool(getattr(self.func, "timeout_is_unknown", False))

    def check(self, spec: ProbeSpec) -> Any:
        return self.func(spec)


# ---------------------------------------------------------------- helpers shared by the kinds
def outcome(state: str, reply: Any = None, *, via: str = "host", detail: list[dict] | None = None,
            error: str | None = None) -> ProbeOutcome:
    """An outcome; from inside a container the reply says so."""
    if via == "exec":
        note = "port not published: probed from inside the container"
        reply = f"{reply} ({note})" if reply else note
    return ProbeOutcome(state, reply=reply, detail=detail or [], error=error, via=via)


def http_down(r: HttpReply, what: str) -> ProbeOutcome:
    """Down: ``what`` (an endpoint) answered an unexpected HTTP status."""
    return outcome("down", f"HTTP {r.status}", via=r.via, error=f"{what} answered HTTP {r.status}")


def basic_auth(spec: ProbeSpec, default_user: str | None = None) -> tuple[str, str] | None:
    """(user, password) from the spec's options, or None when no password is known."""
    password = spec.options.get("password")
    if not password:
        return None
    return (str(spec.options.get("user") or default_user or ""), str(password))


def spec_path(spec: ProbeSpec, default: str) -> str:
    """The spec's path (or ``default``) with a leading slash."""
    p = spec.path or default
    return p if p.startswith("/") else "/" + p
