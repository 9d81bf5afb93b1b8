"""The module manager's rows in SQLite: modules, their builds on disk, and their instances.

Plain functions over a `sqlite3.Connection` from `runtime.db.connect`; callers wrap changes in
`runtime.db.transaction` so that every change is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.errors import Refused


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class BuildRow:
    module_id: str
    build: str  # the folder name under DATA/modules/<module id>/
    version: int
    display_version: str | None
    variant: str | None
    spec_version: int | None
    min_pbx_version: str | None
    runnable: bool
    sha256: str
    file_name: str
    info: dict[str, Any]
    installed_at: str


@dataclass(frozen=True)
class ModuleRow:
    id: str
    name: str
    vendor: str
    current: BuildRow
    previous: BuildRow | None
    installed_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        """The module as `sfm module list --json` and `GET /api/modules` show it."""
        cur = self.current
        return {
            "id": self.id,
            "name": self.name,
            "vendor": self.vendor,
            "version": cur.version,
            "display_version": cur.display_version,
            "variant": cur.variant,
            "min_pbx_version": cur.min_pbx_version,
            "runnable": cur.runnable,
            "status": "runnable" if cur.runnable else cur.info.get("inspect_only", "inspect only"),
            "build": cur.build,
            "file_name": cur.file_name,
            "sha256": cur.sha256,
            "previous_version": self.previous.version if self.previous else None,
            "previous_display_version": self.previous.display_version if self.previous else None,
            "installed_at": self.installed_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class InstanceRow:
    id: int
    module_id: str
    name: str
    description: str
    log_level: str
    active: bool
    config: dict[str, Any]  # instance_to_mapping(cfg): the TOML's shape
    created_at: str
    updated_at: str
    revision: int = 1  # bumped by every change (optimistic check of the web form, API PUT)

    def to_json(self) -> dict[str, Any]:
        """The instance as `sfm instance show --json` and `GET /api/instances/{id}` show it."""
        return {
            "id": self.id,
            "module_id": self.module_id,
            "name": self.name,
            "description": self.description,
            "log_level": self.log_level,
            "active": self.active,
            "config": self.config,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "revision": self.revision,
        }


def _build(row: sqlite3.Row) -> BuildRow:
    return BuildRow(
        module_id=row["module_id"],
        build=row["build"],
        version=int(row["version"]),
        display_version=row["display_version"],
        variant=row["variant"],
        spec_version=row["spec_version"],
        min_pbx_version=row["min_pbx_version"],
        runnable=bool(row["runnable"]),
        sha256=row["sha256"],
        file_name=row["file_name"],
        info=json.loads(row["info_json"]),
        installed_at=row["installed_at"],
    )


def get_build(conn: sqlite3.Connection, module_id: str, build: str) -> BuildRow | None:
    row = conn.execute(
        "SELECT * FROM module_builds WHERE module_id = ? AND build = ?", (module_id, build)
    ).fetchone()
    return _build(row) if row else None


def get_module(conn: sqlite3.Connection, module_id: str) -> ModuleRow | None:
    """The installed module with this id, or None."""
    row = conn.execute("SELECT * FROM modules WHERE id = ?", (module_id,)).fetchone()
    if row is None:
        return None
    current = get_build(conn, module_id, row["current_build"])
    if current is None:  # cannot happen: both rows change in one transaction
        raise RuntimeError(f"module {module_id} names a build {row['current_build']} it lacks")
    previous = get_build(conn, module_id, row["previous_build"]) if row["previous_build"] else None
    return ModuleRow(
        id=row["id"],
        name=row["name"],
        vendor=row["vendor"],
        current=current,
        previous=previous,
        installed_at=row["installed_at"],
        updated_at=row["updated_at"],
    )


def require_module(conn: sqlite3.Connection, module_id: str) -> ModuleRow:
    """The installed module with this id; Refused naming the id if there is none."""
    module = get_module(conn, module_id)
    if module is None:
        known = ", ".join(list_module_ids(conn)) or "none"
        raise Refused(f"no module with id {module_id!r} is installed (installed: {known})")
    return module


def list_module_ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM modules ORDER BY name, id")]


def list_modules(conn: sqlite3.Connection) -> list[ModuleRow]:
    modules = []
    for module_id in list_module_ids(conn):
        module = get_module(conn, module_id)
        if module is not None:
            modules.append(module)
    return modules


def put_build(conn: sqlite3.Connection, build: BuildRow) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO module_builds (module_id, build, version, display_version, "
        "variant, spec_version, min_pbx_version, runnable, sha256, file_name, info_json, "
        "installed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            build.module_id,
            build.build,
            build.version,
            build.display_version,
            build.variant,
            build.spec_version,
            build.min_pbx_version,
            int(build.runnable),
            build.sha256,
            build.file_name,
            json.dumps(build.info, sort_keys=True),
            build.installed_at,
        ),
    )


def switch_module(
    conn: sqlite3.Connection,
    *,
    module_id: str,
    name: str,
    vendor: str,
    current_build: str,
    previous_build: str | None,
) -> None:
    """Point the module at `current_build`, keeping `previous_build` for rollback.

    Build rows other than these two are dropped (their folders are removed after the commit).
    """
    stamp = now_text()
    conn.execute(
        "INSERT INTO modules (id, name, vendor, current_build, previous_build, installed_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "name = excluded.name, vendor = excluded.vendor, current_build = excluded.current_build, "
        "previous_build = excluded.previous_build, updated_at = excluded.updated_at",
        (module_id, name, vendor, current_build, previous_build, stamp, stamp),
    )
    keep = [b for b in (current_build, previous_build) if b]
    marks = ", ".join("?" for _ in keep)
    conn.execute(
        f"DELETE FROM module_builds WHERE module_id = ? AND build NOT IN ({marks})",
        (module_id, *keep),
    )


def delete_module(conn: sqlite3.Connection, module_id: str) -> None:
    conn.execute("DELETE FROM instances WHERE module_id = ?", (module_id,))
    conn.execute("DELETE FROM module_builds WHERE module_id = ?", (module_id,))
    conn.execute("DELETE FROM modules WHERE id = ?", (module_id,))


# ----------------------------------------------------------------------------- instances


def _instance(row: sqlite3.Row) -> InstanceRow:
    return InstanceRow(
        id=int(row["id"]),
        module_id=row["module_id"],
        name=row["name"],
        description=row["description"],
        log_level=row["log_level"],
        active=bool(row["active"]),
        config=json.loads(row["config_json"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        revision=int(row["revision"]),
    )


def list_instances(conn: sqlite3.Connection, module_id: str | None = None) -> list[InstanceRow]:
    """Instances, of one module or of all, in the order they were created."""
    if module_id is None:
        rows = conn.execute("SELECT * FROM instances ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM instances WHERE module_id = ? ORDER BY id", (module_id,))
    return [_instance(r) for r in rows]


def get_instance(conn: sqlite3.Connection, instance_id: int) -> InstanceRow | None:
    row = conn.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
    return _instance(row) if row else None


def find_instance(
    conn: sqlite3.Connection, name: str, module_id: str | None = None
) -> InstanceRow:
    """The instance called `name` (of `module_id` if given); Refused if none or ambiguous."""
    if module_id is None:
        rows = conn.execute("SELECT * FROM instances WHERE name = ? ORDER BY id", (name,))
    else:
        rows = conn.execute(
            "SELECT * FROM instances WHERE name = ? AND module_id = ?", (name, module_id)
        )
    found = [_instance(r) for r in rows]
    if not found:
        names = ", ".join(repr(i.name) for i in list_instances(conn, module_id)) or "none"
        raise Refused(f"there is no instance named {name!r} (instances: {names})")
    if len(found) > 1:
        modules = ", ".join(i.module_id for i in found)
        raise Refused(
            f"several modules have an instance named {name!r} ({modules}); say which with --module"
        )
    return found[0]


def name_taken(
    conn: sqlite3.Connection, module_id: str, name: str, except_id: int | None = None
) -> bool:
    row = conn.execute(
        "SELECT id FROM instances WHERE module_id = ? AND name = ? AND id IS NOT ?",
        (module_id, name, except_id),
    ).fetchone()
    return row is not None


def insert_instance(
    conn: sqlite3.Connection,
    *,
    module_id: str,
    name: str,
    description: str,
    log_level: str,
    active: bool,
    config: dict[str, Any],
) -> int:
    stamp = now_text()
    cursor = conn.execute(
        "INSERT INTO instances (module_id, name, description, log_level, active, config_json, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (module_id, name, description, log_level, int(active), json.dumps(config), stamp, stamp),
    )
    return int(cursor.lastrowid or 0)


def update_instance(
    conn: sqlite3.Connection,
    instance_id: int,
    *,
    name: str,
    description: str,
    log_level: str,
    active: bool,
    config: dict[str, Any],
) -> None:
    conn.execute(
        "UPDATE instances SET name = ?, description = ?, log_level = ?, active = ?, "
        "config_json = ?, updated_at = ?, revision = revision + 1 WHERE id = ?",
        (name, description, log_level, int(active), json.dumps(config), now_text(), instance_id),
    )


def delete_instance(conn: sqlite3.Connection, instance_id: int) -> None:
    conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
