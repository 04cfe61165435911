"""argparse ``type=`` validators: every number, duration and store location checked before anything runs.

A bad value becomes argparse's own one-line refusal on stderr with exit status 2
(``runbook collect: error: argument --interval: …``). Nothing here imports pandas or
docker, so ``runbook --help`` stays fast.
"""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

# Ceilings: far above any sensible use, low enough that arithmetic on them cannot overflow.
MAX_SECONDS = 7 * 86400.0          # a timeout, a budget, an interval between rounds
MAX_COUNT = 10**9                  # rounds, reports to keep
MAX_AGE_DAYS = 36500               # --since / --until ages: a hundred years
STORE_SCHEMES = ("sqlite", "postgresql", "postgres")  # postgres*: the PostgreSQL backend (history/store.py)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_DAYS = {"s": 1 / 86400, "m": 1 / 1440, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") \
            from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def seconds(low: float = 0.0, high: float = MAX_SECONDS, *, inclusive_low: bool = False,
            example: str = "30") -> Callable[[str], float]:
    """A finite number of seconds in (low, high] (or [low, high] with ``inclusive_low``)."""
    def check(text: str) -> float:
        value = float(_number(text, float))
        too_low = value < low if inclusive_low else value <= low
        if too_low or value > high:
            bound = f"at least {low:g}" if inclusive_low else f"more than {low:g}"
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range: seconds must be {bound} and at most {high:g}, e.g. {example}")
        return value
    check.__name__ = "seconds"  # argparse names the type in its messages
    return check


def count(low: int = 1, high: int = MAX_COUNT, *, example: str = "10") -> Callable[[str], int]:
    """A whole number in [low, high]."""
    def check(text: str) -> int:
        value = int(_number(text, int))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: use a whole number from {low} to {high}, "
                                             f"e.g. {example}")
        return value
    check.__name__ = "count"
    return check


def days(high: float = MAX_AGE_DAYS) -> Callable[[str], float]:
    """A finite number of days in [0, high]."""
    def check(text: str) -> float:
        value = float(_number(text, float))
        if not 0 <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: use a number of days from 0 to {high:g}, "
                                             f"e.g. 30")
        return value
    check.__name__ = "days"
    return check


def time_or_age(text: str) -> str:
    """``now``, an ISO time, or an age such as ``7d`` no older than MAX_AGE_DAYS (kept as text)."""
    s = str(text).strip()
    if not s:
        raise argparse.ArgumentTypeError("an empty time: use an ISO time (2026-11-20T08:00Z), 'now' or an age (7d)")
    m = _DURATION_RE.match(s)
    if m:
        age_days = float(m.group(1)) * _UNIT_DAYS[m.group(2).lower()]
        if not math.isfinite(age_days) or age_days > MAX_AGE_DAYS:
            raise argparse.ArgumentTypeError(f"{text!r} reaches back more than {MAX_AGE_DAYS} days: use a shorter "
                                             f"age (30d) or an ISO time")
        return s
    if s.lower() == "now":
        return s
    # an absolute time: read it the way the export reads it (deferred: pandas is slow to import)
    from runbook_lib.exceptions import ParameterError
    from runbook_lib.history.uptime import parse_time
    try:
        parse_time(s)
    except ParameterError:
        raise argparse.ArgumentTypeError(f"cannot read the time {s!r}: use an ISO time (2026-11-20T08:00Z), 'now' "
                                         f"or an age such as 30m, 24h, 7d") from None
    except (OverflowError, ValueError):
        raise argparse.ArgumentTypeError(f"the time {s!r} is out of range: use a time between 1677 and 2262") \
            from None
    return s


def every(text: str) -> str:
    """A schedule interval (15m, 1h, 1d) no longer than a year (kept as text; reports/schedule.py reads it)."""
    m = _DURATION_RE.match(str(text))
    if m and float(m.group(1)) * _UNIT_DAYS[m.group(2).lower()] > 366:
        raise argparse.ArgumentTypeError(f"{text!r} is longer than a year: use e.g. 15m, 1h or 1d")
    return str(text)


def store_location(text: str) -> str:
    """A store path, or a URL whose scheme a backend serves (sqlite:///PATH, postgresql://…)."""
    s = str(text)
    if not s.strip():
        raise argparse.ArgumentTypeError("an empty store location: pass a file path, sqlite:///PATH or "
                                         "postgresql://USER@HOST/DB")
    m = _SCHEME_RE.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme not in STORE_SCHEMES:
            raise argparse.ArgumentTypeError(f"no history store backend for {scheme}:// URLs: pass a file path, "
                                             f"sqlite:///PATH or postgresql://USER@HOST/DB")
        if scheme == "sqlite" and not s[len("sqlite://"):].startswith("/"):
            raise argparse.ArgumentTypeError(f"{s!r} is not a SQLite URL: write sqlite:///relative/path or "
                                             f"sqlite:////absolute/path")
    elif "\0" in s:
        raise argparse.ArgumentTypeError("a store path cannot contain a NUL byte")
    return s
