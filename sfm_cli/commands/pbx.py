"""`sfm pbx load FILE`: check a PBX directory and make it the host's directory in --data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.pbx_directory import store_directory, stored_path
from runtime.pbx_live import (
    UserChange,
    clear_live_state,
    live_directory,
    parse_redirect,
    set_user_state,
    user_document,
)
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
    user = pbx_sub.add_parser(
        "user",
        parents=[common],
        help="show or change a user's live state (DND, redirects), effective on the next call",
        description=(
            "Show the user ID, or switch its DND and redirects: --dnd on|off, --redirect "
            "always=202, busy=voicemail, timeout=0301234:25, always=off, always=on. Kept in "
            "the data folder until the next `sfm pbx load`; a running host uses it for the "
            "next call."
        ),
    )
    user.add_argument("user_id", metavar="ID", help="the user's id in the PBX directory")
    user.add_argument("--dnd", choices=("on", "off"), default=None)
    user.add_argument("--redirect", action="append", default=[], metavar="KIND=DEST|off|on")
    user.set_defaults(func=run_user)


def run_load(args: argparse.Namespace) -> int:
    """Store the checked directory as DATA/pbx.toml (atomic); Refused means nothing changed."""
    directory = store_directory(args.file, args.data)
    clear_live_state(args.data)
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


def run_user(args: argparse.Namespace) -> int:
    """Show or change one user's live DND/redirects; Refused (exit 2) changes nothing."""
    directory = live_directory(args.data)
    user = directory.user(args.user_id)
    if user is None:
        known = ", ".join(u.id for u in directory.users) or "none"
        raise Refused(f"user {args.user_id!r}: no such user in the PBX directory (users: {known}).")
    redirects = tuple(parse_redirect(text, user) for text in args.redirect)
    if args.dnd is not None or redirects:
        dnd = None if args.dnd is None else args.dnd == "on"
        user = set_user_state(args.data, args.user_id, UserChange(dnd, redirects))
    document = user_document(user)
    parts = [f"DND {'on' if user.dnd else 'off'}"]
    for kind, r in document["redirects"].items():
        parts.append(f"{kind} {'-> ' + str(r['destination']) if r['enabled'] else 'off'}")
    emit(args, document, f"{user.id} ({user.name}): " + ", ".join(parts))
    return 0


def _count(n: int, thing: str) -> str:
    """ "1 group", "2 groups" """
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
