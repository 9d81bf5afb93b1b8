"""Python code run in a fresh interpreter of its own, for what a test must not do to itself
(drop root, end the process that holds something, pin itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    """Run `code` with the repository importable; its standard output (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
