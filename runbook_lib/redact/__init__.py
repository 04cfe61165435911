"""Secret masking: nothing secret may reach a frame, notebook, HTML, JSON, store or log.

Rules (as Datadog's agent and Sentry scrub, but on whole segments of a key, see ``keys``):
- a value whose key names a secret (``API_KEY``, ``DB_PASSWORD``, ``X-Auth-Token``, ``SENTRY_DSN``)
  is masked, in environments, labels, command flags and ``key=value`` / ``"key": "value"`` text;
  keys that point at a secret or describe a mode (``*_FILE``, ``*_METHOD``, ``*_ENABLED``) are not;
- URLs with ``user:password@`` keep the user, lose the password; ``https://<key>@host`` loses the key;
- ``Bearer``/``Basic`` tokens, ``redis-cli -a x`` and PEM private-key blocks are masked;
- a value learned from its key is masked wherever else it appears in free text (commands,
  health output, logs), as a whole token, unless it is weak or a placeholder (``quality``).

Identifiers (service, container, image, project, volume and network names, paths) go through
``mask_identifier``: only URL passwords are hidden there, learned values never are.

A process-wide redactor remembers learned values and the stack's identifiers, so what the
inventory learns from a container's environment also masks that container's logs later on.
Every function runs in time linear in its input (see ``scan``).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib.redact import keys, quality, scan
from runbook_lib.redact.keys import MASK, is_secret_key, is_secret_pair
from runbook_lib.redact.quality import identifier_words, is_plaintext_secret, secret_quality

try:  # a Rust Aho-Corasick automaton masks 1000 learned values in one pass over the text
    import ahocorasick_rs as _ahocorasick
except ImportError:  # pragma: no cover - the regex fallback gives the same result, slower
    _ahocorasick = None

__all__ = ["MASK", "IDENTIFIER_FIELDS", "Redactor", "DEFAULT", "is_secret_key", "is_secret_pair",
           "is_plaintext_secret", "secret_quality", "secret_values", "learn", "learn_text", "learn_env", "learn_command",
           "learn_identifiers", "mask_text", "mask_identifier", "mask_value", "mask_env", "mask_command",
           "mask_obj", "mask_frame"]

# Fields (dict keys, frame columns) that hold identifiers: never masked by learned values.
IDENTIFIER_FIELDS = frozenset({
    "service", "services", "name", "container", "container_name", "containers", "image", "images",
    "project", "projects", "volume", "volumes", "network", "networks", "source", "path", "file", "files",
    "working_dir", "config_files", "id", "container_id", "blocked_by", "blocks", "root_causes",
    "depends_on", "compose_files", "project_dir", "key",
})

_NFA = ({"implementation": _ahocorasick.Implementation.NoncontiguousNFA}
        if _ahocorasick is not None and hasattr(_ahocorasick, "Implementation") else {})
_CACHE_CAP = 50_000  # entries per cache of a Redactor; a full cache starts over (only time is lost)
_LONGEST_LEARNED = 4096  # longer values are masked where they stand (their key), not learned
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_JOINERS = frozenset("-./")
_BOUNDARY_BEFORE = r"(?<![A-Za-z0-9_])(?<![A-Za-z0-9_][\-./])"
_BOUNDARY_AFTER = r"(?![A-Za-z0-9_])(?![\-./][A-Za-z0-9_])"


def _inside_token(text: str, start: int, end: int) -> bool:
    """True when text[start:end] is part of a longer token (``app-147076913-1``, ``/opt/x/y``).

    A token is a run of word characters joined by single ``-``, ``.`` or ``/``; a trailing
    ``.`` (end of a sentence) or a lone ``-`` is a boundary, so ``pw is x.`` still hides x.
    """
    if start > 0:
        c = text[start - 1]
        if c in _WORD or (c in _JOINERS and start > 1 and text[start - 2] in _WORD):
            return True
    if end < len(text):
        c = text[end]
        if c in _WORD or (c in _JOINERS and end + 1 < len(text) and text[end + 1] in _WORD):
            return True
    return False


def _strip_quotes(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _worth_learning(value: str) -> bool:
    if len(value) > _LONGEST_LEARNED or MASK in value or "-----BEGIN" in value:
        return False
    if "://" in value and not scan.url_credential_spans(value):
        return False
    return quality.secret_quality(None, value) is None


class Redactor:
    """Masks secrets in text and structures; remembers values learned from keys.

    Learning is idempotent and never forgets, so an input already learned from is skipped; a
    text's masked form is kept until something new is learned (a new value or identifier
    starts a new cache), so a stack's repeated texts are masked once.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._identifiers: set[str] = set()
        self._lock = threading.Lock()
        self._matcher: tuple[Any, list[str]] | None = None
        self._masked: dict[str, str] = {}  # text -> masked, for what is known now
        self._learned_from: set[Any] = set()  # inputs (texts, environment items, argvs) fully learned
        for value in known:
            self.learn(value)

    # -- learning -------------------------------------------------------
    def learn(self, value: Any) -> None:
        """Remember a secret value so it is masked wherever it appears (weak ones are not)."""
        if value is None or isinstance(value, bool):
            return
        v = _strip_quotes(str(value).strip())
        if not _worth_learning(v):
            return
        with self._lock:
            if v not in self._known:
                self._known.add(v)
                self._forget_masked()

    def learn_identifiers(self, names: Iterable[Any] | None) -> None:
        """Remember the stack's names (services, containers, project, images, volumes, networks).

        A learned value equal to one of them, or to one of their segments, is never masked.
        """
        words = identifier_words(names or ())
        with self._lock:
            if not words <= self._identifiers:
                self._identifiers |= words
                self._forget_masked()

    def _forget_masked(self) -> None:
        """Under the lock: what is known changed, so the matcher and the masked texts start over."""
        self._matcher = None
        self._masked = {}

    def _done(self, item: Any) -> None:
        """Remember an input as learned from (only after its learning completed)."""
        with self._lock:
            if len(self._learned_from) >= _CACHE_CAP:
                self._learned_from.clear()
            self._learned_from.add(item)

    def learn_text(self, text: str | None) -> None:
        """Learn the secret values that ``text`` itself reveals (k=v, flags, URLs, tokens)."""
        if not text or not isinstance(text, str) or text in self._learned_from:
            return
        for value in secret_values(text):
            self.learn(value)
        self._done(text)

    def learn_env(self, env: Mapping[str, Any] | Iterable[str] | None) -> None:
        """Learn values of secret keys (and URL passwords) from an environment."""
        for key, value in _env_items(env):
            if value is None or (isinstance(value, str) and (key, value) in self._learned_from):
                continue
            if is_secret_pair(key, value):
                self.learn(value)
            self.learn_text(str(value))
            if isinstance(value, str):
                self._done((key, value))

    def learn_command(self, args: Iterable[str] | str | None) -> None:
        """Learn values of secret flags (``--requirepass x``, ``--password=x``, ``redis-cli -a x``)."""
        if args is None:
            return
        if isinstance(args, str):
            self.learn_text(args)
            return
        args = tuple(str(a) for a in args)
        if args in self._learned_from:
            return
        for i, keep in _secret_args(list(args)).items():
            self.learn(args[i][len(keep):])
        for arg in args:
            self.learn_text(arg)
        self._done(args)

    @property
    def known_count(self) -> int:
        return len(self._known)

    # -- masking --------------------------------------------------------
    def mask_text(self, text: Any) -> Any:
        """Mask every secret in free text; non-strings pass through unchanged."""
        if not isinstance(text, str) or not text:
            return text
        cache = self._masked  # this cache first: anything learned later replaces it, never fills it stale
        out = cache.get(text)
        if out is None:
            out = self._mask_known(scan.apply(text, scan.secret_spans(text), MASK))
            if len(cache) < _CACHE_CAP:
                cache[text] = out
        return out

    def mask_identifier(self, value: Any) -> Any:
        """Mask an identifier (a name, image, path): URL passwords only, never learned values."""
        if not isinstance(value, str) or not value:
            return value
        return scan.apply(value, scan.url_credential_spans(value), MASK)

    def _matcher_now(self) -> tuple[Any, list[str]] | None:
        with self._lock:
            if self._matcher is None:
                values = sorted((v for v in self._known if v.lower() not in self._identifiers),
                                key=len, reverse=True)
                if not values:
                    return None
                if _ahocorasick is not None:  # an NFA: built in time linear in the values (a DFA is not)
                    auto = _ahocorasick.AhoCorasick(values, matchkind=_ahocorasick.MatchKind.Standard,
                                                    **_NFA)
                else:
                    auto = re.compile(_BOUNDARY_BEFORE + "(?:" + "|".join(map(re.escape, values)) + ")"
                                      + _BOUNDARY_AFTER)
                self._matcher = (auto, values)
            return self._matcher

    def _mask_known(self, text: str) -> str:
        """Mask learned values as whole tokens, in one pass (Aho-Corasick, or a regex without it)."""
        if not self._known:
            return text
        matcher = self._matcher_now()
        if matcher is None:
            return text
        auto, _ = matcher
        if isinstance(auto, re.Pattern):
            return auto.sub(MASK, text)
        spans: list[tuple[int, int]] = []
        last = 0
        found = auto.find_matches_as_indexes(text, overlapping=True)
        found.sort(key=lambda m: (m[1], -m[2]))
        for _, start, end in found:
            if start >= last and not _inside_token(text, start, end):
                spans.append((start, end))
                last = end
        return scan.apply(text, spans, MASK)

    def mask_value(self, key: str, value: Any) -> Any:
        """Mask one keyed value: whole value when it is a secret, else its text."""
        if value is None or value == "":
            return value
        if is_secret_pair(key, value):
            return MASK
        if str(key) in IDENTIFIER_FIELDS:
            return self.mask_identifier(value)
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
        hide = _secret_args(args)
        return [self.mask_text(arg) if i not in hide else hide[i] + MASK for i, arg in enumerate(args)]

    def mask_obj(self, obj: Any, key: str | None = None) -> Any:
        """Mask a JSON-like structure recursively (dict keys decide, strings are scanned).

        Values under identifier fields (``service``, ``image``, ``name`` ...) keep learned values.
        """
        if isinstance(obj, Mapping):
            return {k: (MASK if is_secret_pair(str(k), v) else self.mask_obj(v, str(k))) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.mask_obj(v, key) for v in obj]
        if isinstance(obj, str):
            return self.mask_identifier(obj) if key in IDENTIFIER_FIELDS else self.mask_text(obj)
        return obj

    def mask_frame(self, df, columns: Iterable[str] | None = None):
        """Return a copy of a DataFrame with text columns masked (all object columns by default).

        Identifier columns (``service``, ``name``, ``image``, ``project`` ...) only lose URL passwords.
        """
        out = df.copy()
        cols = list(columns) if columns is not None else [
            c for c in out.columns if out[c].dtype == object or str(out[c].dtype).startswith("str")]
        for c in cols:
            if c in out.columns:
                out[c] = out[c].map(lambda v, c=str(c): self.mask_obj(v, c))
        return out


