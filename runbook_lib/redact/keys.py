"""Which keys name a secret: whole segments of the key, never substrings of a word.

A key (env name, label, flag, JSON field, header) is split on ``_ - . :`` and camelCase
(``X-Auth-Token`` -> x, auth, token; ``apiKey`` -> api, key). It names a secret when one
segment does (PASSWORD, SECRET, TOKEN, DSN, ...) and no segment after it says the key only
points at a secret or describes a mode (``_FILE``, ``_PATH``, ``_METHOD``, ``_ENABLED``, ``_URL`` ...).
So ``SORT_KEY``, ``MONKEY_COUNT``, ``VALKEY_IMAGE``, ``AUTHOR`` and ``POSTGRES_HOST_AUTH_METHOD``
are settings, while ``API_KEY``, ``DB_PASSWORD``, ``X-Auth-Token`` and ``SENTRY_DSN`` are secrets.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MASK = "[MASKED]"

# Segments that name a secret wherever they stand in the key.
_SECRET_SEGMENTS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "secret", "secrets", "token", "tokens",
    "credential", "credentials", "creds", "dsn", "authorization", "apikey", "secretkey", "privatekey",
    "accesskey", "masterkey", "licensekey", "signingkey", "encryptionkey", "authkey", "appkey",
    "requirepass", "masterauth", "basicauth", "digestauth", "htpasswd", "salt",
})
# Suffixes of one-word keys that name a secret (PGPASSWORD, AUTHTOKEN, CLIENTSECRET).
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "token", "secret")
# AUTH names a secret only as the last segment (BASIC_AUTH, REDIS_AUTH, --auth).
_LAST_ONLY = frozenset({"auth"})
# KEY names a secret when qualified (API_KEY, SECRET_KEY), except by these words.
_KEY_NOT_SECRET = frozenset({
    "sort", "primary", "foreign", "partition", "routing", "cache", "shard", "group", "order", "unique",
    "index", "lookup", "range", "dedup", "deduplication", "idempotency", "message", "event", "queue",
    "topic", "public", "pub", "composite", "search", "map", "dict", "hot", "lock", "namespace", "prefix",
    "object", "json", "config", "registry", "translation", "label", "field", "column", "row", "sequence",
    "natural", "surrogate", "shortcut",
})
# Segments after the secret word that make the key a pointer or a mode, not the secret itself.
_NOT_SECRET_TRAILERS = frozenset({
    "file", "files", "filename", "path", "dir", "directory", "location", "method", "methods", "type",
    "mode", "enabled", "enable", "disabled", "disable", "required", "url", "uri", "endpoint", "host",
    "hostname", "port", "server", "addr", "address", "domain", "issuer", "audience", "scope", "scopes",
    "realm", "provider", "strategy", "algorithm", "algo", "alg", "length", "len", "size", "bits", "min",
    "max", "count", "ttl", "timeout", "expiry", "expire", "expires", "expiration", "lifetime", "interval",
    "format", "header", "name", "prefix", "suffix", "field", "param", "version", "policy", "level",
    "warning", "warnings", "user", "username", "role", "class", "env", "var", "cmd", "command",
    "source", "backend", "through", "rotation", "reset", "validation", "validity", "check", "id_field",
})
# First segments that make a command-line flag a switch (--no-password, --ask-pass).
_FLAG_NEGATIONS = frozenset({"no", "skip", "disable", "without", "ignore", "allow", "ask", "prompt", "use"})

_SPLIT_RE = re.compile(r"[_\-.:/\s]+")
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "nil", "0", "1"})
_VAR_REF_RE = re.compile(r"\$?\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*|\((?:cat|<) [^()`;|&]*\))")
_PATH_RE = re.compile(r"(?:~|\.\.|\.)?/[\w.\-/@~%,]*|[A-Za-z]:\\[\w.\-\\]*")
_SPACE_RE = re.compile(r"\s")  # the characters str.isspace() accepts
_FILE_CHARS_RE = re.compile(r"[\w.\-/]+")
_FILE_EXTENSIONS = frozenset({"pem", "key", "crt", "cert", "cer", "p12", "pfx", "jks", "json", "txt", "env", "yaml",
                              "yml", "conf", "cfg", "secret", "asc", "gpg", "der", "csr", "keystore", "truststore"})


@lru_cache(maxsize=4096)
def segments(key: str) -> tuple[str, ...]:
    """The lower-case segments of a key: split on ``_ - . : /`` and camelCase."""
    out: list[str] = []
    for part in _SPLIT_RE.split(str(key)):
        if not part:
            continue
        if part.isupper() or part.islower() or part.isdigit():
            out.append(part.lower())
        else:
            out.extend(m.group(0).lower() for m in _CAMEL_RE.finditer(part))
    return tuple(out)


def _segment_hits(segs: tuple[str, ...]) -> list[int]:
    hits = []
    last = len(segs) - 1
    for i, s in enumerate(segs):
        if s in _SECRET_SEGMENTS or (len(s) > 5 and s.endswith(_SECRET_SUFFIXES)):
            hits.append(i)
        elif s in _LAST_ONLY and i == last:
            hits.append(i)
        elif s == "key" and i > 0 and segs[i - 1] not in _KEY_NOT_SECRET:
            hits.append(i)
    return hits


@lru_cache(maxsize=8192)
def is_secret_key(key: str) -> bool:
    """True when a key (env name, label, flag, JSON field, header) names a secret.

    runbook's own field names (``key``, ``passing_pct``) never do: a lone ``key`` is not a secret.
    """
    raw = str(key).strip().strip("\"'")
    flag = raw.startswith("-")
    segs = segments(raw.lstrip("-"))
    if not segs:
        return False
    if flag and segs[0] in _FLAG_NEGATIONS and len(segs) > 1:
        return False
    hits = _segment_hits(segs)
    if not hits:
        return False
    return not any(s in _NOT_SECRET_TRAILERS for s in segs[hits[-1] + 1:])


def looks_like_path(value: str) -> bool:
    """A file or directory path (``/srv/web``, ``./certs/x.pem``, ``C:\\x``), not a secret."""
    v = value.strip()
    if not v or _SPACE_RE.search(v):
        return False
    if _PATH_RE.fullmatch(v):
        last = v.rsplit("/", 1)[-1]
        # "/Zq9x7" is more likely a password than a folder: one level must read as a name
        return v.startswith(("~", ".")) or v[1:3] == ":\\" or v.count("/") >= 2 or "." in last or last == last.lower()
    # a relative file such as certs/server.key
    return "/" in v and _FILE_CHARS_RE.fullmatch(v) is not None and v.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS


def is_reference(value: str) -> bool:
    """``$VAR``, ``${VAR}``, ``$$VAR`` or ``$$(cat $$X_FILE)``: names a secret, reveals nothing."""
    v = value.strip().strip("\"'")
    return bool(v) and _VAR_REF_RE.fullmatch(v) is not None


def is_secret_pair(key: str, value: Any) -> bool:
    """True when ``value``, found under ``key``, is a secret to hide.

    The key must name a secret, and the value must be one: booleans, variable references,
    paths (``PWD=/srv/web``, ``SSL_KEY=/certs/x.key``) and URLs without credentials are not.
    """
    if value is None or isinstance(value, bool) or not is_secret_key(key):
        return False
    if not isinstance(value, (str, int, float)):
        return False
    v = str(value).strip()
    if not v or v == MASK or v.lower() in _BOOL_WORDS - {"0", "1"}:
        return False
    if is_reference(v) or looks_like_path(v):
        return False
    if "://" in v and "@" not in v.split("://", 1)[1].split("/", 1)[0]:
        return False
    return True
