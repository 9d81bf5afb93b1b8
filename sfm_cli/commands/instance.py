"""`sfm instance create|list|show|export|update|activate|deactivate|delete|log`.

An instance comes from `--config FILE` (the module's instance TOML) and/or flags: `--name`,
`--description`, `--active/--inactive` and `--set VARIABLE=VALUE` for any variable of the
module's descriptor (VALUE as TOML, e.g. `--set 'callers=["030*"]'`, or plain text). The flags
`--called`, `--caller`, `--log-level`, `--bypass-dnd` ... fill in Breakthrough's instance TOML
(INTERFACES.md) and are kept for it.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime import db
from runtime.errors import Refused
from runtime.modules import instance_log, instances, store
from sfm_cli.output import emit

SETTING_FLAGS = (
    ("bypass_dnd", "Ruhe umgehen"),
    ("bypass_redirects", "Anrufumleitungen umgehen"),
    ("bypass_self_redirects_only", "Anrufumleitungen auf sich selbst umgehen"),
    ("force_call_waiting", "Anklopfen erzwingen"),
)


def _config_flags(parser: argparse.ArgumentParser) -> None:
    """The instance fields as flags (instead of, or on top of, --config FILE)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="an instance TOML file")
    parser.add_argument("--name", help="the instance's name (unique per module)")
    parser.add_argument("--description")
    parser.add_argument("--log-level", choices=instance_log.LEVELS, type=str.upper)
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_true", default=None)
    state.add_argument("--inactive", dest="active", action="store_false")
    for flag, dest, what in (
        ("--called", "called_active", "called numbers: active for (Aktiv für)"),
        ("--called-exception", "called_exceptions", "called numbers: exception (Ausnahme)"),
        ("--caller", "caller_active", "caller numbers: active for (Aktiv für)"),
        ("--caller-exception", "caller_exceptions", "caller numbers: exception (Ausnahme)"),
    ):
        parser.add_argument(flag, dest=dest, action="append", metavar="PATTERN", help=what)
    for setting, label in SETTING_FLAGS:
        parser.add_argument(
            "--" + setting.replace("_", "-"),
            dest=setting,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f'"{label}"',
        )
    parser.add_argument(
        "--set",
        dest="variables",
        action="append",
        metavar="VARIABLE=VALUE",
        help='a variable of the module\'s descriptor; VALUE as TOML (true, 3, ["a"]) or text',
    )


