"""`sfm module install FILE [--allow-downgrade]` / `list` / `remove MODULE` / `rollback MODULE`.

A module is named by its id or, where no other installed module has the same name, its name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime import db
from runtime.modules import installer, store
from sfm_cli.output import emit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `module` subcommand and its actions."""
    parser = sub.add_parser(
        "module",
        parents=[common],
        help="the module manager: install, list, remove, roll back modules",
        description="Install .sfm modules into the PBX host's data folder and manage them.",
    )
    actions = parser.add_subparsers(dest="module_action", required=True, metavar="ACTION")

    install = actions.add_parser(
        "install", parents=[common], help="install or upgrade a module from an .sfm file"
    )
    install.add_argument("file", type=Path, metavar="FILE.sfm")
    install.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="install even if a newer version of the module is installed",
    )
    install.set_defaults(func=run_install)

    listing = actions.add_parser("list", parents=[common], help="list the installed modules")
    listing.set_defaults(func=run_list)

    remove = actions.add_parser("remove", parents=[common], help="uninstall a module")
    remove.add_argument("module_id", metavar="MODULE", help="the module's name or id")
    remove.add_argument(
        "--with-instances",
        action="store_true",
        help="also delete the module's instances (otherwise removal is refused while it has any)",
    )
    remove.set_defaults(func=run_remove)

    rollback = actions.add_parser(
        "rollback", parents=[common], help="go back to the version installed before the last one"
    )
    rollback.add_argument("module_id", metavar="MODULE", help="the module's name or id")
    rollback.set_defaults(func=run_rollback)


def _label(module: store.ModuleRow) -> str:
    cur = module.current
    shown = cur.display_version or str(cur.version)
    variant = f", {cur.variant} build" if cur.variant else ""
    return f"{module.name} {shown} (version {cur.version}{variant})"


def _inspect_only_note(module: store.ModuleRow) -> str:
    return (
        f"{module.name} is installed for inspection only: it has no Python runtime for this "
        "host (a STARFACE export), so it is listed but not runnable here."
    )


def run_install(args: argparse.Namespace) -> int:
    result = installer.install(args.data, args.file, allow_downgrade=args.allow_downgrade)
    module = result.module
    if result.action == "unchanged":
        text = f"{_label(module)} from {args.file} is already installed; nothing changed."
    else:
        before = f" (was version {result.previous_version})" if result.previous_version else ""
        text = f"{result.action.capitalize()} {_label(module)} from {args.file}{before}."
        if module.previous is not None and result.action != "installed":
            text += (
                f" Version {module.previous.version} is kept: sfm module rollback "
                f"{module.name} goes back to it."
            )
    if not module.current.runnable:
        text += "\n" + _inspect_only_note(module)
    emit(args, result.to_json(), text)
    return 0


def run_list(args: argparse.Namespace) -> int:
    if not (args.data / "pbx.sqlite3").is_file():
        emit(args, [], "No modules are installed.")  # and no data folder made for saying so
        return 0
    conn = db.connect(args.data)
    try:
        modules = store.list_modules(conn)
        counts = {m.id: len(store.list_instances(conn, m.id)) for m in modules}
    finally:
        conn.close()
    documents = []
    lines = []
    for module in modules:
        document = module.to_json()
        document["instances"] = counts[module.id]
        documents.append(document)
        status = "runnable" if module.current.runnable else "inspect only (not runnable here)"
        previous = f", previous {module.previous.version}" if module.previous else ""
        lines.append(
            f"{module.id}  {_label(module)}  by {module.vendor}  {status}, "
            f"{counts[module.id]} instance(s){previous}"
        )
    emit(args, documents, "\n".join(lines) if lines else "No modules are installed.")
    return 0


def module_id_of(data: Path, given: str) -> str:
    """The id of the installed module `given` names: its id, or its name (any case) when
    exactly one installed module has that name. Refused (naming what is installed) else."""
    from runtime.errors import Refused

    if not (data / "pbx.sqlite3").is_file():
        raise Refused(f"{given}: no module is installed in {data}.")
    conn = db.connect(data)
    try:
        modules = store.list_modules(conn)
    finally:
        conn.close()
    if any(m.id == given for m in modules):
        return given
    named = [m for m in modules if m.name.lower() == given.lower()]
    if len(named) == 1:
        return named[0].id
    installed = ", ".join(f"{m.name} ({m.id})" for m in modules) or "none"
    if named:
        raise Refused(f"{given}: several modules have this name; give the id ({installed}).")
    raise Refused(f"{given}: there is no such module (installed: {installed}).")


def run_remove(args: argparse.Namespace) -> int:
    module = installer.remove(
        args.data, module_id_of(args.data, args.module_id), with_instances=args.with_instances
    )
    emit(
        args,
        {"removed": module.id, "name": module.name},
        f"Removed {_label(module)} ({module.id}).",
    )
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    module = installer.rollback(args.data, module_id_of(args.data, args.module_id))
    emit(
        args,
        module.to_json(),
        f"Rolled back {module.name} to {_label(module)}; version "
        f"{module.previous.version if module.previous else '-'} is kept as the previous one.",
    )
    return 0
