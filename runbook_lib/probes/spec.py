"""The probe spec (one check of one service) and the outcome a kind returns.

A kind takes a ``ProbeSpec`` and returns a ``ProbeOutcome`` (or raises ``ProbeDown`` /
``ProbeUnknown`` / a network error): the runner turns every result into one row.
Credentials live in ``spec.options`` (``user``, ``password``, ``dbname``) and are used,
never shown: ``spec.target`` goes through ``redact.mask_text``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from runbook_lib import redact

DEFAULT_TIMEOUT_S = 2.0


class ProbeDown(Exception):
    """Raised by a kind: the service answered wrongly or not at all (state down)."""


class ProbeUnknown(Exception):
    """Raised by a kind: the probe could not run (state unknown, never counted as down)."""


@dataclass(frozen=True)
class ProbeSpec:
    """One check of one service. ``options`` holds kind settings and credentials (never shown).

    Common options: ``expected_status`` (int or list), ``json_path`` + ``json_equals``,
    ``regex``, ``user``/``password``/``dbname``, ``check`` (a label for the status grid).
    ``via`` is "host" (connect to host:port) or "exec" (run a tool inside ``container``).
    """

    service: str
    kind: str
    host: str = "127.0.0.1"
    port: int | None = None
    path: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    options: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    via: str = "host"
    container: str | None = None

    @property
    def target(self) -> str:
        """Where the probe goes, as shown in rows (masked, no credentials)."""
        if self.kind == "docker":
            where = f"container:{(self.container or self.service)[:24]}"
        elif self.via == "exec":
            where = f"exec:{(self.container or '?')[:12]}"
            where += f" {self.options.get('exec_host', '127.0.0.1')}:{self.port}" if self.port else ""
        elif self.port is None:
            where = self.host.rsplit("@", 1)[-1]
        else:
            where = f"{self.host.rsplit('@', 1)[-1]}:{self.port}"
        if self.path:
            where += self.path if self.path.startswith("/") else "/" + self.path
        return redact.mask_text(where)

    @property
    def check(self) -> str:
        """Short label of the check (kind, or kind + path) for grids and audits."""
        return str(self.options.get("check") or (f"{self.kind} {self.path}" if self.path else self.kind))

    def with_(self, **changes: Any) -> ProbeSpec:
        """A copy with fields changed (``options`` merged when given as a dict)."""
        if "options" in changes:
            changes["options"] = {**self.options, **changes["options"]}
        return replace(self, **changes)


@dataclass
class ProbeOutcome:
    """What a kind returns; the runner adds service, kind, target, latency, time."""

    state: str = "up"
    reply: Any = None
    detail: list[dict] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None
    via: str | None = None
    target: str | None = None


def specs_frame(specs: Iterable[ProbeSpec]) -> pd.DataFrame:
    """A displayable (masked) list of specs: service, kind, target, via, timeout_s, check."""
    return pd.DataFrame([{"service": s.service, "kind": s.kind, "target": s.target, "via": s.via,
                          "timeout_s": s.timeout_s, "check": s.check} for s in specs],
                        columns=["service", "kind", "target", "via", "timeout_s", "check"])
