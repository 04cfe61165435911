"""Find secret values in free text in linear time.

No regular expression here has nested or overlapping quantifiers run from every position:
one Aho-Corasick pass (or one literal alternation without it) finds the few places worth a
look (``://``, ``-----BEGIN``, words such as ``pass``, ``token``, ``bearer``), and each look
reads forward over a run that no later look reads again. So ``"-" * 1_000_000`` costs one pass.

What is found (as ``(start, end)`` spans of the value to hide):
- ``scheme://user:password@host`` -> the password; ``scheme://key@host`` (a DSN) -> the key;
- ``KEY=value``, ``key: value``, ``"key": "value"`` when the key names a secret;
- ``--password=x``, ``--requirepass x``, ``redis-cli -a x`` (and valkey-cli), ``mysql -px``;
- ``Authorization: Bearer x``, ``Bearer <token>``, ``Basic <token>``;
- PEM private-key blocks.
"""
from __future__ import annotations

import re

from runbook_lib.redact import keys

try:  # a Rust Aho-Corasick automaton: one pass over the text for every trigger word
    import ahocorasick_rs as _ahocorasick
except ImportError:  # pragma: no cover - the regex alternation gives the same spans, slower
    _ahocorasick = None

_TRIGGERS = ("://", "-----begin ", "pass", "pwd", "secret", "token", "key", "cred", "auth", "dsn", "phrase",
             "salt", "bearer", "basic", "redis-cli", "valkey-cli", "mysql", "mariadb")
_TRIGGER_RE = re.compile("|".join(re.escape(t) for t in _TRIGGERS))
_TRIGGER_AC = (_ahocorasick.AhoCorasick(list(_TRIGGERS), matchkind=_ahocorasick.MatchKind.LeftmostFirst)
               if _ahocorasick is not None else None)

