"""Hostile text (issue 14): masking runs in linear time, with no regex that can backtrack.

No timing assertions: a static check that no pattern nests quantifiers, an exactness check
on adversarial shapes, and a subprocess with a generous timeout as a hang guard only
(``mask_text("-" * 16000)`` used to take 18 s, a megabyte would take hours).
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from runbook_lib import redact
from runbook_lib.redact import MASK, Redactor, keys, quality, scan

try:  # Python 3.11+
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _has_nested_repeat(items, inside: bool = False) -> bool:
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            if inside:
                return True
            if _has_nested_repeat(av[2], True):
                return True
        elif name == "SUBPATTERN":
            if _has_nested_repeat(av[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_has_nested_repeat(b, inside) for b in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _has_nested_repeat(av[1], inside):
                return True
    return False


def _module_patterns():
    for mod in (redact, keys, scan, quality):
        for name, value in vars(mod).items():
            if isinstance(value, re.Pattern):
                yield f"{mod.__name__}.{name}", value


@pytest.mark.parametrize("name,pattern", list(_module_patterns()), ids=lambda x: x if isinstance(x, str) else "")
def test_no_pattern_nests_quantifiers(name, pattern):
    assert not _has_nested_repeat(sre_parse.parse(pattern.pattern, pattern.flags)), name


def test_the_checker_sees_nesting():
    assert _has_nested_repeat(sre_parse.parse(r"(-\S*)*x"))
    assert _has_nested_repeat(sre_parse.parse(r"(?:a|(?:b+))+"))
    assert not _has_nested_repeat(sre_parse.parse(r"[\w.\-]*=\s+"))


SHAPES = {
    "dashes": "-" * 20_000,
    "equals": "=" * 20_000,
    "spaces": " " * 20_000,
    "token": "aB3" * 7_000,
    "flags": "--password" * 2_000,
    "kv": "password=" * 2_000,
    "open_quotes": 'password="' * 2_000,
    "urls": "a://" * 5_000,
    "pem": "-----BEGIN RSA PRIVATE KEY-----" * 500,
    "bearer": "Bearer " * 3_000,
    "redis": "redis-cli -a " * 1_500,
    "dash_a": "-a" * 10_000,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_adversarial_shapes_mask_exactly(shape):
    """Nothing is lost or invented: unmasked parts come back unchanged, masks stand on values."""
    text = SHAPES[shape]
    r = Redactor()
    out = r.mask_text(text)
    spans = scan.secret_spans(text)
    assert out == scan.apply(text, spans, MASK)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    if shape in ("dashes", "equals", "spaces", "token", "urls", "dash_a"):
        assert out == text


def test_reads_grow_linearly_with_the_input():
    """The scanner looks at each trigger once: doubling the text doubles the looks, no more."""
    calls = []
    original = scan._Scan.keyed

    def counting(self, pos, end):
        calls.append(pos)
        return original(self, pos, end)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scan._Scan, "keyed", counting)
        sizes = []
        for n in (1_000, 2_000, 4_000):
            calls.clear()
            scan.secret_spans("--password" * n + "token" * n)
            sizes.append(len(calls))
    assert sizes[1] <= 2 * sizes[0] + 2 and sizes[2] <= 2 * sizes[1] + 2


HANG_GUARD = textwrap.dedent("""\
    import sys
    from runbook_lib import redact
    r = redact.Redactor()
    r.learn_env({"REDIS_PASSWORD": "147076913", "API_KEY": "lrn-Canary-4471"})
    mb = 1_000_000
    shapes = ["-" * mb, "=" * mb, " " * mb, "a" * mb, "aB3-" * (mb // 4), "--password" * (mb // 10),
              "password=" * (mb // 9), 'password="' * (mb // 10), "a://" * (mb // 4), "Bearer " * (mb // 7),
              "-----BEGIN RSA PRIVATE KEY-----" * (mb // 31), "redis-cli -a " * (mb // 13), "-a" * (mb // 2),
              "147076913-" * (mb // 10), "key: " * (mb // 5), "x@y:" * (mb // 4)]
    for text in shapes:
        r.mask_text(text)
        r.learn_text(text[:200_000])
        r.mask_command(text[:100_000].split(" ")[:1000])
    assert r.mask_text("auth 147076913 ok") == "auth [MASKED] ok"
    print("ok")
    """)


def test_a_megabyte_of_each_hostile_shape_does_not_hang():
    proc = subprocess.run([sys.executable, "-c", HANG_GUARD], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
