"""`sfm licence ...` (trial and licence on the PBX) and `sfm licence-server` (the vendor's).

    sfm licence status  [--module ID]
    sfm licence verify  --email E [--server URL] [--module ID]
    sfm licence confirm --code C [--server URL] [--module ID]
    sfm licence import  FILE [--module ID]
    sfm licence-server [--db DIR --smtp HOST:PORT --port N --signing-key FILE]
    sfm licence-server add-purchase --db DIR --email E --module ID [--max-build N]

`--module` may be left out when exactly one module is installed or known on this PBX.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from runtime.db import connect
from runtime.errors import Refused
from runtime.licensing.client import (
    DEFAULT_SERVER,
    confirm_code,
    import_licence_file,
    request_verification,
)
from runtime.licensing.email_address import normalise_email
from runtime.licensing.installed import installed_module_ids
from runtime.licensing.licence import (
    DEVELOPMENT_SIGNING_KEY,
    REPO_ROOT,
    load_private_key,
)
from runtime.licensing.status import LicenceStatus, licence_status
from runtime.licensing.trial import epoch_of, known_modules
from sfm_build.metadata import ModuleMetadata, load_metadata
from sfm_cli.output import emit

MODULE_TOML = REPO_ROOT / "module_src" / "module.toml"
DEFAULT_SERVICE_PORT = 8471
DEFAULT_SERVICE_DB = Path("var") / "licence-service"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `licence` and `licence-server` subcommands."""
    licence = sub.add_parser(
        "licence",
        parents=[common],
        help="trial and licence of a module on this PBX",
        description="Trial and licence of a module on this PBX (no licence key needed: "
        "verify the purchase with the e-mail address it was made with).",
    )
    actions = licence.add_subparsers(dest="licence_action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        parser.add_argument(
            "--module",
            metavar="ID",
            help="module id (or name); optional when exactly one module is on this PBX",
        )
        return parser

    status = action("status", "show the module's trial or licence state")
    status.set_defaults(func=run_status)

    verify = action("verify", "ask the licence service to mail a code to the buyer's address")
    verify.add_argument("--email", required=True, help="the e-mail address of the purchase")
    verify.add_argument(
        "--server", default=DEFAULT_SERVER, help=f"licence service (default {DEFAULT_SERVER})"
    )
    verify.set_defaults(func=run_verify)

    confirm = action("confirm", "enter the code from the e-mail; stores the licence")
    confirm.add_argument("--code", required=True, help="the 6-digit code from the e-mail")
    confirm.add_argument("--server", help="licence service (default: the one `verify` asked)")
    confirm.set_defaults(func=run_confirm)

    imp = action("import", "import an offline licence file")
    imp.add_argument("file", type=Path, metavar="FILE", help="the licence file")
    imp.set_defaults(func=run_import)

    server = sub.add_parser(
        "licence-server",
        parents=[common],
        help="the vendor's licence service (HTTP), or add a purchase to it",
        description="Run the vendor's licence service: purchases in SQLite under --db, codes "
        "mailed through --smtp, licences signed with --signing-key.",
    )
    _server_db_option(server)
    server.add_argument(
        "--smtp", default="127.0.0.1:25", metavar="HOST:PORT", help="SMTP server for the codes"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=DEFAULT_SERVICE_PORT, help="port (8471)")
    server.add_argument(
        "--signing-key",
        type=Path,
        metavar="FILE",
        help="the vendor's Ed25519 private key (PEM); default: the development key, with a warning",
    )
    server.add_argument("--mail-from", default="lizenz@o-byte.com", help="sender address")
    server.set_defaults(func=run_server)
    server_actions = server.add_subparsers(dest="server_action", metavar="ACTION")
    purchase = server_actions.add_parser(
        "add-purchase",
        parents=[common],
        help="record that an e-mail address bought a module",
        description="Record a purchase of a module for an e-mail address.",
    )
    _server_db_option(purchase)
    purchase.add_argument("--email", required=True, help="the buyer's e-mail address")
    purchase.add_argument("--module", required=True, metavar="ID", help="the module id")
    purchase.add_argument(
        "--max-build",
        type=int,
        help="the last module build the purchase covers (default: the build in "
        "module_src/module.toml, for that module)",
    )
    purchase.set_defaults(func=run_add_purchase)


def _server_db_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `--db` given before or after `add-purchase` must not be reset by the other.
    parser.add_argument(
        "--db",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"the service's data folder (default {DEFAULT_SERVICE_DB})",
    )


# ---- the PBX side -------------------------------------------------------------------------


def _module_names(conn: sqlite3.Connection) -> dict[str, str]:
    try:
        return {str(r[0]): str(r[1]) for r in conn.execute("SELECT id, name FROM modules")}
    except sqlite3.OperationalError:
        return {}


def resolve_module(conn: sqlite3.Connection, given: str | None) -> str:
    """The module meant by `--module` (an id or an installed module's name), or the only one."""
    known = sorted(set(installed_module_ids(conn)) | set(known_modules(conn)))
    names = _module_names(conn)
    if given is not None:
        if given in known:
            return given
        by_name = [mid for mid, name in names.items() if name.lower() == given.lower()]
        if len(by_name) == 1:
            return by_name[0]
        raise Refused(
            f"--module: {given!r} is not a module installed on this PBX"
            + (f" (known: {', '.join(known)})" if known else " (none is installed)")
        )
    if len(known) == 1:
        return known[0]
    if not known:
        raise Refused("--module: no module is installed on this PBX")
    raise Refused(f"--module: several modules are on this PBX, name one of: {', '.join(known)}")


