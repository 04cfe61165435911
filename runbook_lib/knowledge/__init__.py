"""What runbook knows about each technology: one record each, from ``technologies.yaml``.

Every module that needs to recognise an image reads this table: tiers (infrastructure vs
application), probe derivation and the probe kinds (kind, port, path, credentials), the
volume and healthcheck lint (data dirs, advice that fits the technology), the log
signatures (well-known ports, typical failures). No module keeps its own copy.

``for_image(image)`` gives the record of an image (its variant resolved), or None for an
image runbook does not know (an application, unless the config says otherwise).
The log-signature table itself (patterns, causes, fixes) is ``signatures.yaml``, read by
``knowledge.signatures``.
"""
from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

TABLE_PATH = Path(__file__).with_name("technologies.yaml")
INFRASTRUCTURE = "infrastructure"
APPLICATION = "application"


@dataclass(frozen=True)
class Healthcheck:
    """A compose healthcheck that fits a technology.

    ``tools`` is the tool set of the technology's official image (the executables a check
    may call, the shell included) and ``source`` says where that set comes from.
    """

    test: tuple[str, ...]
    tools: tuple[str, ...] = ()
    note: str = ""
    source: str = ""

    def executables(self) -> list[str]:
        """Every program the test runs (the shell of CMD-SHELL, each command of a pipeline, ``sh -c`` inside)."""
        return test_executables(self.test)

    def compose_text(self) -> str:
        """The test as one would write it in a compose file (JSON list form)."""
        if not self.test:
            return self.note
        inner = ", ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in self.test)
        return f"[{inner}]" + (f"  ({self.note})" if self.note else "")


@dataclass(frozen=True)
class ProbeInfo:
    """How a technology is probed natively: kind, port inside the container, credentials."""

    kind: str
    port: int | None = None
    path: str | None = None
    extra_ports: Mapping[str, int] = field(default_factory=dict)
    user_env: tuple[str, ...] = ()
    password_env: tuple[str, ...] = ()
    database_env: tuple[str, ...] = ()
    default_user: str | None = None
    client_host_env: tuple[str, ...] = ()
    client_url_env: tuple[str, ...] = ()
    health_paths: tuple[str, ...] = ()
    port_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class Technology:
    """One technology: how to recognise it and everything runbook knows about it."""

    name: str
    tier: str
    images: tuple[str, ...] = ()
    probe: ProbeInfo | None = None
    ports: tuple[int, ...] = ()
    data_dirs: tuple[str, ...] = ()
    data_dir_env: tuple[str, ...] = ()
    data_dir_command: str | None = None
    schemes: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    signatures: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    variants: tuple[Technology, ...] = ()
    http: bool = False  # its main port speaks HTTP

    @property
    def probe_kind(self) -> str | None:
        return self.probe.kind if self.probe else None


@dataclass(frozen=True)
class Table:
    """The whole table: technologies in match order, the application default, namespaces."""

    technologies: tuple[Technology, ...]
    application: Technology
    infrastructure_namespaces: frozenset[str]
    generic_names: frozenset[str]


def _tuple(v: Any) -> tuple:
    return tuple(v or ())


def _healthcheck(raw: Any) -> Healthcheck | None:
    if not raw:
        return None
    return Healthcheck(test=tuple(str(t) for t in raw.get("test") or ()), tools=_tuple(raw.get("tools")),
                       note=str(raw.get("note") or ""), source=str(raw.get("source") or ""))


# Shell words that are not programs: builtins and keywords need no tool in the image.
_SHELL_BUILTINS = frozenset({"exec", "echo", "exit", "test", "[", "true", "false", "export", "set", "cd", ":",
                             "!", "if", "then", "else", "fi", "read", "printf", "command"})
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", "(", ")", ";;", "{", "}"})


