"""`sfm pbx load FILE`: check a PBX directory and make it the host's directory in --data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.pbx_directory import store_directory, stored_path
from sfm_cli.output import emit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `pbx load`."""
    pbx = sub.add_parser(
        "pbx",
        parents=[common],
        help="the PBX directory (users, groups, numbers, number plan)",
        description="Manage the PBX directory the host routes calls with.",
    )
    pbx_sub = pbx.add_subparsers(dest="pbx_command", required=True, metavar="COMMAND")
    load = pbx_sub.add_parser(
        "load",
        parents=[common],
        help="check a PBX directory file and replace the directory in --data with it",
        description=(
            "Check the PBX directory FILE (TOML: [pbx] version and number plan, [[users]], "
            "[[groups]]) and replace the directory in the data folder with it. A refused file "
            "changes nothing (exit 2, the reason names the field)."
        ),
    )
    load.add_argument("file", type=Path, metavar="FILE", help="the PBX directory TOML file")
    load.set_defaults(func=run_load)


def run_load(args: argparse.Namespace) -> int:
    """Store the checked directory as DATA/pbx.toml (atomic); Refused means nothing changed."""
    directory = store_directory(args.file, args.data)
    target = stored_path(args.data)
    document = {
        "path": str(target),
        "version": directory.version,
        "users": len(directory.users),
        "groups": len(directory.groups),
    }
    text = (
        f"PBX directory loaded from {args.file}: {_count(len(directory.users), 'user')}, "
        f"{_count(len(directory.groups), 'group')}, PBX version {directory.version} ({target})."
    )
    emit(args, document, text)
    return 0


def _count(n: int, thing: str) -> str:
    """ "1 group", "2 groups" """
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
