"""`sfm licence`: not built yet (placeholder so the dispatcher stays one list)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `licence` subcommand (not built yet)."""
