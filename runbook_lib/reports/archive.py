"""The output folder: where reports go, how they are named, one scan of it, atomic writes.

Each report is three files, ``<out>/YYYY-MM-DD/<kind>-HHMMSSZ[-N].{ipynb,html,json}``.
A run reserves its name when it starts by creating ``.<stem>.partial.ipynb`` exclusively
(``O_EXCL``): two runs in the same second, from any folder, get distinct names (``-1``,
``-2`` …). Final files are written to a temporary file beside them and renamed into
place, so no half-written file ever sits under a final name. Only files matching these
patterns are ever deleted.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

DATE_DIR_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})$")
# <kind>-HHMMSSZ[-N].ext: -N when several reports of a kind share a second.
REPORT_FILE_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*?)-(?P<hms>\d{6})Z(?:-(?P<seq>\d{1,4}))?\.(?P<ext>ipynb|html|json)$")
# What a killed run can leave: its reservation/partial notebook and atomic-write temporaries.
STALE_FILE_RE = re.compile(r"^\..+(?:\.partial\.ipynb|\.tmp)$")
REPORT_EXTS = ("ipynb", "html", "json")
MAX_SEQ = 9999


def default_output_dir() -> Path:
    """``RUNBOOK_OUTPUT_DIR`` or ``./outputs``."""
    return Path(os.environ.get("RUNBOOK_OUTPUT_DIR") or "outputs")


@dataclass(frozen=True)
class ReportFiles:
    """One report: its date folder, stem (``<kind>-HHMMSSZ[-N]``) and the files that exist."""

    date_dir: Path
    kind: str
    generated_at: pd.Timestamp
    files: tuple[Path, ...]
    seq: int = 0

    @property
    def stem(self) -> str:
        return f"{self.kind}-{self.generated_at:%H%M%S}Z" + (f"-{self.seq}" if self.seq else "")

    def path(self, ext: str) -> Path | None:
        for f in self.files:
            if f.suffix == f".{ext}":
                return f
        return None


def is_plain_file(p: Path) -> bool:
    try:
        return p.is_file() and not p.is_symlink()
    except OSError:
        return False


def _date_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [d for d in sorted(root.iterdir()) if DATE_DIR_RE.match(d.name) and not d.is_symlink() and d.is_dir()]


def scan_reports(output_dir: str | Path, kind: str | None = None) -> list[ReportFiles]:
    """Every report in the tree (optionally one kind), by the naming pattern only, newest first."""
    groups: dict[tuple[Path, str, str, int], list[Path]] = {}
    for d in _date_dirs(Path(output_dir)):
        for f in d.iterdir():
            fm = REPORT_FILE_RE.match(f.name)
            if not fm or (kind is not None and fm["name"] != kind) or not is_plain_file(f):
                continue
            groups.setdefault((d, fm["name"], fm["hms"], int(fm["seq"] or 0)), []).append(f)
    out = []
    for (d, name, hms, seq), files in groups.items():
        try:
            ts = pd.Timestamp(datetime.strptime(f"{d.name}T{hms}", "%Y-%m-%dT%H%M%S").replace(tzinfo=timezone.utc))
        except ValueError:
            continue  # e.g. 2026-13-40: not a report the runner wrote
        out.append(ReportFiles(d, name, ts, tuple(sorted(files)), seq))
    out.sort(key=lambda r: (r.generated_at, r.seq, r.kind), reverse=True)
    return out


def find_previous(output_dir: str | Path | None, kind: str, before: pd.Timestamp | None = None) -> Path | None:
    """The JSON of the newest ``kind`` report written before ``before`` (None if there is none)."""
    root = Path(output_dir) if output_dir else default_output_dir()
    limit = before.floor("s") if before is not None else None
    for r in scan_reports(root, kind):
        js = r.path("json")
        if js is not None and (limit is None or r.generated_at < limit):
            return js
    return None


def reserve(output_dir: Path, kind: str, now: datetime) -> tuple[Path, str, Path]:
    """Reserve a report name atomically: (date folder, stem, the reserved partial notebook).

    The partial file is created with ``O_EXCL``; a name is free only when no run holds its
    partial file and none of its final files exist. The caller removes the partial file
    after the final files are in place.
    """
    day = output_dir / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    base = f"{kind}-{now.strftime('%H%M%SZ')}"
    for n in range(MAX_SEQ + 1):
        stem = base if n == 0 else f"{base}-{n}"
        partial = day / f".{stem}.partial.ipynb"
        try:
            fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        if any((day / f"{stem}.{ext}").exists() for ext in REPORT_EXTS):
            os.unlink(partial)
            continue
        return day, stem, partial
    raise FileExistsError(f"more than {MAX_SEQ} reports named {base} in {day}")


def stale_files(output_dir: str | Path, older_than_s: float = 86400.0, now_s: float | None = None) -> list[Path]:
    """Partial notebooks and ``.tmp`` files that killed runs left behind, older than ``older_than_s``."""
    root = Path(output_dir)
    now_s = time.time() if now_s is None else now_s
    out = []
    for d in [root, *_date_dirs(root)]:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if STALE_FILE_RE.match(f.name) and is_plain_file(f):
                try:
                    if now_s - f.stat().st_mtime > older_than_s:
                        out.append(f)
                except OSError:
                    continue
    return out


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically (temp file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