_KEY_RUN = re.compile(r"[A-Za-z0-9_.\-]*")
_SCHEME_RUN = re.compile(r"[A-Za-z0-9+.\-]*")
_AUTHORITY = re.compile(r"[^/\s'\"<>\\]*")
_BLANKS = re.compile(r"[ \t]*")
_KV_VALUE = re.compile(r"[^\s,;&\"'}\])]*")
_FLAG_VALUE = re.compile(r"[^\s\"']*")
_AUTH_TOKEN = re.compile(r"[A-Za-z0-9._~+/=\-]*")
_TO_EOL_OR_QUOTE = re.compile(r"[^\n\"']*")
_REFERENCE = re.compile(r"\$?\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*|\((?:cat|<) [^()`;|&]*\))")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_REDIS_A = re.compile(r"(?<![\w.\-])-a(?:[ \t]+|=)(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"']+)")
_MYSQL_P = re.compile(r"(?<![\w.\-])(?:-p|--password=)([^\s\"']+)")
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey", "sso-key"})
_BARE_SCHEMES = frozenset({"bearer", "basic", "token"})
_KV_NOT_FIRST = frozenset(" \t\r\n,;&\"'{[(}])")


def _lower_ascii(text: str) -> str:
    """Lower-cased text in which every index still points at the same character."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


_URL, _PEM = 0, 1
_CONTEXTS = frozenset(i for i, t in enumerate(_TRIGGERS) if t in ("redis-cli", "valkey-cli", "mysql", "mariadb"))
_TRIGGER_INDEX = {t: i for i, t in enumerate(_TRIGGERS)}


def _triggers(low: str) -> list[tuple[int, int, int]]:
    """``(trigger index, start, end)`` of every trigger word, left to right."""
    if _TRIGGER_AC is not None:
        return _TRIGGER_AC.find_matches_as_indexes(low)
    return [(_TRIGGER_INDEX[m.group(0)], m.start(), m.end()) for m in _TRIGGER_RE.finditer(low)]


def _token_like(tok: str) -> bool:
    """A credential rather than a word: it has a digit, a capital or a symbol, or is long."""
    return len(tok) >= 20 or (len(tok) >= 6 and not (tok.isalpha() and tok.islower()))


class _Scan:
    """One left-to-right pass; ``cursor`` marks what no later look may read again."""

    def __init__(self, text: str, low: str | None = None) -> None:
        self.text = text
        self.n = len(text)
        self.low = _lower_ascii(text) if low is None else low
        self._rev: str | None = None
        self.spans: list[tuple[int, int]] = []
        self.cursor = 0
        self.context_end = -1  # end of the line where redis-cli or mysql was seen
        self.unclosed: dict[str, int] = {}  # quote -> a position after which it never occurs
        self.pem_end = 0  # end of the last private-key block looked at

    def run_start(self, pos: int, floor: int) -> int:
        """Start of the run of key characters that ends at ``pos`` (never before ``floor``)."""
        if self._rev is None:
            self._rev = self.text[::-1]
        back = _KEY_RUN.match(self._rev, self.n - pos).end() - (self.n - pos)
        return max(pos - back, floor)

    def add(self, start: int, end: int) -> None:
        if end > start:
            self.spans.append((start, end))

    # -- the looks -------------------------------------------------------
    def url(self, pos: int) -> None:
        """``pos`` is at ``://``: hide a password, or a DSN key standing alone as the user."""
        text = self.text
        if self._rev is None:
            self._rev = text[::-1]
        back = _SCHEME_RUN.match(self._rev, self.n - pos).end() - (self.n - pos)
        if back == 0:
            return
        start = pos + 3
        end = _AUTHORITY.match(text, start).end()
        at = text.rfind("@", start, end)
        if at <= start:
            return
        colon = text.find(":", start, at)
        if colon >= 0:
            self.add(colon + 1, at)
        elif _dsn_key(text[start:at]):
            self.add(start, at)

    def pem(self, pos: int) -> int:
        m = _PEM_BEGIN.match(self.text, pos)
        if m is None:
            return pos + 1
        look = m.end()
        while True:
            e = self.text.find("-----END ", look)
            if e < 0:
                self.add(pos, self.n)
                return self.n
            em = _PEM_END.match(self.text, e)
            if em is not None:
                self.add(pos, em.end())
                return em.end()
            look = e + 1

    def context(self, pos: int) -> None:
        """``redis-cli … -a x`` and ``mysql … -px`` on the rest of the line."""
        if pos < self.context_end:
            return
        eol = self.text.find("\n", pos)
        self.context_end = self.n if eol < 0 else eol
        rx = _REDIS_A if self.low.startswith(("redis-cli", "valkey-cli"), pos) else _MYSQL_P
        for m in rx.finditer(self.text, pos, self.context_end):
            vs, ve = _unquoted(m.span(1), self.text)
            if not (self.text[vs] == "$" and _REFERENCE.match(self.text, vs)):  # $$(cat …) reveals nothing
                self.add(vs, ve)

    def keyed(self, pos: int, end: int) -> None:
        """A trigger word inside a run of key characters: maybe ``key=value`` or ``--flag value``."""
        text = self.text
        s = self.run_start(pos, self.cursor)
        e = _KEY_RUN.match(text, end).end()
        self.cursor = e
        key = text[s:e]
        word = key.lower()
        if word in _BARE_SCHEMES and e < self.n and text[e] in " \t":
            if self._bare_scheme(e):
                return
        if not keys.is_secret_key(key):
            return
        flag = key.startswith("-") and not key.startswith("---")
        before = text[s - 1] if s > 0 else " "
        quote = before if before in "\"'" else ""
        if not flag and (before in "/@" or (quote and s > 1 and text[s - 2] in "/@")):
            return
        j = e + 1 if quote and e < self.n and text[e] == quote else e
        b = _BLANKS.match(text, j).end()
        if b >= self.n:
            return
        c = text[b]
        if c == "=":
            v = b + 1
        elif c == ":" and not flag and (b > j or (b + 1 < self.n and text[b + 1] in " \t\"'")):
            v = b + 1
        elif flag and b > j:
            v = b
        else:
            return
        v = _BLANKS.match(text, v).end()
        if v >= self.n:
            return
        if word.endswith("authorization") or word.endswith("proxy-authorization"):
            self._authorization(v)
            return
        span = self._value(v, flag)
        if span is None:
            return
        vs, ve = span
        self.cursor = max(self.cursor, ve)
        value = text[vs:ve]
        if keys.is_secret_pair(key, value) and not value.startswith(keys.MASK[:-1]):
            self.add(vs, ve)

    def _value(self, v: int, flag: bool) -> tuple[int, int] | None:
        text = self.text
        q = text[v]
        if q == "$":  # ${VAR}, $$VAR, $$(cat $$X_FILE): names the secret, reveals nothing
            ref = _REFERENCE.match(text, v)
            if ref is not None:
                self.cursor = max(self.cursor, ref.end())
                return None
        if q in "\"'":
            close = -1 if self.unclosed.get(q, self.n) <= v else text.find(q, v + 1)
            if close < 0:
                self.unclosed[q] = min(v, self.unclosed.get(q, v))
            if close >= 0 and (flag or text.find("\n", v + 1, close) < 0):
                return v + 1, close
            run = _FLAG_VALUE.match(text, v + 1).end()  # an unclosed quote: hide the word after it
            return v + 1, run
        if flag:
            if q == "-":
                return None
            return v, _FLAG_VALUE.match(text, v).end()
        if q in _KV_NOT_FIRST:
            return None
        return v, _KV_VALUE.match(text, v).end()

    def _authorization(self, v: int) -> None:
        """``Authorization: Bearer x`` keeps the scheme, hides the rest of the header."""
        text = self.text
        q = text[v] if text[v] in "\"'" else ""
        start = v + 1 if q else v
        word_end = _KEY_RUN.match(text, start).end()
        if text[start:word_end].lower() in _AUTH_SCHEMES and word_end < self.n and text[word_end] in " \t":
            start = _BLANKS.match(text, word_end).end()
        end = _TO_EOL_OR_QUOTE.match(text, start).end()
        while end > start and text[end - 1] in " \t\r,;":
            end -= 1
        self.add(start, end)
        self.cursor = max(self.cursor, end)

    def _bare_scheme(self, e: int) -> bool:
        t = _BLANKS.match(self.text, e).end()
        te = _AUTH_TOKEN.match(self.text, t).end()
        tok = self.text[t:te]
        if _token_like(tok) and not keys.is_reference(tok):
            self.add(t, te)
            self.cursor = max(self.cursor, te)
            return True
        return False


def _unquoted(span: tuple[int, int], text: str) -> tuple[int, int]:
    s, e = span
    if e - s >= 2 and text[s] == text[e - 1] and text[s] in "\"'":
        return s + 1, e - 1
    return s, e


def _dsn_key(user: str) -> bool:
    """The user part of ``https://<key>@host/42``: a key, not a plain user name such as ``git``."""
    if not user or keys.MASK in user:
        return False
    has_digit = any(c.isdigit() for c in user)
    has_alpha = any(c.isalpha() for c in user)
    return len(user) >= 16 or (len(user) >= 8 and has_digit and has_alpha)


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` spans of the secret values in free text."""
    if not text:
        return []
    low = _lower_ascii(text)
    found = _triggers(low)
    if not found:  # most values: no trigger word, nothing to look at
        return []
    scan = _Scan(text, low)
    for kind, s, e in found:
        if kind > _PEM and kind not in _CONTEXTS:
            if s >= scan.cursor:  # else inside a value or a run already read
                scan.keyed(s, e)
        elif kind == _URL:
            scan.url(s)
        elif kind == _PEM:
            if s >= scan.pem_end:  # a key block inside a quoted or cut value is still hidden
                scan.pem_end = scan.pem(s)
                scan.cursor = max(scan.cursor, scan.pem_end)
        else:
            scan.context(s)
    return merge(scan.spans)


def url_credential_spans(text: str) -> list[tuple[int, int]]:
    """Only the ``scheme://user:password@`` spans (for identifiers: names, images, paths)."""
    if not text or "://" not in text:
        return []
    scan = _Scan(text)
    pos = text.find("://")
    while pos >= 0:
        scan.url(pos)
        pos = text.find("://", pos + 3)
    return merge(scan.spans)


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and join overlapping spans."""
    if len(spans) < 2:
        return list(spans)
    spans = sorted(spans)
    out = [spans[0]]
    for s, e in spans[1:]:
        ps, pe = out[-1]
        if s < pe:
            out[-1] = (ps, max(pe, e))
        else:
            out.append((s, e))
    return out


def apply(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    """``text`` with every span replaced by ``mask``."""
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s, e in spans:
        parts.append(text[pos:s])
        parts.append(mask)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)
