"""Instances of installed modules: create, update, activate, deactivate, delete, export.

An instance's configuration is checked by the installed module's own code (its
`config.parse_instance`, loaded from its build folder), so the rules that validate it are the
rules that will run it; its messages name the field and the line. The database stores the
checked configuration as the mapping of the instance TOML (`instance_to_mapping`).

Concurrency: every change reads the stored instance, makes the new configuration from it and
writes it inside one `BEGIN IMMEDIATE` transaction (`_write`), so two writers (CLI processes,
web, API) cannot both start from the same old configuration and lose one change. A change of
a few fields (`change`, `set_active`) is merged into what is stored at that moment; a whole
new configuration (`update`) may name the revision it was edited from and is refused with
`Conflict` if the instance changed since.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime import db
from runtime.errors import Refused
from runtime.modules import installer, instance_log, loader, store

# Stated caps, checked before the module sees a configuration: a name is a label in a list,
# a description a line or two; neither may bloat every page and log that shows it.
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000


class Conflict(Refused):
    """The instance changed since the revision the writer edited (nothing was written)."""


def check_sizes(mapping: Mapping[str, Any], source: str) -> None:
    """Refuse a name or description above its stated cap, naming the field and the cap."""
    for field, cap in (("name", MAX_NAME_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
        value = mapping.get(field)
        if isinstance(value, str) and len(value) > cap:
            raise Refused(
                f"{source}: {field}: {len(value)} characters, at most {cap} are allowed"
            )


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` laid over it; nested tables are merged key by key."""
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def module_package(data_dir: Path, module: store.ModuleRow) -> loader.LoadedPackage:
    """The installed module's own Python package; Refused for an inspect-only module."""
    if not module.current.runnable:
        raise Refused(
            f"module {module.name} ({module.id}) is installed for inspection only (it has no "
            "Python runtime for this host), so it has no instances here"
        )
    return loader.load_package(installed_build(data_dir, module))


def installed_build(data_dir: Path, module: store.ModuleRow) -> Path:
    return installer.build_dir(data_dir, module.id, module.current.build)


@contextmanager
def _as_refusal(package: loader.LoadedPackage) -> Iterator[None]:
    """The module's ConfigError (its own class, from its own package) becomes Refused."""
    from breakthrough.errors import ConfigError as HostConfigError

    try:
        yield
    except (package.config_error(), HostConfigError) as exc:
        raise Refused(str(exc)) from None


def check_mapping(package: loader.LoadedPackage, mapping: Mapping[str, Any], source: str) -> Any:
    """The InstanceConfig the module makes of `mapping`; Refused with its message if bad."""
    with _as_refusal(package):
        return package.config.parse_instance(mapping, source)


def check_file(package: loader.LoadedPackage, path: Path) -> Any:
    """The InstanceConfig in the TOML file `path`; Refused naming the file, field and line."""
    with _as_refusal(package):
        return package.config.load_instance_file(path)


