"""`sfm admin password|token`: the web host's admin password and the API tokens of scripts."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from runtime import db
from runtime.errors import Refused
from runtime.web import auth
from sfm_cli.output import emit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `admin` subcommand and its actions."""
    parser = sub.add_parser(
        "admin",
        parents=[common],
        help="the web host's admin: password, API tokens for scripts",
        description=(
            "Set the admin password of `sfm serve` (every session ends), and create, list or "
            "revoke API tokens. A script sends a token as `Authorization: Bearer <token>`; it "
            "needs no CSRF token."
        ),
    )
    actions = parser.add_subparsers(dest="admin_action", required=True, metavar="ACTION")

    password = actions.add_parser(
        "password", parents=[common], help="set the admin password; every session ends"
    )
    password.add_argument(
        "--stdin",
        action="store_true",
        help="read the new password from the first line of standard input (for scripts)",
    )
    password.set_defaults(func=run_password)

    token = actions.add_parser("token", parents=[common], help="API tokens for scripts")
    token_actions = token.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    create = token_actions.add_parser(
        "create", parents=[common], help="create a token and print it (shown only once)"
    )
    create.add_argument("name", help="what the token is for, e.g. the script's name")
    create.set_defaults(func=run_token_create)
    listing = token_actions.add_parser("list", parents=[common], help="list the tokens' names")
    listing.set_defaults(func=run_token_list)
    revoke = token_actions.add_parser("revoke", parents=[common], help="revoke a token")
    revoke.add_argument("name")
    revoke.set_defaults(func=run_token_revoke)


def _new_password(args: argparse.Namespace) -> tuple[str, str]:
    if args.stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line, line
    return getpass.getpass("New admin password: "), getpass.getpass("Repeat it: ")


def run_password(args: argparse.Namespace) -> int:
    password, repeated = _new_password(args)
    auth.check_new_password(password, repeated)
    conn = db.connect(args.data)
    try:
        user_id = auth.admin_id(conn)
        if user_id is None:
            raise Refused(
                "admin: no admin password is set yet; use the setup link `sfm serve` prints"
            )
        auth.reset_password(conn, user_id, password)
    finally:
        conn.close()
    emit(args, {"password": "changed"}, "Admin password changed; every session has ended.")
    return 0


def run_token_create(args: argparse.Namespace) -> int:
    conn = db.connect(args.data)
    try:
        token = auth.create_api_token(conn, args.name)
    finally:
        conn.close()
    emit(args, {"name": args.name.strip(), "token": token}, token)
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    conn = db.connect(args.data)
    try:
        tokens = auth.list_api_tokens(conn)
    finally:
        conn.close()
    lines = [f"{t.name}  created {t.created_at}  last used {t.last_used or '-'}" for t in tokens]
    emit(
        args,
        [{"name": t.name, "created_at": t.created_at, "last_used": t.last_used} for t in tokens],
        "\n".join(lines) if lines else "No API tokens.",
    )
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    conn = db.connect(args.data)
    try:
        auth.revoke_api_token(conn, args.name)
    finally:
        conn.close()
    emit(args, {"revoked": args.name}, f"Revoked API token {args.name}.")
    return 0
