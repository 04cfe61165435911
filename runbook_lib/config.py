"""The runbook config file (``runbook.yaml``): tier overrides, probes, thresholds.

Found via an explicit path, else the ``RUNBOOK_CONFIG`` environment variable, else
``./runbook.yaml``; when none exists the defaults apply. Schema::

    tiers:      {service: infrastructure | application | <custom tier name>}
    probes:     {service: [{kind: http, port: 3001, path: /health, ...}, ...]}
    thresholds: {failure: 3, success: 2, start_period_s: 0}
    hosts:      {name: URL} or [{name: N, url: URL, tls: {ca, cert, key} | cert_path: DIR}] (engine/hosts.py)
    notify:     [{url: slack://…, project:, host:, tier:, min_severity:}]  (checked by runbook_lib.alerts)
    maintenance: [{service: X, cron: "0 3 * * 0", duration: 30m, reason: …}] (checked by runbook_lib.maintenance)
    alerts:     {storm_threshold: 5, reminder_interval: 30m, max_per_round: 5}  (defaults below)

Unknown keys are errors (a typo must not silently disable an override).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.exceptions import ConfigError

ENV_VAR = "RUNBOOK_CONFIG"
DEFAULT_NAME = "runbook.yaml"
TOP_LEVEL_KEYS = ("tiers", "probes", "thresholds", "hosts", "notify", "maintenance", "alerts")
DEFAULT_THRESHOLDS: dict[str, int | float] = {"failure": 3, "success": 2, "start_period_s": 0.0}
_THRESHOLD_TYPES = {"failure": int, "success": int, "start_period_s": float}
# alerts: storm_threshold (services failing in one round that make one grouped message),
# reminder_interval (seconds or 30m / 2h while an incident stays open), max_per_round (per target)
DEFAULT_ALERTS: dict[str, int | float] = {"storm_threshold": 5, "reminder_interval_s": 3600.0, "max_per_round": 5}
_ALERT_KEYS = ("storm_threshold", "reminder_interval", "max_per_round")
_DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class RunbookConfig:
    """Validated runbook config; ``path`` is None when the defaults apply."""

    tiers: dict[str, str] = field(default_factory=dict)
    probes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    thresholds: dict[str, int | float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    path: str | None = None
    hosts: list[dict[str, Any]] = field(default_factory=list)  # [{name, url, ...}], read by engine/hosts.py
    notify: list[Any] = field(default_factory=list)
    maintenance: list[Any] = field(default_factory=list)
    alerts: dict[str, int | float] = field(default_factory=lambda: dict(DEFAULT_ALERTS))


def find_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the config comes from: explicit path, RUNBOOK_CONFIG, ./runbook.yaml, or None."""
    env = os.environ if environ is None else environ
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"runbook config {p} not found. Fix: check the path passed with --config.")
        return p
    if env.get(ENV_VAR):
        p = Path(env[ENV_VAR])
        if not p.is_file():
            raise ConfigError(f"runbook config {p} (from {ENV_VAR}) not found. "
                              f"Fix: point {ENV_VAR} at an existing file or unset it.")
        return p
    p = Path.cwd() / DEFAULT_NAME
    return p if p.is_file() else None


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> RunbookConfig:
    """Find, read and validate the runbook config; defaults when there is none."""
    found = find_config(path, environ)
    if found is None:
        return RunbookConfig()
    try:
        data = yaml.safe_load(found.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{found}{where}: not valid YAML ({getattr(exc, 'problem', exc)}). "
                          "Fix: correct the YAML syntax.") from None
    except OSError as exc:
        raise ConfigError(f"{found}: cannot be read ({exc.strerror}). Fix: check its permissions.") from None
    return parse_config(data, source=str(found))