def to_mapping(package: loader.LoadedPackage, cfg: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = package.config.instance_to_mapping(cfg)
    return mapping


def export_toml(data_dir: Path, conn: sqlite3.Connection, instance: store.InstanceRow) -> str:
    """The instance TOML of INTERFACES.md, as `sfm instance export` writes it."""
    module = store.require_module(conn, instance.module_id)
    package = module_package(data_dir, module)
    cfg = check_mapping(package, instance.config, f"instance {instance.name!r}")
    text: str = package.config.instance_to_toml(cfg)
    return text


def _refuse_taken(
    conn: sqlite3.Connection, module: store.ModuleRow, name: str, except_id: int | None
) -> None:
    if store.name_taken(conn, module.id, name, except_id):
        existing = store.find_instance(conn, name, module.id).name
        same = "" if existing == name else f" ({existing!r}: case does not count)"
        raise Refused(
            f"name: module {module.name} already has an instance named {name!r}{same}; "
            "instance names are unique per module"
        )


def create(
    data_dir: Path, module_id: str, mapping: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """A new instance of `module_id` from the configuration `mapping` (checked, unique name)."""
    conn = db.connect(data_dir)
    try:
        module = store.require_module(conn, module_id)
        package = module_package(data_dir, module)
        check_sizes(mapping, source)
        cfg = check_mapping(package, mapping, source)
        stored = to_mapping(package, cfg)
        try:
            with db.transaction(conn):
                _refuse_taken(conn, module, cfg.name, None)
                new_id = store.insert_instance(
                    conn,
                    module_id=module.id,
                    name=cfg.name,
                    description=cfg.description,
                    log_level=cfg.log_level,
                    active=cfg.active,
                    config=stored,
                )
        except sqlite3.IntegrityError:
            _refuse_taken(conn, module, cfg.name, None)
            raise
        instance = store.get_instance(conn, new_id)
        assert instance is not None
        return instance
    finally:
        conn.close()


def create_from_file(data_dir: Path, module_id: str, path: Path) -> store.InstanceRow:
    """A new instance of `module_id` from an instance TOML file."""
    conn = db.connect(data_dir)
    try:
        module = store.require_module(conn, module_id)
    finally:
        conn.close()
    package = module_package(data_dir, module)
    cfg = check_file(package, path)
    return create(data_dir, module_id, to_mapping(package, cfg), str(path))


def update(
    data_dir: Path,
    instance_id: int,
    mapping: Mapping[str, Any],
    source: str,
    *,
    expected_revision: int | None = None,
) -> store.InstanceRow:
    """Replace an instance's configuration (it may be renamed, within the unique names).

    With `expected_revision`, Conflict (nothing written) if the instance is no longer at it.
    """
    return _write(data_dir, instance_id, lambda _: dict(mapping), source, expected_revision)


def change(
    data_dir: Path, instance_id: int, changes: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """Change some fields: `changes` is merged into the configuration stored at that moment."""
    return _write(data_dir, instance_id, lambda row: merged(row.config, changes), source, None)


def _write(
    data_dir: Path,
    instance_id: int,
    make: Callable[[store.InstanceRow], dict[str, Any]],
    source: str,
    expected_revision: int | None,
) -> store.InstanceRow:
    """Read, make the new configuration, check and write: one IMMEDIATE transaction."""
    conn = db.connect(data_dir)
    try:
        # The module's code is imported before the write lock is taken (it may take a while).
        module = store.require_module(conn, _require(conn, instance_id).module_id)
        package = module_package(data_dir, module)
        with db.transaction(conn):
            instance = _require(conn, instance_id)
            now = store.require_module(conn, instance.module_id)
            if now.current.build != module.current.build:  # upgraded or rolled back meanwhile
                module, package = now, module_package(data_dir, now)
            if expected_revision is not None and instance.revision != expected_revision:
                raise Conflict(
                    f"instance {instance.name!r} was changed by someone else since you opened "
                    f"it (revision {expected_revision}, now {instance.revision}); nothing was "
                    "saved: reload it and make your change again"
                )
            mapping = make(instance)
            check_sizes(mapping, source)
            cfg = check_mapping(package, mapping, source)
            _refuse_taken(conn, module, cfg.name, instance.id)
            store.update_instance(
                conn,
                instance.id,
                name=cfg.name,
                description=cfg.description,
                log_level=cfg.log_level,
                active=cfg.active,
                config=to_mapping(package, cfg),
            )
        return _require(conn, instance_id)
    finally:
        conn.close()


def update_from_file(data_dir: Path, instance_id: int, path: Path) -> store.InstanceRow:
    conn = db.connect(data_dir)
    try:
        instance = _require(conn, instance_id)
        module = store.require_module(conn, instance.module_id)
    finally:
        conn.close()
    package = module_package(data_dir, module)
    cfg = check_file(package, path)
    return update(data_dir, instance_id, to_mapping(package, cfg), str(path))


def set_active(data_dir: Path, instance_id: int, active: bool) -> store.InstanceRow:
    """Activate or deactivate an instance (its configuration otherwise unchanged)."""
    return change(data_dir, instance_id, {"active": active}, f"instance {instance_id}")


def delete(data_dir: Path, instance_id: int) -> store.InstanceRow:
    """Delete an instance and its log files."""
    conn = db.connect(data_dir)
    try:
        instance = _require(conn, instance_id)
        with db.transaction(conn):
            store.delete_instance(conn, instance_id)
    finally:
        conn.close()
    instance_log.remove_logs(data_dir, instance_id)
    return instance


def _require(conn: sqlite3.Connection, instance_id: int) -> store.InstanceRow:
    instance = store.get_instance(conn, instance_id)
    if instance is None:
        raise Refused(f"there is no instance with id {instance_id}")
    return instance


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
    """The instance-TOML mapping for values given one by one (command-line flags, web form)."""
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
