"""Instances of installed modules: create, update, activate, deactivate, delete, export.

An instance is its name, description and active state (the host's) and its variables, stored
by the names the installed build's descriptor declares. The installed build checks them: the
descriptor (types, choices) and the module's own `sfm_module.check_instance`, loaded from the
build folder (`module_config`), so the rules that validate a configuration are the rules that
will run it; its messages name the field and the line. The instance file (TOML) has the
module's own shape when its `sfm_module` converts it (`instance_from_file`/`instance_to_file`),
else it is name, active and the variables by name. Functions named `..._checked` take the
flat shape (name, description, active, variables by name: the web form's); the others take
the module's instance-file shape (TOML, the HTTP API).

Concurrency: every change reads the stored instance, makes the new configuration from it and
writes it inside one `BEGIN IMMEDIATE` transaction (`_write`), so two writers (CLI processes,
web, API) cannot both start from the same old configuration and lose one change. A change of
a few fields (`change`, `change_checked`, `set_active`) is merged into what is stored at that
moment; a whole new configuration (`update`) may name the revision it was edited from and is
refused with `Conflict` if the instance changed since.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w

from runtime import db
from runtime.errors import Refused
from runtime.modules import installer, instance_log, module_config, store
from runtime.modules.module_client import python_log_path
from runtime.modules.module_config import CheckedInstance, ModuleConfig
from runtime.pbx_directory import stored_pbx_table
from runtime.pbx_number_plan import PbxNumberPlan
from sfm_format.toml_file import read_toml_file

# Stated caps, checked before the module sees a configuration: a name is a label in a list,
# a description a line or two; neither may bloat every page and log that shows it.
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000

Make = Callable[[ModuleConfig, "store.InstanceRow | None"], CheckedInstance]


class Conflict(Refused):
    """The instance changed since the revision the writer edited (nothing was written)."""


def check_sizes(mapping: Mapping[str, Any], source: str) -> None:
    """Refuse a name or description above its stated cap, naming the field and the cap."""
    for field, cap in (("name", MAX_NAME_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
        value = mapping.get(field)
        if isinstance(value, str) and len(value) > cap:
            raise Refused(f"{source}: {field}: {len(value)} characters, at most {cap} are allowed")


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` laid over it; nested tables are merged key by key."""
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def installed_build(data_dir: Path, module: store.ModuleRow) -> Path:
    return installer.build_dir(data_dir, module.id, module.current.build)


def config_of(data_dir: Path, module: store.ModuleRow) -> ModuleConfig:
    """The installed build's form and configuration code; Refused for an inspect-only module."""
    if not module.current.runnable:
        raise Refused(
            f"module {module.name} ({module.id}) is installed for inspection only (it has no "
            "Python runtime for this host), so it has no instances here"
        )
    return module_config.load(
        installed_build(data_dir, module), python_log_path(data_dir, module.id)
    )


def read_file(path: Path) -> dict[str, Any]:
    """A parsed instance TOML file; Refused naming the file."""
    return read_toml_file(path, Refused)


def stored(config: ModuleConfig, instance: store.InstanceRow) -> CheckedInstance:
    """A stored instance as the build in use reads it (rows of an older shape converted)."""
    return CheckedInstance(
        name=instance.name,
        description=instance.description,
        active=instance.active,
        variables=config.stored_variables(instance.config, f"instance {instance.name!r}"),
    )


def export_toml(data_dir: Path, conn: sqlite3.Connection, instance: store.InstanceRow) -> str:
    """The instance file (TOML), as `sfm instance export` writes it."""
    return tomli_w.dumps(file_mapping(data_dir, conn, instance))


def file_mapping(
    data_dir: Path, conn: sqlite3.Connection, instance: store.InstanceRow
) -> dict[str, Any]:
    """The instance file's mapping (what export writes, parsed)."""
    module = store.require_module(conn, instance.module_id)
    config = config_of(data_dir, module)
    return config.to_file(stored(config, instance))


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