def secret_values(text: str | None) -> list[str]:
    """The secret values that the shape of ``text`` gives away (``--requirepass x``, ``k=v``, URLs).

    Learned values play no part; ``${VAR}`` references are not values. Linear time.
    """
    if not text or not isinstance(text, str):
        return []
    return [text[s:e] for s, e in scan.secret_spans(text)]


def _secret_args(args: list[str]) -> dict[int, str]:
    """argv items holding a secret value -> the part to keep (``--password=``, ``-p`` or nothing)."""
    out: dict[int, str] = {}
    tool = ""
    i = 0
    while i < len(args):
        arg = args[i]
        base = arg.rsplit("/", 1)[-1]
        if base in ("redis-cli", "valkey-cli", "mysql", "mysqladmin", "mariadb", "mariadb-admin"):
            tool = base
        flag, eq, value = arg.partition("=")
        if arg.startswith("-") and is_secret_key(flag):
            if eq and is_secret_pair(flag, value):
                out[i] = flag + "="
            elif not eq and i + 1 < len(args) and not args[i + 1].startswith("-") \
                    and is_secret_pair(flag, args[i + 1]):
                out[i + 1] = ""
                i += 1
        elif tool in ("redis-cli", "valkey-cli") and arg == "-a" and i + 1 < len(args):
            if not keys.is_reference(args[i + 1]):
                out[i + 1] = ""
            i += 1
        elif tool.startswith(("mysql", "mariadb")) and arg.startswith("-p") and len(arg) > 2:
            if not keys.is_reference(arg[2:]):
                out[i] = "-p"
        i += 1
    return out


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
learn_identifiers = DEFAULT.learn_identifiers
mask_text = DEFAULT.mask_text
mask_identifier = DEFAULT.mask_identifier
mask_value = DEFAULT.mask_value
mask_env = DEFAULT.mask_env
mask_command = DEFAULT.mask_command
mask_obj = DEFAULT.mask_obj
mask_frame = DEFAULT.mask_frame
