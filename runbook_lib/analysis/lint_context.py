"""What the lint rules read: the effective specs, the files' literal text, port owners, and the finding record.

``LintContext`` holds the merged, interpolated ``raw`` specs of a Catalog, each
service's tier, and the files' literal text (re-read with a YAML loader that accepts
compose's custom tags), so a rule can tell ``${DB_PASSWORD}`` from a plaintext secret
and name the file that holds a line. What runbook knows about an image (its data
directories, a healthcheck that fits it, the ports it listens on) comes from
``knowledge``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook_lib import knowledge, redact

HEALTH_PORT_ENV = ("APP_PORT", "PORT", "SERVER_PORT", "HTTP_PORT")


@dataclass(frozen=True)
class LintFinding:
    """One lint finding: where (file, service, key), what (category, severity, message), the fix."""

    file: str
    service: str
    key: str
    category: str
    severity: str
    message: str
    fix: str


def finding(file: Any, service: str, key: str, category: str, severity: str, message: str, fix: str,
            mask_fix: bool = True) -> LintFinding:
    """One lint finding; text is masked (``mask_fix=False`` only for fixes built from key names, never values)."""
    return LintFinding(file=str(file or ""), service=service, key=key, category=category, severity=severity,
                       message=redact.mask_text(message), fix=redact.mask_text(fix) if mask_fix else fix)


# -- what the files literally say ---------------------------------------------

class _LiteralLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc] # libyaml: ~10x faster
    """Safe loader that accepts compose's custom tags (``!reset``, ``!override``) as plain values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_LiteralLoader.add_multi_constructor("!", _tagged)


def literal_services(files: Iterable[str]) -> dict[str, dict[str, dict]]:
    """file -> service -> the service mapping as written (no interpolation, no merge)."""
    out: dict[str, dict[str, dict]] = {}
    for f in files:
        try:
            data = yaml.load(Path(f).read_text(encoding="utf-8"), Loader=_LiteralLoader)  # noqa: S506 - safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # the catalog already read (or refused) it; lint only loses the literal view
        services = (data or {}).get("services") if isinstance(data, dict) else None
        if isinstance(services, dict):
            out[str(f)] = {str(k): v for k, v in services.items() if isinstance(v, dict)}
    return out


def env_items(env: Any) -> list[tuple[str, Any]]:
    if isinstance(env, Mapping):
        return [(str(k), v) for k, v in env.items()]
    if isinstance(env, list):
        items = []
        for item in env:
            k, sep, v = str(item).partition("=")
            items.append((k.strip(), v if sep else None))
        return items
    return []


def as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


@dataclass
class LintContext:
    """Everything a rule reads: effective specs, tiers, literal file text, port owners."""

    raw: dict[str, dict]
    tiers: dict[str, str]
    literal: dict[str, dict[str, dict]]
    files: tuple[str, ...]

    def container_ports(self, service: str) -> set[int]:
        """Published container ports (what the host can reach)."""
        return {int(p["container_port"]) for p in self.raw[service].get("ports") or []
                if p.get("container_port") is not None}

    def listening_ports(self, service: str) -> set[int]:
        """Ports the service listens on inside the network: published, exposed, well-known for its image."""
        spec = self.raw[service]
        ports = self.container_ports(service) | set(knowledge.image_ports(spec.get("image")))
        for e in spec.get("expose") or []:
            head = str(e).split("/")[0]
            if head.isdigit():
                ports.add(int(head))
        return ports

    def own_ports(self, service: str) -> set[int]:
        spec = self.raw[service]
        ports = self.container_ports(service) | {int(p["host_port"]) for p in spec.get("ports") or []
                                                 if p.get("host_port") is not None}
        for k in HEALTH_PORT_ENV:
            v = (spec.get("environment") or {}).get(k)
            if v and str(v).isdigit():
                ports.add(int(v))
        return ports

    def port_owners(self, port: int, exclude: str, host_first: bool = False) -> list[str]:
        """Services listening on ``port``: container ports (as a container calls them), else host ports.

        ``host_first`` for URLs a browser opens on the host, where the published port counts.
        """
        by_container = [s for s in self.raw if s != exclude and port in self.listening_ports(s)]
        by_host = [s for s in self.raw if s != exclude
                   and any(p.get("host_port") == port for p in self.raw[s].get("ports") or [])]
        first, second = (by_host, by_container) if host_first else (by_container, by_host)
        return first or second

    def dependents(self, *, waiting_for_readiness: bool = False) -> dict[str, list[str]]:
        """Service -> the services that depend on it.

        With ``waiting_for_readiness``, dependants that wait for a one-shot job to finish
        (``service_completed_successfully``) are left out: a job has no readiness to check.
        """
        out: dict[str, list[str]] = {s: [] for s in self.raw}
        for s, spec in self.raw.items():
            for d in spec.get("depends_on") or []:
                if waiting_for_readiness and d.get("condition") == "service_completed_successfully":
                    continue
                if d["service"] in out:
                    out[d["service"]].append(s)
        return out

    def where(self, service: str, key: str | None = None) -> str:
        """The file that writes ``key`` for ``service`` (last one wins), else the service's file."""
        found = None
        for f in self.files:
            spec = self.literal.get(f, {}).get(service)
            if spec is not None and (key is None or key in spec):
                found = f
        return found or self.raw[service].get("file") or ""


def data_service(image: str | None) -> knowledge.Technology | None:
    """The technology of an image when it keeps data (its record names data directories), else None."""
    tech = knowledge.for_image(image)
    return tech if tech is not None and tech.data_dirs else None


def _port_of(ctx: LintContext, service: str, tech: knowledge.Technology | None) -> str | None:
    env = ctx.raw[service].get("environment") or {}
    port = next((str(env[k]) for k in HEALTH_PORT_ENV if str(env.get(k) or "").isdigit()), None)
    if port is None and tech is not None and tech.ports:
        port = str(tech.ports[0])
    if port is None and ctx.container_ports(service):
        port = str(min(ctx.container_ports(service)))
    return port


def suggest_healthcheck(ctx: LintContext, service: str) -> str:
    """A healthcheck that fits the service's technology (knowledge), in compose syntax.

    A known technology gets its own check (Kafka asks the broker for its API versions, it
    does not speak HTTP); a known one with no check in the table gets a TCP check on its
    port; an application gets an HTTP check on its port.
    """
    tech = knowledge.for_image(ctx.raw[service].get("image"))
    if ctx.raw[service].get("build"):
        tech = None
    if tech is not None and tech.healthcheck is not None:
        return f"healthcheck: test: {tech.healthcheck.compose_text()}"
    port = _port_of(ctx, service, tech) or "PORT"
    if tech is not None:
        return (f'healthcheck: test: ["CMD-SHELL", "nc -z 127.0.0.1 {port} || exit 1"] (a TCP check: '
                f"{tech.name} has no HTTP health route here; use its own client if the image has no nc)")
    app = knowledge.application().healthcheck
    test = [t.replace("$${PORT:-3000}", port) for t in (app.test if app else ())]
    hc = knowledge.Healthcheck(test=tuple(test)) if test else None
    text = hc.compose_text() if hc else f'["CMD-SHELL", "wget -q --spider http://127.0.0.1:{port}/health || exit 1"]'
    return f"healthcheck: test: {text} (or the app's own health route), with start_period covering its start-up"
