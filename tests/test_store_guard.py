"""The SQLite store's gaps: a read-only folder's -wal rows are exported; deep damage is the store's own error."""
from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from runbook_lib import cli
from runbook_lib.exceptions import StoreCorrupt
from runbook_lib.history import debounce as db
from runbook_lib.history import store as st
from runbook_lib.history import uptime
from runbook_lib.reports import uptime as uptime_report

T0 = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=6)).floor("min")
PAGE = 4096


def _write(s, rounds: int, services: int, first: int = 0) -> None:
    for i in range(first, first + rounds):
        s.write_states(T0 + pd.Timedelta(minutes=i), [
            {"project": "p", "service": f"svc{j}", "raw": db.DOWN if (i + j) % 7 == 0 else db.UP,
             "latency_ms": 0.7, "error": "refused" if (i + j) % 7 == 0 else None, "started_ts": None}
            for j in range(services)])


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder and a read-only bind mount of it (root writes anywhere: chmod would not do)."""
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    ok = subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True).returncode == 0
    ok = ok and subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True).returncode == 0
    if not ok:
        subprocess.run(["umount", str(ro)], capture_output=True)
        if os.environ.get("CI"):
            pytest.fail("cannot make a read-only bind mount (needs root and mount permission)")
        pytest.skip("cannot make a read-only bind mount")
    yield src, ro
    subprocess.run(["umount", str(ro)], check=False)


def test_rows_only_in_the_wal_are_exported_from_a_read_only_folder(tmp_path, read_only_folder, capsys):
    src, ro = read_only_folder
    live = tmp_path / "live"
    live.mkdir()
    with st.open_store(live / "h.sqlite3", thresholds=db.Thresholds(1, 1)) as s:
        _write(s, 5, 3)
        s.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # these rows are in the file
        s.con.execute("PRAGMA wal_autocheckpoint = 0")
        _write(s, 5, 3, first=5)  # these only in the -wal
        for name in ("h.sqlite3-wal", "h.sqlite3"):  # the files as a killed collector leaves them
            shutil.copyfile(live / name, src / name)
    assert (ro / "h.sqlite3-wal").stat().st_size > 0
    with pytest.raises(OSError):
        (ro / "probe").write_text("x")
    # the file alone (what immutable=1 reads) lacks the -wal rows
    con = sqlite3.connect(f"file:{ro / 'h.sqlite3'}?mode=ro&immutable=1", uri=True)
    assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == 15
    con.close()
    s = st.open_store(ro / "h.sqlite3", readonly=True)
    try:
        assert len(s.samples()) == 30
        private = s.private_dir
        assert private is not None and private.exists()
    finally:
        s.close()
    assert not private.exists()
    out = tmp_path / "out"
    rc = cli.main(["export", "--format", "csv", "--store", str(ro / "h.sqlite3"), "--since", "7h",
                   "--output-dir", str(out)])
    assert rc == 0, capsys.readouterr().err
    samples = pd.read_csv(next(out.glob("samples-*.csv")))
    assert len(samples) == 30 and samples["ts"].nunique() == 10
    assert sorted(p.name for p in src.iterdir()) == ["h.sqlite3", "h.sqlite3-wal"]  # nothing written beside


def _varint(b: bytes, i: int) -> tuple[int, int]:
    v = 0
    for k in range(9):
        c = b[i + k]
        v = (v << 7) | (c & 0x7F)
        if c < 0x80:
            return v, i + k + 1
    return v, i + 9


def _btree_pages(d: bytes, root: int) -> list[int]:
    out, todo = [], [root]
    while todo:
        pg = todo.pop()
        out.append(pg)
        off = (pg - 1) * PAGE
        if d[off] in (2, 5):  # interior: the right-most child, then one child per cell
            todo.append(struct.unpack(">I", d[off + 8:off + 12])[0])
            for c in range(struct.unpack(">H", d[off + 3:off + 5])[0]):
                ptr = struct.unpack(">H", d[off + 12 + 2 * c:off + 14 + 2 * c])[0]
                todo.append(struct.unpack(">I", d[off + ptr:off + ptr + 4])[0])
    return out


def _corrupt_index_rowids(path: Path, index: str) -> int:
    """Point every entry of an index's leaf pages at another row: the pages stay well-formed, so
    ``PRAGMA quick_check`` passes, and a query through the index finds the file malformed."""
    con = sqlite3.connect(path)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (index,)).fetchone()[0]
    con.close()
    d = bytearray(path.read_bytes())
    changed = 0
    for pg in _btree_pages(bytes(d), root):
        off = (pg - 1) * PAGE
        if d[off] != 10:  # index leaf pages only
            continue
        for c in range(struct.unpack(">H", d[off + 3:off + 5])[0]):
            ptr = struct.unpack(">H", d[off + 8 + 2 * c:off + 10 + 2 * c])[0]
            _, i = _varint(d, off + ptr)  # payload size
            hsz, k = _varint(d, i)
            sizes = []
            while k < i + hsz:
                t, k = _varint(d, k)
                sizes.append({0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8}.get(t, 0))
            if sizes[-1]:
                d[i + hsz + sum(sizes[:-1])] ^= 0x40  # the trailing rowid
                changed += 1
    path.write_bytes(bytes(d))
    return changed


def test_deep_damage_after_a_passing_quick_check_is_the_stores_error(tmp_path, capsys):
    path = tmp_path / "h.sqlite3"
    with st.open_store(path, thresholds=db.Thresholds(1, 1)) as s:
        _write(s, 150, 20)
    size = path.stat().st_size
    assert _corrupt_index_rowids(path, "intervals_service") > 100
    assert path.stat().st_size == size
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"  # passes the check at open
    con.close()
    for readonly in (True, False):
        s = st.open_store(path, readonly=readonly)
        try:
            assert len(s.samples()) == 3000  # other tables still read
            with pytest.raises(StoreCorrupt, match="damaged or is not a runbook store.*Fix: move it aside"):
                s.intervals()
        finally:
            s.close()
    # the command line: one line, exit 2, no traceback
    rc = cli.main(["export", "--store", str(path), "--since", "7h", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "damaged or is not a runbook store" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    # the reports: degraded, not failed
    table, note = uptime.with_uptime_24h(pd.DataFrame({"service": ["svc1"]}), str(path))
    assert "damaged" in table.attrs["degraded_reason"] and "unavailable" in note
    report = uptime_report.build("24h", store_path=str(path))
    assert report.degraded_reasons and any("damaged" in r for r in report.degraded_reasons)
