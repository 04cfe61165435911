"""The test suite never touches the user's own files: every default path points into a session tmp folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runbook_lib.alerts import outbox
from runbook_lib.demo import services
from runbook_lib.engine import audit
from runbook_lib.history import store
from runbook_lib.maintenance import windows
from runbook_lib.reports import kernel, schedule

_DEFAULTS = """
import json
from runbook_lib.alerts import outbox
from runbook_lib.demo import services
from runbook_lib.engine import audit
from runbook_lib.history import store
from runbook_lib.maintenance import windows
from runbook_lib.reports import kernel, schedule
print(json.dumps([str(p) for p in (store.resolve_path(), store.default_path(), audit.default_path(),
      outbox.default_path(), windows.default_path(), services.data_dir(), schedule.state_dir(),
      schedule.default_unit_dir(euid=1000), kernel.resolve_output_dir(None))]))
"""


def _under(path: str | Path, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(root.resolve())


def test_default_paths_are_under_the_session_tmp_folder(pinned_user_paths):
    root = pinned_user_paths
    home = Path.home()
    for p in (store.resolve_path(), store.default_path(), audit.default_path(), outbox.default_path(),
              windows.default_path(), services.data_dir(), schedule.state_dir(),
              schedule.default_unit_dir(euid=1000), kernel.resolve_output_dir(None)):
        assert _under(p, root), p
        assert not _under(p, home / ".local"), p
    assert os.environ["RUNBOOK_STORE"] == str(store.resolve_path())


def test_subprocesses_inherit_the_pinned_paths(pinned_user_paths):
    out = subprocess.run([sys.executable, "-c", _DEFAULTS], capture_output=True, text=True, timeout=120,
                         env={**os.environ}, check=True).stdout
    for p in json.loads(out):
        assert _under(p, pinned_user_paths), p
