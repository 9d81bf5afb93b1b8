"""Atomic install, upgrade, rollback and removal of modules under DATA/modules/.

Layout: DATA/modules/<module id>/<build>/ holds one unpacked build (`<build>` is
`v<version>-<first 12 hex of the file's sha256>`). The database row of the module names the
current build and the previous one; that row is the switch. An install unpacks into a fresh
folder inside DATA/modules/ (same file system), verifies every file, renames the folder to its
build name, and only then flips the row in one transaction. A crash anywhere before the commit
leaves the row, and so the running version, as it was; folders left behind by a crash are
swept by the next install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import db
from runtime.errors import Refused
from runtime.licensing.vendor_signature import check_upload_signature
from runtime.modules import module_config, store
from runtime.modules.upload_checks import (
    DEFAULT_LIMITS,
    DEFAULT_PBX_VERSION,
    CheckedUpload,
    Limits,
    check_archive,
    check_fit,
)
from runtime.pbx_directory import stored_pbx_table

MODULES_DIR = "modules"
INCOMING_PREFIX = ".incoming-"
TRASH_PREFIX = ".trash-"
LOCK_NAME = ".lock"


@dataclass(frozen=True)
class InstallResult:
    """What an install did.

    `action` is installed, upgraded, reinstalled, downgraded or unchanged.
    """

    module: store.ModuleRow
    action: str
    previous_version: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "previous_version": self.previous_version,
            "module": self.module.to_json(),
        }


def modules_root(data_dir: Path) -> Path:
    return data_dir / MODULES_DIR


def build_dir(data_dir: Path, module_id: str, build: str) -> Path:
    """The folder of one installed build."""
    return modules_root(data_dir) / module_id / build


def pbx_version(data_dir: Path) -> str:
    """This PBX's version: [pbx].version of DATA/pbx.toml, or 8.1.0.4 when none is loaded."""
    return str(stored_pbx_table(data_dir).get("version", DEFAULT_PBX_VERSION))


def describe(upload: CheckedUpload) -> dict[str, Any]:
    """The `sfm inspect` document of a checked upload (runtime.sfm_file.read_sfm)."""
    try:
        from runtime.sfm_file import read_sfm
    except ImportError:  # the reader is another engineer's part; until it lands, the basics
        return {
            "id": upload.module_id,
            "name": upload.name,
            "vendor": upload.vendor,
            "version": upload.version,
            "display_version": None,
            "spec_version": upload.spec_version,
            "variant": None,
            "min_pbx_version": None,
            "entry_points": [],
            "integrity": {},
            "files": list(upload.entries),
        }
    document: dict[str, Any] = read_sfm(upload.path).to_json()
    return document


@contextlib.contextmanager
def _manager_lock(data_dir: Path) -> Iterator[None]:
    """One install, rollback or removal at a time per data folder (they sweep folders)."""
    root = modules_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _db_if_present(data_dir: Path) -> sqlite3.Connection | None:
    """The database, but only if it exists: a refused upload must not even create it."""
    if not (data_dir / db.DB_NAME).is_file():
        return None
    return db.connect(data_dir)


