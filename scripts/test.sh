#!/usr/bin/env bash
# Install what the tests need and run every gate: ruff, the import-linter contracts, pytest.
#   scripts/test.sh [PYTEST ARGS]    the suite (the installer bundle's tests are left out)
#   scripts/test.sh --bundle         build the installer bundle and run its tests (minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
if [[ "${1:-}" == "--bundle" ]]; then
    shift
    exec .venv/bin/python -m pytest -m bundle tests/installer "$@"
fi
.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