def shell_executables(script: str) -> list[str]:
    """Programs a shell script runs: the first word of each command, ``$(…)`` and ``sh -c`` included.

    Compose's ``$$`` escape is read as ``$``; variable assignments before a command and
    shell builtins are skipped.
    """
    text = script.replace("$$", "$").replace("$(", " ( ").replace("`", " ( ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars="();|&")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: read what splits
        words = text.split()
    out: list[str] = []
    at_command = True
    i = 0
    while i < len(words):
        w = words[i]
        if w == ")":
            at_command = False  # the end of $(…) or a subshell: arguments or a separator follow
        elif w in _SEPARATORS or (w and set(w) <= set("();|&")):
            at_command = True
        elif at_command:
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w):
                pass  # VAR=value before the command
            elif w in _SHELL_BUILTINS:
                at_command = w in ("!", "if", "then", "else", "command")
            else:
                out.append(w)
                at_command = False
                if w.rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and i + 2 < len(words) \
                        and words[i + 1] == "-c":
                    out.extend(shell_executables(words[i + 2]))
                    i += 2
        i += 1
    return out


def test_executables(test: tuple[str, ...] | list[str]) -> list[str]:
    """Programs a compose healthcheck test runs (``CMD-SHELL`` runs ``sh``)."""
    if not test:
        return []
    kind, rest = test[0], list(test[1:])
    if kind == "CMD-SHELL":
        return ["sh"] + shell_executables(" ".join(rest))
    if kind == "CMD" and rest:
        if rest[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and len(rest) > 2 and rest[1] == "-c":
            return [rest[0]] + shell_executables(rest[2])
        return [rest[0]]
    return []


def _probe(raw: Any) -> ProbeInfo | None:
    if not raw:
        return None
    return ProbeInfo(kind=str(raw["kind"]), port=raw.get("port"), path=raw.get("path"),
                     extra_ports=dict(raw.get("extra_ports") or {}),
                     user_env=_tuple(raw.get("user_env")), password_env=_tuple(raw.get("password_env")),
                     database_env=_tuple(raw.get("database_env")), default_user=raw.get("default_user"),
                     client_host_env=_tuple(raw.get("client_host_env")),
                     client_url_env=_tuple(raw.get("client_url_env")),
                     health_paths=_tuple(raw.get("health_paths")), port_env=_tuple(raw.get("port_env")))


def _technology(raw: Mapping[str, Any], base: Technology | None = None) -> Technology:
    if base is not None:  # a variant: only the fields it names override the record
        changes: dict[str, Any] = {"images": _tuple(raw.get("images")), "variants": ()}
        for key, conv in (("ports", _tuple), ("data_dirs", _tuple), ("data_dir_env", _tuple),
                          ("data_dir_command", str), ("schemes", _tuple), ("healthcheck", _healthcheck),
                          ("probe", _probe), ("signatures", _tuple), ("hints", _tuple), ("http", bool)):
            if key in raw:
                changes[key] = conv(raw[key])
        return replace(base, **changes)
    tech = Technology(name=str(raw["name"]), tier=str(raw.get("tier") or INFRASTRUCTURE),
                      images=_tuple(raw.get("images")), probe=_probe(raw.get("probe")),
                      ports=tuple(int(p) for p in raw.get("ports") or ()), data_dirs=_tuple(raw.get("data_dirs")),
                      data_dir_env=_tuple(raw.get("data_dir_env")), data_dir_command=raw.get("data_dir_command"),
                      schemes=_tuple(raw.get("schemes")),
                      healthcheck=_healthcheck(raw.get("healthcheck")), signatures=_tuple(raw.get("signatures")),
                      hints=_tuple(raw.get("hints")))
    probe = tech.probe
    tech = replace(tech, http=bool(raw.get("http", probe is not None and bool(probe.path or probe.health_paths))))
    return replace(tech, variants=tuple(_technology(v, tech) for v in raw.get("variants") or ()))


@functools.lru_cache(maxsize=1)
def table() -> Table:
    """The parsed table (read once per process)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(TABLE_PATH.read_text(encoding="utf-8"), Loader=loader)
    techs = tuple(_technology(t) for t in data["technologies"])
    names = [t.name for t in techs]
    if len(set(names)) != len(names):
        raise ValueError(f"{TABLE_PATH}: technology names must be unique")
    return Table(technologies=techs, application=_technology(data["application"]),
                 infrastructure_namespaces=frozenset(data.get("infrastructure_namespaces") or ()),
                 generic_names=frozenset(data.get("generic_names") or ()))


def technologies() -> tuple[Technology, ...]:
    """Every known technology, in match order."""
    return table().technologies


def application() -> Technology:
    """The record of an HTTP application service (built here, or an unknown image)."""
    return table().application


def by_name(name: str) -> Technology:
    """The record named ``name``; the error lists the names that exist."""
    for t in technologies():
        if t.name == name:
            return t
    if name == application().name:
        return application()
    raise KeyError(f"no technology named {name!r}; known: {', '.join(t.name for t in technologies())}")


def by_probe_kind(kind: str) -> Technology | None:
    """The first record probed with ``kind`` (postgres, kafka …), or None."""
    return next((t for t in technologies() if t.probe_kind == kind), None)


def image_repository(image: str | None) -> str:
    """``registry:5000/org/name:tag@sha`` -> ``org/name`` (lowercase, no registry, tag, digest)."""
    if not image:
        return ""
    name = str(image).strip().split("@", 1)[0].lower()
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


_REGEX_CHARS = frozenset("\\.^$*+?{}[]|()")


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[tuple[Callable[[str], Any], bool], ...]:
    """(full-match test, whole repository?) per pattern; a pattern without regex syntax is compared
    as text (most are: an unknown image otherwise compiles every pattern of the table, ~20 ms)."""
    return tuple((re.compile(p).fullmatch if _REGEX_CHARS.intersection(p) else p.__eq__, "/" in p)
                 for p in patterns)


def _matches(tech: Technology, repo: str, last: str, generic: frozenset[str]) -> bool:
    for matches, whole in _compiled(tech.images):
        if whole:
            if matches(repo):
                return True
        elif last not in generic or "/" not in repo:
            if matches(last):
                return True
    return False


@functools.lru_cache(maxsize=4096)
def for_image(image: str | None) -> Technology | None:
    """The technology of an image reference (variant resolved), or None when unknown."""
    repo = image_repository(image)
    if not repo:
        return None
    t = table()
    last = repo.rsplit("/", 1)[-1]
    for tech in t.technologies:
        for variant in tech.variants:
            if _matches(variant, repo, last, t.generic_names):
                return variant
        if _matches(tech, repo, last, t.generic_names):
            return tech
    return None


def is_infrastructure_image(image: str | None) -> bool:
    """True for a known infrastructure image (a known technology, or a known vendor namespace)."""
    repo = image_repository(image)
    if not repo:
        return False
    parts = repo.split("/")
    if len(parts) > 1 and parts[0] in table().infrastructure_namespaces:
        return True
    tech = for_image(image)
    return tech is not None and tech.tier == INFRASTRUCTURE


def probe_info(image: str | None) -> ProbeInfo | None:
    """How to probe an image natively, or None when no native kind knows it."""
    tech = for_image(image)
    return tech.probe if tech is not None else None


def image_ports(image: str | None) -> tuple[int, ...]:
    """Ports an image's server listens on inside its container (empty when unknown)."""
    tech = for_image(image)
    return tech.ports if tech is not None else ()


def scheme_port(scheme: str | None) -> int | None:
    """The default port of a URL scheme a technology speaks (``postgresql://`` -> 5432), or None."""
    scheme = (scheme or "").lower()
    for tech in technologies():
        if scheme in tech.schemes and tech.ports:
            return tech.ports[0]
    return None


def tier_of(service: str, image: str | None, build: bool, overrides: Mapping[str, str] | None = None) -> str:
    """Tier of one service: the config override, else application when built here or unknown."""
    if overrides and service in overrides:
        return overrides[service]
    if build:
        return APPLICATION
    return INFRASTRUCTURE if is_infrastructure_image(image) else APPLICATION