def describe(status: LicenceStatus, name: str | None) -> str:
    """The human text of `sfm licence status`."""
    title = f"{name} ({status.module_id})" if name else status.module_id
    if status.state == "licensed":
        head = f"{title}: licensed to {status.email}"
    elif status.state == "trial":
        head = f"{title}: trial, {status.days_left} days left (until {status.expires})"
    else:
        # Only here the reason adds something (what ran out); else it says the state again.
        return f"{title}: expired\n  {status.reason}"
    return head


def _show(args: argparse.Namespace, conn: sqlite3.Connection, module_id: str, note: str) -> None:
    status = licence_status(conn, args.data, module_id)
    text = describe(status, _module_names(conn).get(module_id))
    emit(args, status.to_json(), f"{note}\n{text}" if note else text)


def run_status(args: argparse.Namespace) -> int:
    """Print the module's licence state (INTERFACES.md JSON with --json)."""
    conn = connect(args.data)
    try:
        _show(args, conn, resolve_module(conn, args.module), "")
    finally:
        conn.close()
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Ask the licence service to mail a code; exit 2 (nothing changed) if unreachable."""
    conn = connect(args.data)
    try:
        module_id = resolve_module(conn, args.module)
        pending = request_verification(conn, args.data, module_id, args.email, args.server)
        several = len(set(installed_module_ids(conn)) | set(known_modules(conn))) > 1
    finally:
        conn.close()
    which = f" --module {module_id}" if several else ""
    emit(
        args,
        {"module": module_id, "email": pending.email, "server": pending.server},
        f"If {pending.email} bought this module, a 6-digit code is on its way to it.\n"
        f"Enter it within 15 minutes: sfm licence confirm --code CODE{which}",
    )
    return 0


def run_confirm(args: argparse.Namespace) -> int:
    """Send the code, store the licence the service returns, show the new state."""
    conn = connect(args.data)
    try:
        module_id = resolve_module(conn, args.module)
        licence = confirm_code(conn, args.data, module_id, args.code, args.server)
        _show(args, conn, module_id, f"Licence stored for {licence.email}.")
    finally:
        conn.close()
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import an offline licence file; refused (exit 2, naming why) if it does not fit."""
    conn = connect(args.data)
    try:
        module_id = resolve_module(conn, args.module)
        import_licence_file(conn, args.data, module_id, args.file)
        _show(args, conn, module_id, f"Licence imported from {args.file}.")
    finally:
        conn.close()
    return 0


# ---- the vendor's service -----------------------------------------------------------------


def _vendors_module() -> ModuleMetadata | None:
    """The module of this checkout's module_src/module.toml (read by the build's own reader,
    refused in words when it is broken), or None where there is no such file."""
    if not MODULE_TOML.is_file():
        return None
    return load_metadata(MODULE_TOML)


def _smtp_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Refused(f"--smtp: {value!r} is not HOST:PORT")
    return host, int(port)


def run_server(args: argparse.Namespace) -> int:
    """Serve the licence service until interrupted."""
    import uvicorn

    from runtime.licensing.server.app import ServiceConfig, create_app

    smtp_host, smtp_port = _smtp_address(args.smtp)
    sender = normalise_email(args.mail_from, "--mail-from")
    if not 0 < args.port < 65536:
        raise Refused(f"--port: {args.port} is not a port number")
    key_file: Path = args.signing_key or DEVELOPMENT_SIGNING_KEY
    try:
        key_pem = key_file.read_bytes()
    except OSError as exc:
        raise Refused(f"--signing-key: cannot read {key_file} ({exc.strerror})") from None
    signing_key = load_private_key(key_pem, str(key_file))
    if args.signing_key is None:
        print(
            "sfm licence-server: WARNING: signing with the DEVELOPMENT key "
            f"({DEVELOPMENT_SIGNING_KEY}); licences it issues are accepted only by hosts in "
            "development mode (sfm --dev), for builds signed with that key. Use --signing-key "
            "for real licences.",
            file=sys.stderr,
        )
    module = _vendors_module()
    names = ((module.id, module.name),) if module is not None else ()
    app = create_app(
        ServiceConfig(
            db_dir=getattr(args, "db", DEFAULT_SERVICE_DB),
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            signing_key=signing_key,
            sender=sender,
            module_names=names,
        )
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def run_add_purchase(args: argparse.Namespace) -> int:
    """Record a purchase in the service's database."""
    from runtime.licensing.server.app import add_purchase

    normalise_email(args.email, "--email")  # the address first: it is the likelier culprit
    max_build = args.max_build
    if max_build is None:
        module = _vendors_module()
        if module is None or module.id != args.module:
            raise Refused(
                f"--max-build: needed for module {args.module} (module_src/module.toml "
                "describes another module)"
            )
        max_build = module.build_number
    db_dir: Path = getattr(args, "db", DEFAULT_SERVICE_DB)
    email = add_purchase(db_dir, args.email, args.module, max_build, epoch_of(None))
    emit(
        args,
        {"email": email, "module": args.module, "max_build": max_build},
        f"Purchase recorded: {email} bought {args.module} (updates up to build {max_build}).",
    )
    return 0
