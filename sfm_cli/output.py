"""Printing a command's result as JSON (--json) or as text for people."""

from __future__ import annotations

import argparse
import json
from typing import Any


def emit(args: argparse.Namespace, document: Any, text: str) -> None:
    """Print `document` as one JSON document with --json, else `text`."""
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))
    else:
        print(text)
