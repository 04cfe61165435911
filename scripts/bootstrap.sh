#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with requirements.txt and the
# project installed (editable). Re-runs skip pip when nothing changed.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.runbook-installed
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
# The notebooks name the kernel "python3": make sure it is this venv's.
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true
# Byte-compile the package: where PYTHONDONTWRITEBYTECODE is set (as on some CI images) every
# command would otherwise compile runbook_lib from source (~0.3–0.7 s each). Only changed files
# are recompiled.
.venv/bin/python -m compileall -q runbook_lib >/dev/null 2>&1 || true
