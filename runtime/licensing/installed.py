"""What licensing needs to know about an installed module: its build and its vendor key.

The module manager records installed modules in its tables (`modules.current_build`,
`module_builds.version`) and unpacks each build to `DATA/modules/<module id>/<build>/`.
Licences are checked against the trusted key that signed that build (`vendor_signature`), so
a licence is accepted only when signed by the vendor of the module actually installed, with a
key from the host's trust store, never with a key file from the data folder.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import Refused
from runtime.licensing.trust_store import DEV_MODE_HINT, development_key, development_mode
from runtime.licensing.vendor_signature import build_signer
from sfm_format.signature import SIGNATURE_ENTRY


@dataclass(frozen=True)
class InstalledModule:
    """The build of a module in use on this PBX."""

    module_id: str
    build_folder: str
    build_number: int

    def folder(self, data_dir: Path) -> Path:
        """Where the module manager unpacked this build."""
        return data_dir / "modules" / self.module_id / self.build_folder


def installed_module(conn: sqlite3.Connection, module_id: str) -> InstalledModule | None:
    """The build of `module_id` in use, or None when it is not installed (or no manager yet)."""
    try:
        row = conn.execute(
            "SELECT m.current_build, b.version FROM modules m JOIN module_builds b"
            " ON b.module_id = m.id AND b.build = m.current_build WHERE m.id = ?",
            (module_id,),
        ).fetchone()
    except sqlite3.OperationalError:  # the module manager's tables do not exist
        return None
    if row is None:
        return None
    return InstalledModule(module_id, str(row[0]), int(row[1]))


def installed_module_ids(conn: sqlite3.Connection) -> list[str]:
    """Ids of the modules installed now (empty when there is no module manager)."""
    try:
        return [str(r[0]) for r in conn.execute("SELECT id FROM modules ORDER BY id")]
    except sqlite3.OperationalError:
        return []


def licence_public_key(conn: sqlite3.Connection, data_dir: Path, module_id: str) -> bytes:
    """The PEM of the key that checks licences of `module_id`: the trusted key that signed
    its installed build.

    In development mode only, a module that is not installed or was installed unsigned is
    checked with the development key (simulations, tests). Refused, with the reason, when no
    trusted key can be established.
    """
    module = installed_module(conn, module_id)
    if module is not None:
        folder = module.folder(data_dir)
        if development_mode() and not (folder / SIGNATURE_ENTRY).exists():
            return development_key().pem()
        return build_signer(folder, module_id).pem()
    if development_mode():
        return development_key().pem()
    raise Refused(
        f"module {module_id} is not installed on this PBX, so no vendor key can check its "
        f"licence (in development mode, {DEV_MODE_HINT}, the development key would)"
    )