def _unpack(upload: CheckedUpload, into: Path, limits: Limits) -> None:
    """Extract every file of the checked archive into `into`, then verify it on disk.

    Entry names were checked (no '..', no absolute paths, no links), so each lands inside
    `into`; sizes are capped again while writing, and each file is read back and compared.
    """
    into.mkdir(parents=True)
    expected: dict[Path, tuple[int, str]] = {}
    root = into.resolve()
    with zipfile.ZipFile(upload.path) as archive:
        for info in archive.infolist():
            target = (into / info.filename).resolve()
            if root not in target.parents and target != root:
                raise Refused(f"{upload.path.name}: entry {info.filename!r} leaves the folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            with archive.open(info) as source, open(target, "xb") as sink:
                while chunk := source.read(1024 * 1024):
                    size += len(chunk)
                    if size > limits.max_entry_bytes:
                        raise Refused(f"{upload.path.name}: entry {info.filename!r} is too large")
                    digest.update(chunk)
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            expected[target] = (size, digest.hexdigest())
    for target, (size, sha) in expected.items():
        data = target.read_bytes()
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            raise RuntimeError(f"{target} does not hold what was unpacked into it")



def link_check(data_dir: Path, build: Path) -> str | None:
    """Why the unpacked build cannot run here (None: it can): its entry points name no class
    it has, or its classes need classes that neither it nor this host's module API offers
    (a real STARFACE export: "inspect only: needs de.vertico....X"). Loads the classes'
    names in a class loader of their own, which is then dropped."""
    from runtime import jvm
    from runtime.modules import java_code

    code = java_code.read_build(build)
    if not code.functions:
        return "inspect only: its entry points name no function this host can run"
    api_loader = jvm.api_class_loader(jvm.log_api_for(pbx_version(data_dir)))
    class_loader = java_code.class_loader("link check", code, api_loader)
    missing = java_code.missing_classes(code, lambda name: bool(class_loader.canLoad(name)))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        return f"inspect only: needs {shown}"
    return None


def _was_runnable(existing: store.ModuleRow | None, build: str) -> bool:
    """Whether the build, already on disk for the module's row, was found runnable."""
    for row in (existing.current, existing.previous) if existing is not None else ():
        if row is not None and row.build == build:
            return row.runnable
    return False


def _sweep(data_dir: Path, module_id: str | None, keep: set[str]) -> None:
    """Remove what no row points to: unused builds of a module, and crash leftovers."""
    root = modules_root(data_dir)
    for child in root.iterdir() if root.is_dir() else ():
        if child.name.startswith((INCOMING_PREFIX, TRASH_PREFIX)):
            shutil.rmtree(child, ignore_errors=True)
    if module_id is None:
        return
    module_dir = root / module_id
    for child in module_dir.iterdir() if module_dir.is_dir() else ():
        if child.name not in keep:
            module_config.forget(child)
            shutil.rmtree(child, ignore_errors=True)


def _record_install(conn: sqlite3.Connection, module_id: str) -> None:
    """The one call into licensing on install/upgrade: the trial's first-install record."""
    try:
        from runtime.licensing.trial import record_install
    except ImportError:  # licensing is another engineer's part; until it lands, no trial record
        return
    record_install(conn, module_id)


def install(
    data_dir: Path,
    sfm_path: Path,
    *,
    allow_downgrade: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    file_name: str | None = None,
) -> InstallResult:
    """Install or upgrade the module in `sfm_path`; Refused (changing nothing) if it may not.

    Instances and their configuration are kept across upgrades; the build that was current is
    kept for `rollback`. `file_name` is the name to show for uploads saved under a temp name.
    """
    upload = check_archive(sfm_path, limits)
    check_upload_signature(sfm_path, upload.module_id)  # a vendor in the host's trust store
    info = describe(upload)
    version_here = pbx_version(data_dir)
    conn = _db_if_present(data_dir)
    try:
        existing = store.get_module(conn, upload.module_id) if conn else None
        check_fit(
            upload,
            min_pbx_version=info.get("min_pbx_version"),
            variant=info.get("variant"),
            pbx_version=version_here,
            installed_version=existing.current.version if existing else None,
            allow_downgrade=allow_downgrade,
        )
        if existing is not None and existing.current.sha256 == upload.sha256:
            return InstallResult(existing, "unchanged", existing.current.version)
    finally:
        if conn is not None:
            conn.close()

    build = f"v{upload.version}-{upload.sha256[:12]}"
    root = modules_root(data_dir)
    with _manager_lock(data_dir):
        conn = db.connect(data_dir)
        incoming = root / f"{INCOMING_PREFIX}{secrets.token_hex(8)}"
        try:
            existing = store.get_module(conn, upload.module_id)
            target = build_dir(data_dir, upload.module_id, build)
            on_disk_for_row = existing is not None and build in (
                existing.current.build,
                existing.previous.build if existing.previous else None,
            )
            runnable = upload.runnable
            if not on_disk_for_row:
                _unpack(upload, incoming, limits)
                if runnable:
                    reason = link_check(data_dir, incoming)
                    if reason is not None:
                        runnable = False
                        info = {**info, "inspect_only": reason}
                elif "inspect_only" not in info:
                    info = {**info, "inspect_only": "inspect only: it declares no code to run"}
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():  # left by a crash after a rename: no row points to it
                    os.replace(target, root / f"{TRASH_PREFIX}{secrets.token_hex(8)}")
                os.replace(incoming, target)
            row = store.BuildRow(
                module_id=upload.module_id,
                build=build,
                version=upload.version,
                display_version=info.get("display_version"),
                variant=info.get("variant"),
                spec_version=upload.spec_version,
                min_pbx_version=info.get("min_pbx_version"),
                runnable=runnable if not on_disk_for_row else _was_runnable(existing, build),
                sha256=upload.sha256,
                file_name=file_name or sfm_path.name,
                info=info,
                installed_at=store.now_text(),
            )
            with db.transaction(conn):
                again = store.get_module(conn, upload.module_id)
                raced = again is not None and upload.version < again.current.version
                if raced and not allow_downgrade:
                    raise Refused(
                        f"{sfm_path.name}: a newer version was installed meanwhile; "
                        "a downgrade needs --allow-downgrade"
                    )
                store.switch_module(
                    conn,
                    module_id=upload.module_id,
                    name=upload.name,
                    vendor=upload.vendor,
                    current_build=build,
                    previous_build=(
                        again.current.build
                        if again is not None and again.current.build != build
                        else (again.previous.build if again and again.previous else None)
                    ),
                )
                store.put_build(conn, row)
            _record_install(conn, upload.module_id)
            module = store.require_module(conn, upload.module_id)
            _sweep(
                data_dir,
                upload.module_id,
                {module.current.build, *([module.previous.build] if module.previous else [])},
            )
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
            conn.close()
    if existing is None:
        action, before = "installed", None
    else:
        before = existing.current.version
        if upload.version > before:
            action = "upgraded"
        elif upload.version == before:
            action = "reinstalled"
        else:
            action = "downgraded"
    return InstallResult(module, action, before)


def rollback(data_dir: Path, module_id: str) -> store.ModuleRow:
    """Make the previous build current again (and the current one previous); instances stay."""
    with _manager_lock(data_dir):
        conn = db.connect(data_dir)
        try:
            with db.transaction(conn):
                module = store.require_module(conn, module_id)
                if module.previous is None:
                    raise Refused(
                        f"module {module.name} ({module_id}) has no previous version to roll "
                        "back to"
                    )
                if not build_dir(data_dir, module_id, module.previous.build).is_dir():
                    raise Refused(
                        f"module {module.name}: the previous version's files are missing "
                        f"({build_dir(data_dir, module_id, module.previous.build)})"
                    )
                store.switch_module(
                    conn,
                    module_id=module_id,
                    name=module.previous.info.get("name") or module.name,
                    vendor=module.previous.info.get("vendor") or module.vendor,
                    current_build=module.previous.build,
                    previous_build=module.current.build,
                )
            return store.require_module(conn, module_id)
        finally:
            conn.close()


def remove(data_dir: Path, module_id: str, *, with_instances: bool = False) -> store.ModuleRow:
    """Uninstall a module and its files. Refused while it has instances, unless asked to."""
    with _manager_lock(data_dir):
        conn = db.connect(data_dir)
        try:
            with db.transaction(conn):
                module = store.require_module(conn, module_id)
                instances = store.list_instances(conn, module_id)
                if instances and not with_instances:
                    names = ", ".join(repr(i.name) for i in instances)
                    raise Refused(
                        f"module {module.name} still has instances ({names}); delete them first "
                        "or remove with --with-instances"
                    )
                store.delete_module(conn, module_id)
        finally:
            conn.close()
    from runtime.modules import instance_log

    module_dir = modules_root(data_dir) / module_id
    if module_dir.is_dir():
        for child in module_dir.iterdir():
            module_config.forget(child)
        trash = modules_root(data_dir) / f"{TRASH_PREFIX}{secrets.token_hex(8)}"
        os.replace(module_dir, trash)
        shutil.rmtree(trash, ignore_errors=True)
    for instance in instances:
        instance_log.remove_logs(data_dir, instance.id)
    return module
