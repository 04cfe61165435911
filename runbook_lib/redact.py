"""Secret masking: nothing secret may reach a frame, notebook, HTML, JSON, store or log.

Rules (as Datadog's agent and Sentry scrub):
- a value whose key contains PASS, PWD, SECRET, TOKEN, KEY, CREDENTIAL, AUTH or DSN
  (case-insensitive) is masked, in environments, labels, command flags and
  ``key=value`` / ``"key": "value"`` text;
- URLs with ``user:password@`` keep the user, lose the password;
- ``Bearer``/``Basic`` tokens and PEM private-key blocks are masked;
- a value learned from its key is masked wherever else it appears (commands,
  health output, logs).

A process-wide redactor remembers learned values, so what the inventory learns
from a container's environment also masks that container's logs later on.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[MASKED]"

try:  # a Rust Aho-Corasick automaton masks 1000 learned values in one pass over the text
    import ahocorasick_rs as _ahocorasick
except ImportError:  # pragma: no cover - the regex fallback gives the same result, slower
    _ahocorasick = None
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")

_SECRET_WORDS = ("PASS", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "DSN")
_SECRET_KEY_RE = re.compile("|".join(_SECRET_WORDS), re.IGNORECASE)
_KEYCHARS = r"[A-Za-z0-9_.\-]"
_WORDS_RE = "(?:pass|pwd|secret|token|key|credential|auth|dsn)"

# scheme://user:password@host  (user may be empty: redis://:pw@host)
_URL_CRED_RE = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\"]*:)(?P<val>[^/\s@'\"]+)(?P<post>@)")
_BEARER_RE = re.compile(r"(?P<pre>\b(?:Bearer|Basic|Token)\s+)(?P<val>[A-Za-z0-9._~+/=\-]{6,})", re.IGNORECASE)
_PEM_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.DOTALL)
# --password=x, --requirepass x, -password x
_FLAG_RE = re.compile(
    rf"(?P<pre>(?<![A-Za-z0-9_])--?{_KEYCHARS}*{_WORDS_RE}{_KEYCHARS}*(?:=|\s+))(?P<val>\"[^\"]*\"|'[^']*'|[^\s\"']+)",
    re.IGNORECASE,
)
# KEY=value, key: value, "key": "value", 'key'='value'
_KV_RE = re.compile(
    rf"(?P<pre>(?<![A-Za-z0-9_\-./@])([\"']?){_KEYCHARS}*{_WORDS_RE}{_KEYCHARS}*\2(?:[ \t]*=|:(?=[ \t\"'])|[ \t]+:)[ \t]*)"
    rf"(?P<val>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'{{\[(}}\])][^\s,;&\"'}}\])]*)",
    re.IGNORECASE,
)
_WHOLE_WORD_BELOW = 8  # learned values shorter than this are masked as whole words only
_NOT_SECRETS = {"true", "false", "yes", "no", "none", "null", "on", "off", "", MASK.lower()}


# Words that contain a secret word but name no secret ("health checks passing", "passthrough").
_BENIGN_WORDS_RE = re.compile(r"passing|passthrough|bypass", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """True when a key (env name, label, flag, JSON field) names a secret."""
    return bool(_SECRET_KEY_RE.search(_BENIGN_WORDS_RE.sub("", str(key))))


def _worth_learning(value: str) -> bool:
    v = value.strip().strip("'\"")
    if len(v) < 4 or v.lower() in _NOT_SECRETS or MASK in v:
        return False
    if re.fullmatch(r"[0-9.]+", v):
        return False
    if "://" in v and not _URL_CRED_RE.search(v):
        return False
    return True


def _strip_quotes(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


class Redactor:
    """Masks secrets in text and structures; remembers values learned from keys."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._known_re: re.Pattern[str] | None = None
        self._ac = None
        self._ac_values: list[str] = []
        for value in known:
            self.learn(value)

    # -- learning -------------------------------------------------------
    def learn(self, value: Any) -> None:
        """Remember a secret value so it is masked wherever it appears."""
        if value is None:
            return
        v = _strip_quotes(str(value).strip())
        if not _worth_learning(v):
            return
        with self._lock:
            if v not in self._known:
                self._known.add(v)
                self._known_re = None
                self._ac = None

    def learn_text(self, text: str | None) -> None:
        """Learn the secret values that ``text`` itself reveals (k=v, flags, URLs)."""
        if not text:
            return
        for rx in (_URL_CRED_RE, _FLAG_RE, _KV_RE, _BEARER_RE):
            for m in rx.finditer(text):
                self.learn(m.group("val"))

    def learn_env(self, env: Mapping[str, Any] | Iterable[str] | None) -> None:
        """Learn values of secret keys (and URL passwords) from an environment."""
        for key, value in _env_items(env):
            if value is None:
                continue
            if is_secret_key(key):
                self.learn(value)
            self.learn_text(str(value))

    def learn_command(self, args: Iterable[str] | str | None) -> None:
        """Learn values of secret flags (``--requirepass x``, ``--password=x``)."""
        if args is None:
            return
        if isinstance(args, str):
            self.learn_text(args)
            return
        args = [str(a) for a in args]
        for i, arg in enumerate(args):
            if arg.startswith("-") and is_secret_key(arg):
                if "=" in arg:
                    self.learn(arg.split("=", 1)[1])
                elif i + 1 < len(args):
                    self.learn(args[i + 1])
            self.learn_text(arg)

    @property
    def known_count(self) -> int:
        return len(self._known)

    # -- masking --------------------------------------------------------
    def _known_pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._known_re is None and self._known:
                # Long values are masked wherever they appear; short ones (weak passwords such as
                # "admin") only as whole words, so "adminer" or "pgadmin" stay readable.
                alts = sorted(self._known, key=len, reverse=True)
                parts = [re.escape(a) if len(a) >= _WHOLE_WORD_BELOW else
                         rf"(?<![A-Za-z0-9_]){re.escape(a)}(?![A-Za-z0-9_])" for a in alts]
                self._known_re = re.compile("|".join(parts))
            return self._known_re

    def mask_text(self, text: Any) -> Any:
        """Mask every secret in free text; non-strings pass through unchanged."""
        if not isinstance(text, str) or not text:
            return text
        out = _PEM_RE.sub(MASK, text)
        out = _URL_CRED_RE.sub(lambda m: m.group("pre") + MASK + m.group("post"), out)
        out = _BEARER_RE.sub(lambda m: m.group("pre") + MASK, out)
        out = _FLAG_RE.sub(_mask_group, out)
        out = _KV_RE.sub(_mask_group, out)
        return self._mask_known(out)

    def _mask_known(self, text: str) -> str:
        """Mask learned values: one Aho-Corasick pass when ahocorasick_rs is there, else a regex."""
        if not self._known:
            return text
        if _ahocorasick is None:
            rx = self._known_pattern()
            return rx.sub(MASK, text) if rx is not None else text
        with self._lock:
            if self._ac is None:
                self._ac_values = sorted(self._known, key=len, reverse=True)
                self._ac = _ahocorasick.AhoCorasick(self._ac_values,
                                                    matchkind=_ahocorasick.MatchKind.LeftmostLongest)
            ac, values = self._ac, self._ac_values
        parts: list[str] = []
        pos = 0
        for idx, start, end in ac.find_matches_as_indexes(text):
            if len(values[idx]) < _WHOLE_WORD_BELOW and (
                    (start > 0 and _WORD_CHAR.match(text[start - 1])) or
                    (end < len(text) and _WORD_CHAR.match(text[end]))):
                continue  # a short value inside a longer word ("admin" in "adminer")
            parts.append(text[pos:start])
            parts.append(MASK)
            pos = end
        if not parts:
            return text
        parts.append(text[pos:])
        return "".join(parts)

    def mask_value(self, key: str, value: Any) -> Any:
        """Mask one keyed value: whole value when the key is secret, else its text."""
        if value is None or value == "":
            return value
        if is_secret_key(key):
            return MASK
        return self.mask_text(value) if isinstance(value, str) else value

    def mask_env(self, env: Mapping[str, Any] | Iterable[str] | None):
        """Mask an environment given as a mapping or as a ``KEY=VALUE`` list."""
        if env is None:
            return None
        if isinstance(env, Mapping):
            return {k: self.mask_value(k, v) for k, v in env.items()}
        out = []
        for item in env:
            item = str(item)
            if "=" in item:
                k, v = item.split("=", 1)
                out.append(f"{k}={self.mask_value(k, v)}")
            else:
                out.append(item)
        return out

    def mask_command(self, args: Iterable[str] | str | None):
        """Mask secret flag values in an argv list (or a shell string)."""
        if args is None:
            return None
        if isinstance(args, str):
            return self.mask_text(args)
        args = [str(a) for a in args]
        out: list[str] = []
        hide_next = False
        for arg in args:
            if hide_next:
                out.append(MASK)
                hide_next = False
                continue
            if arg.startswith("-") and is_secret_key(arg):
                if "=" in arg:
                    out.append(arg.split("=", 1)[0] + "=" + MASK)
                else:
                    out.append(arg)
                    hide_next = True
                continue
            out.append(self.mask_text(arg))
        return out

    def mask_obj(self, obj: Any, key: str | None = None) -> Any:
        """Mask a JSON-like structure recursively (dict keys decide, strings are scanned)."""
        if isinstance(obj, Mapping):
            return {k: (MASK if is_secret_key(str(k)) and isinstance(v, (str, int, float)) and v != ""
                        else self.mask_obj(v, str(k))) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.mask_obj(v, key) for v in obj]
        if isinstance(obj, str):
            return self.mask_text(obj)
        return obj

    def mask_frame(self, df, columns: Iterable[str] | None = None):
        """Return a copy of a DataFrame with text columns masked (all object columns by default)."""
        out = df.copy()
        cols = list(columns) if columns is not None else [
            c for c in out.columns if out[c].dtype == object or str(out[c].dtype).startswith("str")]
        for c in cols:
            if c in out.columns:
                out[c] = out[c].map(self.mask_obj)
        return out


