"""Where messages go: apprise URLs with filters, and escaping per channel markup.

Sources, all added together: ``--notify URL`` (repeatable), ``RUNBOOK_NOTIFY`` (URLs
separated by spaces or commas), and ``notify:`` in runbook.yaml::

    notify:
      - url: slack://T000/B000/XXXX
        project: shop          # optional filters; a missing filter matches everything
        host: prod-1
        tier: infrastructure
        min_severity: critical # info < warning < critical
"""
from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import apprise

from runbook_lib import redact
from runbook_lib.exceptions import ConfigError

ENV_VAR = "RUNBOOK_NOTIFY"
SEVERITIES = {"info": 0, "warning": 1, "critical": 2}
_FILTERS = ("project", "host", "tier", "min_severity")
_MARKDOWN_SCHEMES = ("discord", "tgram", "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets", "ntfy", "ntfys")
_MARKDOWN_CHARS = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


@dataclass(frozen=True)
class Target:
    """One notification URL and its filters (None matches everything)."""

    url: str
    project: str | None = None
    host: str | None = None
    tier: str | None = None
    min_severity: str = "info"

    @property
    def key(self) -> str:
        """A stable id that does not reveal the URL (the outbox stores this, never the URL)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0].lower()

    @property
    def shown(self) -> str:
        """The URL with credentials and tokens masked, for logs and `notify test`."""
        scheme, _, rest = self.url.partition("://")
        host = re.split(r"[/?@]", rest.split("@")[-1], maxsplit=1)[0]
        return f"{scheme}://{host}/…" if rest else self.url

    def matches(self, *, project: str | None = None, host: str | None = None, tier: str | None = None,
                severity: str = "info") -> bool:
        """True when a message with these attributes passes this target's filters."""
        if SEVERITIES.get(severity, 0) < SEVERITIES.get(self.min_severity, 0):
            return False
        return all(want is None or have is None or want == have
                   for want, have in ((self.project, project), (self.host, host), (self.tier, tier)))


def _from_mapping(item: Any, source: str) -> Target:
    if isinstance(item, str):
        return Target(url=item)
    if not isinstance(item, Mapping) or not isinstance(item.get("url"), str):
        raise ConfigError(f"{source}: each notify entry needs a 'url' (an apprise URL such as slack://… or "
                          "json://host:port/path).")
    unknown = set(item) - {"url", *_FILTERS}
    if unknown:
        raise ConfigError(f"{source}: unknown notify key(s) {', '.join(sorted(unknown))}. "
                          f"Fix: use only url, {', '.join(_FILTERS)}.")
    sev = str(item.get("min_severity") or "info")
    if sev not in SEVERITIES:
        raise ConfigError(f"{source}: notify min_severity must be one of {', '.join(SEVERITIES)}, not {sev!r}.")
    return Target(url=item["url"], project=item.get("project"), host=item.get("host"), tier=item.get("tier"),
                  min_severity=sev)


def resolve_targets(cli_urls: Iterable[str] | None = None, environ: Mapping[str, str] | None = None,
                    config_notify: Iterable[Any] | None = None, source: str = "runbook.yaml") -> list[Target]:
    """Every configured target: --notify, RUNBOOK_NOTIFY, then the config's notify list (deduplicated)."""
    out: list[Target] = [Target(url=u) for u in (cli_urls or []) if u]
    env_text = (environ or {}).get(ENV_VAR, "")
    out += [Target(url=u) for u in re.split(r"[\s,]+", env_text) if u]
    out += [_from_mapping(item, source) for item in (config_notify or [])]
    for t in out:
        if apprise.Apprise.instantiate(t.url, suppress_exceptions=True) is None:
            raise ConfigError(f"notify URL {t.shown} is not one apprise understands. "
                              "Fix: see https://github.com/caronc/apprise/wiki for the URL of each service.")
    seen: set[str] = set()
    return [t for t in out if not (t.key in seen or seen.add(t.key))]


def escape_for(target: Target, text: str) -> str:
    """Mask secrets, then escape ``text`` for the channel's markup (HTML entities; markdown too where rendered)."""
    text = html.escape(str(redact.mask_text(text)), quote=False)
    if target.scheme in _MARKDOWN_SCHEMES:
        text = _MARKDOWN_CHARS.sub(r"\\\1", text)
    return text


def send(target: Target, title: str, body: str, timeout_s: float = 10.0) -> tuple[bool, str | None]:
    """Deliver one message through apprise; (ok, error text). Never raises."""
    try:
        app = apprise.Apprise()
        if not app.add(target.url):
            return False, "apprise could not load the URL"
        ok = app.notify(title=escape_for(target, title), body=escape_for(target, body),
                        body_format=apprise.NotifyFormat.TEXT)
        return bool(ok), None if ok else "delivery failed (the receiver refused or did not answer)"
    except Exception as exc:  # noqa: BLE001 - delivery faults are recorded, never raised into the collector
        return False, redact.mask_text(f"{type(exc).__name__}: {exc}")[:300]
