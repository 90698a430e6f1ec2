#!/usr/bin/env bash
# Install what the tests need and run every gate: ruff, the import-linter contracts, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
