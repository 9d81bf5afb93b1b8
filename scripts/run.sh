#!/usr/bin/env bash
# The main job: set everything up, build the .sfm files, and show a sample decision.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python build.py
