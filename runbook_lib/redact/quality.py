"""Is a secret value worth hiding everywhere, or is it weak or a placeholder?

A value that is a dictionary word (``admin``, ``postgres``, ``changeme``), an identifier of the
stack (a service, project or image name) or a placeholder (``replace-me``, ``disabled``,
``<your-key>``, ``${VAR}``) is not learned: masking it wherever it appears would garble images,
paths and names (``library/[MASKED]:16``). The lint reports it as a weak or placeholder secret.

The dictionary is zxcvbn's frequency lists (common passwords, English words, names) plus the
default credentials of common images.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from runbook_lib.redact import keys

Quality = Literal["weak", "placeholder"]

# Default users, passwords and product names that images ship with (not all in zxcvbn's lists).
_DEFAULT_CREDENTIALS = frozenset({
    "admin", "administrator", "postgres", "postgresql", "mysql", "mariadb", "redis", "valkey", "mongo",
    "mongodb", "rabbitmq", "guest", "minio", "minioadmin", "elastic", "elasticsearch", "kibana", "grafana",
    "keycloak", "sonar", "sonarqube", "jenkins", "gitlab", "nexus", "admin123", "changeit", "changeme",
    "password", "passw0rd", "p@ssw0rd", "secret", "root", "toor", "user", "test", "testing", "demo",
    "default", "django", "rails", "laravel", "airflow", "superset", "metabase", "kafka", "zookeeper",
    "clickhouse", "cassandra", "neo4j", "couchdb", "influxdb", "memcached", "nginx", "traefik", "portainer",
    "docker", "compose", "local", "localhost", "dev", "development", "prod", "production", "staging",
})
_PLACEHOLDER_WORDS = frozenset({
    "replaceme", "changeme", "changethis", "changeit", "disabled", "disable", "enabled", "example",
    "placeholder", "dummy", "todo", "tbd", "fixme", "notset", "unset", "none", "null", "nil", "empty",
    "undefined", "redacted", "masked", "notused", "unused", "na", "true", "false", "yes", "no", "on",
    "off", "yoursecret", "yourpassword", "yourtoken",
    "yourkey", "yourapikey", "mysecret", "mypassword", "sample", "xxx",
})
_PLACEHOLDER_PARTS = ("replaceme", "changeme", "changethis", "example", "placeholder", "yourkeyhere",
                      "yoursecret", "yourpassword", "yourtoken", "yourapikey", "insertyour", "putyour",
                      "dummy", "notarealsecret", "fixme")
_PLACEHOLDER_PARTS_RE = re.compile("|".join(map(re.escape, _PLACEHOLDER_PARTS)))
_TEMPLATE_RE = re.compile(r"<[^<>]*>|\$\{[^{}]*\}|\{\{[^{}]*\}\}|%\([^()]*\)s|\[[^\[\]]*\]")
_REPEAT_RE = re.compile(r"(.)\1*")
_PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]*")
_CLASS_RE = re.compile(r"[A-Z][A-Za-z0-9_$]*")
_DURATION_RE = re.compile(r"[0-9.]+(?:ms|[smhdwy])?")
_NORMALISE_RE = re.compile(r"[^a-z0-9]+")
_SPLIT_RE = re.compile(r"[^A-Za-z0-9]+")


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    words = {w for lst in FREQUENCY_LISTS.values() for w in lst}
    return frozenset(words | _DEFAULT_CREDENTIALS)


def _strip(value: Any) -> str:
    v = str(value).strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1].strip()
    return v


def is_placeholder(value: Any) -> bool:
    """``replace-me``, ``changeme``, ``disabled``, ``xxx``, ``<your-key>``, ``${VAR}`` and the like."""
    v = _strip(value)
    if not v or v == keys.MASK:
        return True
    if _TEMPLATE_RE.fullmatch(v) or keys.is_reference(v):
        return True
    norm = _NORMALISE_RE.sub("", v.lower())
    if not norm:
        return True  # "***", "...", "---"
    if norm in _PLACEHOLDER_WORDS or (len(set(norm)) == 1 and norm[0] in "x*0"):
        return True
    return _PLACEHOLDER_PARTS_RE.search(norm) is not None


def identifier_words(identifiers: Iterable[Any]) -> set[str]:
    """Lower-case names and their segments (``acme-db-1`` -> acme-db-1, acme, db, 1)."""
    out: set[str] = set()
    for ident in identifiers:
        if ident is None:
            continue
        s = str(ident).strip().lower()
        if not s:
            continue
        out.add(s)
        out.update(p for p in _SPLIT_RE.split(s) if p)
    return out


def is_weak(value: Any, key: str | None = None, identifiers: Iterable[Any] | set[str] = ()) -> bool:
    """A dictionary word, a stack identifier, too short, one repeated character or few digits."""
    v = _strip(value)
    low = v.lower()
    if len(v) < 4 or _REPEAT_RE.fullmatch(v) is not None:
        return True
    if v.isdigit() and len(v) < 6:
        return True
    if low in _dictionary():
        return True
    idents = identifiers if isinstance(identifiers, set) else identifier_words(identifiers)
    if low in idents:
        return True
    return key is not None and low in keys.segments(str(key).lstrip("-"))


def secret_quality(key: str | None, value: Any, identifiers: Iterable[Any] = ()) -> Quality | None:
    """None for a real secret, ``"placeholder"`` or ``"weak"`` for one that is not worth learning.

    ``identifiers`` are the stack's names (services, containers, project, images, volumes,
    networks); a secret equal to one of them (or to one of their segments) is weak.
    """
    if value is None or isinstance(value, bool):
        return "placeholder"
    if is_placeholder(value):
        return "placeholder"
    if is_weak(value, key, identifiers):
        return "weak"
    return None


def _is_class_name(value: str) -> bool:
    """``org.apache.kafka.common.security.plain.PlainLoginModule``: packages, then a class."""
    parts = value.split(".")
    return len(parts) >= 3 and _CLASS_RE.fullmatch(parts[-1]) is not None and all(
        _PACKAGE_RE.fullmatch(p) for p in parts[:-1])


def is_plaintext_secret(key: str, value: Any) -> bool:
    """True when a compose file writes a literal secret under ``key`` (the lint's plaintext-secret).

    Skips what is not a literal secret: variable references and Docker-secret patterns
    (``$${X}``, ``"$$(cat $$REDIS_PASSWORD_FILE)"``, anything with ``$``), file paths,
    class names (``org.apache.kafka.common.security.plain.PlainLoginModule``), URLs without
    credentials, durations and placeholders. Weak literals (``admin``) are still plaintext secrets.
    """
    if value is None or isinstance(value, bool) or not keys.is_secret_key(key):
        return False
    v = _strip(value)
    if len(v) < 3 or "$" in v or keys.looks_like_path(v) or _is_class_name(v):
        return False
    if _DURATION_RE.fullmatch(v) and not v.isdigit():
        return False
    if is_placeholder(v):
        return False
    return keys.is_secret_pair(key, v)