def parse_config(data: Any, source: str = "runbook config") -> RunbookConfig:
    """Validate an already-parsed config mapping (pure)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping with keys {', '.join(TOP_LEVEL_KEYS)}.")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{source}: unknown key '{key}'. "
                              f"Fix: use only {', '.join(TOP_LEVEL_KEYS)} (check the spelling).")
    return RunbookConfig(tiers=_tiers(data.get("tiers"), source),
                         probes=_probes(data.get("probes"), source),
                         thresholds=_thresholds(data.get("thresholds"), source),
                         path=None if source == "runbook config" else source,
                         hosts=_hosts(data.get("hosts"), source),
                         notify=_listed(data.get("notify"), "notify", source),
                         maintenance=_listed(data.get("maintenance"), "maintenance", source),
                         alerts=_alerts(data.get("alerts"), source))


def _listed(raw: Any, key: str, source: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: '{key}' must be a list of mappings (see docs/alerts.md).")
    return list(raw)


def _tiers(raw: Any, source: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: 'tiers' must map service names to a tier, "
                          "e.g. tiers: {postgres: infrastructure}.")
    out: dict[str, str] = {}
    for service, tier in raw.items():
        if not isinstance(tier, str) or not tier.strip():
            raise ConfigError(f"{source}: tiers.{service} must be a tier name "
                              f"(infrastructure, application or your own name), not {tier!r}.")
        out[str(service)] = tier.strip()
    return out


def _probes(raw: Any, source: str) -> dict[str, list[dict[str, Any]]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: 'probes' must map service names to a list of probes, "
                          "e.g. probes: {auth: [{kind: http, port: 3001, path: /health}]}.")
    out: dict[str, list[dict[str, Any]]] = {}
    for service, items in raw.items():
        if isinstance(items, Mapping):
            items = [items]
        if not isinstance(items, list):
            raise ConfigError(f"{source}: probes.{service} must be a list of probe mappings.")
        checked = []
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ConfigError(f"{source}: probes.{service}[{i}] must be a mapping with at least 'kind'.")
            if not isinstance(item.get("kind"), str) or not item["kind"]:
                raise ConfigError(f"{source}: probes.{service}[{i}] has no 'kind'. "
                                  "Fix: add kind: http (or tcp, postgres, redis, …).")
            checked.append({str(k): v for k, v in item.items()})
        out[str(service)] = checked
    return out


def _section(raw: Any, name: str, keys: Any, source: str, example: str = "") -> Mapping[str, Any]:
    """A mapping section's items, refusing a non-mapping and unknown keys (one line each)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: '{name}' must be a mapping with keys {', '.join(keys)}{example}.")
    for key in raw:
        if key not in keys:
            raise ConfigError(f"{source}: unknown key '{name}.{key}'. Fix: use only {', '.join(keys)}.")
    return raw


def _thresholds(raw: Any, source: str) -> dict[str, int | float]:
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in _section(raw, "thresholds", _THRESHOLD_TYPES, source).items():
        want = _THRESHOLD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (want is int and value != int(value)):
            raise ConfigError(f"{source}: thresholds.{key} must be a{'n integer' if want is int else ' number'}, "
                              f"not {value!r}.")
        if value < (1 if want is int else 0):
            raise ConfigError(f"{source}: thresholds.{key} must be {'at least 1' if want is int else '>= 0'}, "
                              f"not {value!r}.")
        out[key] = want(value)
    return out


def _alerts(raw: Any, source: str) -> dict[str, int | float]:
    """``alerts:`` → storm_threshold (int >= 2), reminder_interval_s (>= 60 s), max_per_round (int >= 1)."""
    out = dict(DEFAULT_ALERTS)
    example = ", e.g. alerts: {storm_threshold: 5, reminder_interval: 30m}"
    for key, value in _section(raw, "alerts", _ALERT_KEYS, source, example).items():
        if key == "reminder_interval":
            seconds = _duration_s(value)
            if seconds is None or not math.isfinite(seconds) or seconds < 60:
                raise ConfigError(f"{source}: alerts.reminder_interval must be a duration of at least 1 minute "
                                  f"(e.g. 30m, 2h or 3600), not {value!r}.")
            out["reminder_interval_s"] = seconds
            continue
        low = 2 if key == "storm_threshold" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{source}: alerts.{key} must be a whole number of at least {low}, not {value!r}.")
        out[key] = int(value)
    return out


def _duration_s(value: Any) -> float | None:
    """3600, '90s', '30m', '2h', '1d' → seconds; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    try:
        if text and text[-1] in _DURATION_UNITS_S:
            return float(text[:-1]) * _DURATION_UNITS_S[text[-1]]
        return float(text)
    except ValueError:
        return None


def _hosts(raw: Any, source: str) -> list[dict[str, Any]]:
    """``hosts:`` as a list of {name, url, ...}: from {name: url | {url, ...}} or a list of such entries."""
    if raw is None:
        return []
    items = [{"name": k, **(v if isinstance(v, Mapping) else {"url": v})} for k, v in raw.items()] \
        if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise ConfigError(f"{source}: 'hosts' must map host names to engine URLs, e.g. "
                          "hosts: {prod: ssh://ops@prod.example, staging: tcp://10.0.0.5:2376}.")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and "=" in item:
            name, url = item.split("=", 1)
            item = {"name": name, "url": url}
        if not isinstance(item, Mapping) or not str(item.get("name") or "").strip() or not item.get("url"):
            raise ConfigError(f"{source}: hosts[{i}] needs a name and a url (e.g. {{name: prod, url: "
                              f"ssh://ops@prod.example}}).")
        out.append({str(k): v for k, v in item.items()})
    return out