def _module_option(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--module",
        dest="module_id",
        metavar="ID",
        required=required,
        help="the module's id (needed only when several modules are installed)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `instance` subcommand and its actions."""
    parser = sub.add_parser(
        "instance",
        parents=[common],
        help="instances of installed modules: create, configure, activate, read their log",
        description="Create and configure the instances of installed modules.",
    )
    actions = parser.add_subparsers(dest="instance_action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", parents=[common], help="create an instance from --config FILE or flags"
    )
    _module_option(create)
    _config_flags(create)
    create.set_defaults(func=run_create)

    listing = actions.add_parser("list", parents=[common], help="list instances")
    _module_option(listing)
    listing.set_defaults(func=run_list)

    update = actions.add_parser(
        "update", parents=[common], help="change an instance's configuration"
    )
    update.add_argument("instance", metavar="NAME")
    _module_option(update)
    _config_flags(update)
    update.set_defaults(func=run_update)

    for action, helptext, func in (
        ("show", "show an instance and its configuration", run_show),
        ("export", "print (or write with -o) the instance TOML", run_export),
        ("activate", "let the instance act on calls", run_activate),
        ("deactivate", "keep the instance but let it act on no call", run_deactivate),
        ("delete", "delete the instance and its log", run_delete),
        ("log", "print the instance's log, or save it as a ZIP with --download", run_log),
    ):
        one = actions.add_parser(action, parents=[common], help=helptext)
        one.add_argument("instance", metavar="NAME")
        _module_option(one)
        if action == "export":
            one.add_argument("-o", "--output", type=Path, metavar="FILE")
        if action == "log":
            one.add_argument("--download", type=Path, metavar="FILE.zip")
        one.set_defaults(func=func)


def mapping_from_flags(
    *,
    name: str | None,
    description: str | None = None,
    log_level: str | None = None,
    active: bool | None = None,
    called_active: list[str] | None = None,
    called_exceptions: list[str] | None = None,
    caller_active: list[str] | None = None,
    caller_exceptions: list[str] | None = None,
    settings: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The instance-TOML mapping (INTERFACES.md's shape) for values given one by one."""
    mapping: dict[str, Any] = {}
    if name is not None:
        mapping["name"] = name
    if description is not None:
        mapping["description"] = description
    if log_level is not None:
        mapping["log_level"] = log_level
    if active is not None:
        mapping["active"] = active
    numbers: dict[str, dict[str, list[str]]] = {}
    for side, kind, value in (
        ("called", "active", called_active),
        ("called", "exceptions", called_exceptions),
        ("caller", "active", caller_active),
        ("caller", "exceptions", caller_exceptions),
    ):
        if value is not None:
            numbers.setdefault(side, {})[kind] = list(value)
    if numbers:
        mapping["numbers"] = numbers
    if settings:
        mapping["settings"] = dict(settings)
    return mapping


def _set_values(args: argparse.Namespace) -> dict[str, Any]:
    """`--set VARIABLE=VALUE` flags as {variable: value} (VALUE as TOML when it parses)."""
    values: dict[str, Any] = {}
    for item in args.variables or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise Refused(f"--set {item!r}: write VARIABLE=VALUE")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        values[name.strip()] = value
    return values


def _flags_mapping(args: argparse.Namespace) -> dict[str, Any]:
    settings = {s: getattr(args, s) for s, _ in SETTING_FLAGS if getattr(args, s) is not None}
    return mapping_from_flags(
        name=args.name,
        description=args.description,
        log_level=args.log_level,
        active=args.active,
        called_active=args.called_active,
        called_exceptions=args.called_exceptions,
        caller_active=args.caller_active,
        caller_exceptions=args.caller_exceptions,
        settings=settings,
    )


def _pick_module(args: argparse.Namespace) -> str:
    if args.module_id:
        from sfm_cli.commands.module import module_id_of

        return module_id_of(args.data, str(args.module_id))  # its id, or its name
    conn = db.connect(args.data)
    try:
        runnable = [m for m in store.list_modules(conn) if m.current.runnable]
    finally:
        conn.close()
    if len(runnable) == 1:
        return runnable[0].id
    if not runnable:
        raise Refused("--module: no runnable module is installed; install one first")
    ids = ", ".join(f"{m.id} ({m.name})" for m in runnable)
    raise Refused(f"--module: several modules are installed ({ids}); say which")


def _find(args: argparse.Namespace) -> store.InstanceRow:
    conn = db.connect(args.data)
    try:
        return store.find_instance(conn, args.instance, args.module_id)
    finally:
        conn.close()


def _summary(instance: store.InstanceRow) -> str:
    state = "active" if instance.active else "inactive"
    description = f" - {instance.description}" if instance.description else ""
    return f"{instance.name} [{state}, log {instance.log_level}]{description}"


def _module_of(args: argparse.Namespace, module_id: str) -> store.ModuleRow:
    conn = db.connect(args.data)
    try:
        return store.require_module(conn, module_id)
    finally:
        conn.close()


def _file_mapping(args: argparse.Namespace, module: store.ModuleRow) -> dict[str, Any]:
    """The instance in --config FILE as the installed build reads it (checked), as a mapping."""
    config = instances.config_of(args.data, module)
    checked = config.from_file(instances.read_file(args.config), str(args.config))
    return config.to_file(checked)


def _with_sets(
    args: argparse.Namespace, module: store.ModuleRow, mapping: dict[str, Any], source: str
) -> tuple[dict[str, Any], bool]:
    """`mapping` (the module's file shape) with --set values applied: (flat mapping, True)
    when there are any, else (mapping, False)."""
    sets = _set_values(args)
    if not sets:
        return mapping, False
    config = instances.config_of(args.data, module)
    flat = config.from_file(mapping, source).flat() if mapping else {}
    flat.update(sets)
    return flat, True


def run_create(args: argparse.Namespace) -> int:
    module_id = _pick_module(args)
    flags = _flags_mapping(args)
    if args.config is not None and not flags and not args.variables:
        created = instances.create_from_file(args.data, module_id, args.config)
    else:
        module = _module_of(args, module_id)
        base: dict[str, Any] = {}
        source = "the command line"
        if args.config is not None:
            base = _file_mapping(args, module)
            source = f"{args.config} with the command line's changes"
        mapping, flat = _with_sets(args, module, instances.merged(base, flags), source)
        create = instances.create_checked if flat else instances.create
        created = create(args.data, module_id, mapping, source)
    emit(args, created.to_json(), f"Created instance {_summary(created)}.")
    return 0


def run_update(args: argparse.Namespace) -> int:
    instance = _find(args)
    flags = _flags_mapping(args)
    if args.config is not None and not flags and not args.variables:
        updated = instances.update_from_file(args.data, instance.id, args.config)
    else:
        if not flags and args.config is None and not args.variables:
            raise Refused("update: give --config FILE or at least one field flag to change")
        if args.config is None:
            # Merged into the stored configuration inside one transaction: parallel updates of
            # different fields all stay.
            updated = instance
            if flags:
                updated = instances.change(args.data, instance.id, flags, "the command line")
            if args.variables:
                updated = instances.change_checked(
                    args.data, instance.id, _set_values(args), "the command line"
                )
            emit(args, updated.to_json(), f"Updated instance {_summary(updated)}.")
            return 0
        module = _module_of(args, instance.module_id)
        base = _file_mapping(args, module)
        source = f"{args.config} with the command line's changes"
        mapping, flat = _with_sets(args, module, instances.merged(base, flags), source)
        update = instances.update_checked if flat else instances.update
        updated = update(args.data, instance.id, mapping, source)
    emit(args, updated.to_json(), f"Updated instance {_summary(updated)}.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    conn = db.connect(args.data)
    try:
        if args.module_id:
            store.require_module(conn, args.module_id)
        rows = store.list_instances(conn, args.module_id)
        names = {m.id: m.name for m in store.list_modules(conn)}
    finally:
        conn.close()
    lines = [f"{names.get(i.module_id, i.module_id)}: {_summary(i)}" for i in rows]
    emit(args, [i.to_json() for i in rows], "\n".join(lines) if lines else "No instances.")
    return 0


def _with_file(args: argparse.Namespace) -> tuple[store.InstanceRow, str]:
    """The instance the command names and its instance file (TOML), read in one connection."""
    conn = db.connect(args.data)
    try:
        instance = store.find_instance(conn, args.instance, args.module_id)
        return instance, instances.export_toml(args.data, conn, instance)
    finally:
        conn.close()


def run_show(args: argparse.Namespace) -> int:
    instance, text = _with_file(args)
    emit(args, instance.to_json(), f"# {_summary(instance)} (module {instance.module_id})\n{text}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    instance, text = _with_file(args)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        emit(args, {"written": str(args.output)}, f"Wrote {args.output}.")
    elif args.json:
        emit(args, {"name": instance.name, "toml": text}, text)
    else:
        print(text, end="")
    return 0


def run_activate(args: argparse.Namespace) -> int:
    changed = instances.set_active(args.data, _find(args).id, True)
    emit(args, changed.to_json(), f"Activated instance {_summary(changed)}.")
    return 0


def run_deactivate(args: argparse.Namespace) -> int:
    changed = instances.set_active(args.data, _find(args).id, False)
    emit(args, changed.to_json(), f"Deactivated instance {_summary(changed)}.")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    deleted = instances.delete(args.data, _find(args).id)
    emit(args, {"deleted": deleted.name, "id": deleted.id}, f"Deleted instance {deleted.name}.")
    return 0


def run_log(args: argparse.Namespace) -> int:
    instance = _find(args)
    if args.download is not None:
        args.download.write_bytes(instance_log.log_zip(args.data, instance.id, instance.name))
        emit(
            args,
            {"written": str(args.download)},
            f"Wrote the log of {instance.name} to {args.download}.",
        )
        return 0
    text = instance_log.read_log(args.data, instance.id)
    if args.json:
        emit(args, {"name": instance.name, "level": instance.log_level, "log": text}, text)
    else:
        print(text or f"(the log of {instance.name} is empty)", end="" if text else "\n")
    return 0
