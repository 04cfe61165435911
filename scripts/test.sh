#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, system packages, engine, pytest.
set -eu
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/test-deps.sh
bash scripts/engine.sh
exec .venv/bin/python -m pytest "$@"
