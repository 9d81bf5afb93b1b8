"""Instances of installed modules: create, update, activate, deactivate, delete, export.

An instance is its name, description and active state (the host's) and its variables, stored
by the names the installed build's descriptor declares. The installed build checks them: the
descriptor (types, choices) and the module's own `sfm_module.check_instance`, loaded from the
build folder (`module_config`), so the rules that validate a configuration are the rules that
will run it; its messages name the field and the line. The instance file (TOML) has the
module's own shape when its `sfm_module` converts it (`instance_from_file`/`instance_to_file`),
else it is name, active and the variables by name.
"""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w

from runtime import db
from runtime.errors import Refused
from runtime.modules import installer, instance_log, module_config, store
from runtime.modules.module_config import CheckedInstance, ModuleConfig
from runtime.numbering import PbxNumberPlan


def installed_build(data_dir: Path, module: store.ModuleRow) -> Path:
    return installer.build_dir(data_dir, module.id, module.current.build)


def config_of(data_dir: Path, module: store.ModuleRow) -> ModuleConfig:
    """The installed build's form and configuration code; Refused for an inspect-only module."""
    if not module.current.runnable:
        raise Refused(
            f"module {module.name} ({module.id}) is installed for inspection only (it has no "
            "Python runtime for this host), so it has no instances here"
        )
    return module_config.load(installed_build(data_dir, module))


def read_file(path: Path) -> dict[str, Any]:
    """A parsed instance TOML file; Refused naming the file."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise Refused(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise Refused(f"{path}: is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{path}: is not valid TOML ({exc})") from None


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
    module = store.require_module(conn, instance.module_id)
    config = config_of(data_dir, module)
    return tomli_w.dumps(config.to_file(stored(config, instance)))


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


def _save(
    conn: sqlite3.Connection,
    module: store.ModuleRow,
    checked: CheckedInstance,
    instance_id: int | None,
) -> int:
    with db.transaction(conn):
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


def create_checked(
    data_dir: Path, module_id: str, flat: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """A new instance of `module_id` from name, description, active and its variables by name
    (the web form's shape), checked by the installed build; unique name per module."""
    return _create(data_dir, module_id, source, lambda config: config.check(flat, source))


def create(
    data_dir: Path, module_id: str, mapping: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """A new instance of `module_id` from the module's instance-file mapping (TOML, API)."""
    return _create(data_dir, module_id, source, lambda config: config.from_file(mapping, source))


def _create(data_dir: Path, module_id: str, source: str, check: Any) -> store.InstanceRow:
    conn = db.connect(data_dir)
    try:
        module = store.require_module(conn, module_id)
        checked: CheckedInstance = check(config_of(data_dir, module))
        try:
            new_id = _save(conn, module, checked, None)
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


def update_checked(
    data_dir: Path, instance_id: int, flat: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """Replace an instance's configuration from the web form's shape (it may be renamed)."""
    return _update(data_dir, instance_id, lambda config: config.check(flat, source))


def update(
    data_dir: Path, instance_id: int, mapping: Mapping[str, Any], source: str
) -> store.InstanceRow:
    """Replace an instance's configuration from the module's instance-file mapping."""
    return _update(data_dir, instance_id, lambda config: config.from_file(mapping, source))


def _update(data_dir: Path, instance_id: int, check: Any) -> store.InstanceRow:
    conn = db.connect(data_dir)
    try:
        instance = _require(conn, instance_id)
        module = store.require_module(conn, instance.module_id)
        checked: CheckedInstance = check(config_of(data_dir, module))
        _save(conn, module, checked, instance.id)
        return _require(conn, instance_id)
    finally:
        conn.close()


def update_from_file(data_dir: Path, instance_id: int, path: Path) -> store.InstanceRow:
    return update(data_dir, instance_id, read_file(path), str(path))


def set_active(data_dir: Path, instance_id: int, active: bool) -> store.InstanceRow:
    """Activate or deactivate an instance (its configuration otherwise unchanged)."""
    conn = db.connect(data_dir)
    try:
        instance = _require(conn, instance_id)
        module = store.require_module(conn, instance.module_id)
    finally:
        conn.close()
    flat = stored(config_of(data_dir, module), instance).flat()
    flat["active"] = active
    return update_checked(data_dir, instance_id, flat, f"instance {instance.name!r}")


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
            config = config_of(data_dir, module)
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
    path = data_dir / "pbx.toml"
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("pbx", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            table = {}
        if isinstance(table, dict):
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