def _mask_group(m: re.Match[str]) -> str:
    val = m.group("val")
    key = re.sub(r"^[-\s\"']+|[\s\"'=:]+$", "", m.group("pre"))
    if not is_secret_key(key):
        return m.group(0)  # e.g. "passing_pct: 50"
    if val.startswith(MASK[:-1]) or val.strip("'\"").startswith(MASK[:-1]):
        return m.group(0)
    if val[:1] in "'\"" and len(val) >= 2:
        return m.group("pre") + val[0] + MASK + val[-1]
    return m.group("pre") + MASK


def _env_items(env) -> list[tuple[str, Any]]:
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [(str(k), v) for k, v in env.items()]
    items = []
    for item in env:
        item = str(item)
        if "=" in item:
            k, v = item.split("=", 1)
            items.append((k, v))
    return items


# The process-wide redactor and its shortcuts.
DEFAULT = Redactor()
learn = DEFAULT.learn
learn_text = DEFAULT.learn_text
learn_env = DEFAULT.learn_env
learn_command = DEFAULT.learn_command
mask_text = DEFAULT.mask_text
mask_value = DEFAULT.mask_value
mask_env = DEFAULT.mask_env
mask_command = DEFAULT.mask_command
mask_obj = DEFAULT.mask_obj
mask_frame = DEFAULT.mask_frame