def _store(
    conn: sqlite3.Connection,
    module: store.ModuleRow,
    checked: CheckedInstance,
    instance_id: int | None,
) -> int:
    """Insert or update the row (inside the caller's transaction)."""
    _refuse_taken(conn, module, checked.name, instance_id)
    if instance_id is None:
        return store.insert_instance(
            conn,
            module_id=module.id,
            name=checked.name,
            description=checked.description,
            log_level=checked.log_level,
            active=checked.active,
            config=checked.variables,
        )
    store.update_instance(
        conn,
        instance_id,
        name=checked.name,
        description=checked.description,
        log_level=checked.log_level,
        active=checked.active,
        config=checked.variables,
    )
    return instance_id


def _sized(checked: CheckedInstance, source: str) -> CheckedInstance:
    check_sizes({"name": checked.name, "description": checked.description}, source)
    return checked


def create(
    data_dir: Path, module_id: str, mapping: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """A new instance of `module_id` from the module's instance-file mapping (TOML, API)."""
    check_sizes(mapping, source)
    return _create(data_dir, module_id, lambda config, _: config.from_file(mapping, source), source)


def create_checked(
    data_dir: Path, module_id: str, flat: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """A new instance of `module_id` from name, description, active and its variables by name
    (the web form's shape), checked by the installed build; unique name per module."""
    check_sizes(flat, source)
    return _create(data_dir, module_id, lambda config, _: config.check(flat, source), source)


def _create(data_dir: Path, module_id: str, make: Make, source: str) -> store.InstanceRow:
    conn = db.connect(data_dir)
    try:
        module = store.require_module(conn, module_id)
        checked = _sized(make(config_of(data_dir, module), None), source)
        try:
            with db.transaction(conn):
                new_id = _store(conn, module, checked, None)
        except sqlite3.IntegrityError:
            _refuse_taken(conn, module, checked.name, None)
            raise
        instance = store.get_instance(conn, new_id)
        assert instance is not None
        return instance
    finally:
        conn.close()


def create_from_file(data_dir: Path, module_id: str, path: Path) -> store.InstanceRow:
    """A new instance of `module_id` from an instance TOML file."""
    return create(data_dir, module_id, read_file(path), str(path))


def update(
    data_dir: Path,
    instance_id: int,
    mapping: Mapping[str, Any],
    source: str,
    *,
    expected_revision: int | None = None,
) -> store.InstanceRow:
    """Replace an instance's configuration from the module's instance-file mapping (it may be
    renamed, within the unique names). With `expected_revision`, Conflict (nothing written)
    if the instance is no longer at it."""
    check_sizes(mapping, source)
    return _write(
        data_dir,
        instance_id,
        lambda config, _: config.from_file(mapping, source),
        source,
        expected_revision,
    )


def update_checked(
    data_dir: Path,
    instance_id: int,
    flat: Mapping[str, Any],
    source: str,
    *,
    expected_revision: int | None = None,
) -> store.InstanceRow:
    """Replace an instance's configuration from the web form's shape."""
    check_sizes(flat, source)
    return _write(
        data_dir,
        instance_id,
        lambda config, _: config.check(flat, source),
        source,
        expected_revision,
    )


def change(
    data_dir: Path, instance_id: int, changes: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """Change some fields of the instance file: `changes` (the module's file shape) is merged
    into the configuration stored at that moment."""

    def make(config: ModuleConfig, row: store.InstanceRow | None) -> CheckedInstance:
        assert row is not None
        return config.from_file(merged(config.to_file(stored(config, row)), changes), source)

    return _write(data_dir, instance_id, make, source, None)


def change_checked(
    data_dir: Path, instance_id: int, changes: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """Change some fields in the flat shape (name, description, active, variables by name),
    merged into what is stored at that moment."""

    def make(config: ModuleConfig, row: store.InstanceRow | None) -> CheckedInstance:
        assert row is not None
        return config.check({**stored(config, row).flat(), **changes}, source)

    return _write(data_dir, instance_id, make, source, None)


def _write(
    data_dir: Path,
    instance_id: int,
    make: Make,
    source: str,
    expected_revision: int | None,
) -> store.InstanceRow:
    """Read, make the new configuration, check and write: one IMMEDIATE transaction."""
    conn = db.connect(data_dir)
    try:
        # The module's code is imported before the write lock is taken (it may take a while).
        module = store.require_module(conn, _require(conn, instance_id).module_id)
        config = config_of(data_dir, module)
        with db.transaction(conn):
            instance = _require(conn, instance_id)
            now = store.require_module(conn, instance.module_id)
            if now.current.build != module.current.build:  # upgraded or rolled back meanwhile
                module, config = now, config_of(data_dir, now)
            if expected_revision is not None and instance.revision != expected_revision:
                raise Conflict(
                    f"instance {instance.name!r} was changed by someone else since you opened "
                    f"it (revision {expected_revision}, now {instance.revision}); nothing was "
                    "saved: reload it and make your change again"
                )
            checked = _sized(make(config, instance), source)
            _store(conn, module, checked, instance.id)
        return _require(conn, instance_id)
    finally:
        conn.close()


def update_from_file(data_dir: Path, instance_id: int, path: Path) -> store.InstanceRow:
    return update(data_dir, instance_id, read_file(path), str(path))


def set_active(data_dir: Path, instance_id: int, active: bool) -> store.InstanceRow:
    """Activate or deactivate an instance (its configuration otherwise unchanged)."""
    return change_checked(data_dir, instance_id, {"active": active}, f"instance {instance_id}")


def migrate_stored(data_dir: Path) -> int:
    """Rewrite rows stored before instances were stored by the descriptor's variable names
    (they held the module's instance-file shape) with their variables; the number rewritten.
    Idempotent; rows of inspect-only modules are left alone."""
    conn = db.connect(data_dir)
    rewritten = 0
    try:
        modules = {m.id: m for m in store.list_modules(conn)}
        for instance in store.list_instances(conn):
            module = modules.get(instance.module_id)
            if module is None or not module.current.runnable:
                continue
            try:
                config = config_of(data_dir, module)
            except Exception:  # a build that does not load: its rows stay as they are
                continue
            if all(key in config.form.variables for key in instance.config):
                continue
            current = stored(config, instance)
            with db.transaction(conn):
                store.update_instance(
                    conn,
                    instance.id,
                    name=instance.name,
                    description=instance.description,
                    log_level=current.log_level,
                    active=instance.active,
                    config=current.variables,
                )
            rewritten += 1
    finally:
        conn.close()
    return rewritten


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


def number_plan(data_dir: Path) -> dict[str, str]:
    """The PBX's number plan as the contract hands it to a module: the loaded directory's
    [pbx] table, else the host's default plan."""
    plan = asdict(PbxNumberPlan())
    table = stored_pbx_table(data_dir)
    plan.update({k: v for k, v in table.items() if k in plan and isinstance(v, str)})
    return plan


def explain_call(
    data_dir: Path, caller: str, called: str, lang: str
) -> list[tuple[str, str, bool | None, str]]:
    """For the call tester, per instance of each runnable module whose build explains its
    decisions: (module name, instance name, match or None, the module's explanation)."""
    plan = number_plan(data_dir)
    explained: list[tuple[str, str, bool | None, str]] = []
    conn = db.connect(data_dir)
    try:
        modules = {m.id: m for m in store.list_modules(conn)}
        rows = store.list_instances(conn)
    finally:
        conn.close()
    for instance in rows:
        module = modules.get(instance.module_id)
        if module is None or not module.current.runnable:
            continue
        try:
            config = config_of(data_dir, module)
        except Refused as exc:
            explained.append((module.name, instance.name, False, str(exc)))
            continue
        answer = config.explain(stored(config, instance).variables, called, caller, plan, lang)
        if answer is not None:
            explained.append((module.name, instance.name, answer[0], answer[1]))
    return explained
