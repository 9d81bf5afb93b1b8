#!/usr/bin/env bash
# Every test: set up (test tools and chromium included), lint, type-check, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
