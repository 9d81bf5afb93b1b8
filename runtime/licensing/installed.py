"""What licensing needs to know about an installed module: its build and its vendor key.

The module manager records installed modules in its tables (`modules.current_build`,
`module_builds.version`) and unpacks each build to `DATA/modules/<module id>/<build>/`, with
the vendor's `licence-public-key.pem` at its root. Licences are checked against that key, so a
licence is accepted only when signed by the vendor of the module actually installed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from runtime.licensing.licence import DEVELOPMENT_PUBLIC_KEY

PUBLIC_KEY_FILE = "licence-public-key.pem"


@dataclass(frozen=True)
class InstalledModule:
    """The build of a module in use on this PBX."""

    module_id: str
    build_folder: str
    build_number: int

    def public_key_file(self, data_dir: Path) -> Path:
        return data_dir / "modules" / self.module_id / self.build_folder / PUBLIC_KEY_FILE


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


def vendor_public_key(conn: sqlite3.Connection, data_dir: Path, module_id: str) -> bytes:
    """The licence public key shipped in the installed build of `module_id`.

    Falls back to the development key in `module_src/` when the module is not installed or its
    build ships no key (simulations, tests, builds made before the key was embedded).
    """
    module = installed_module(conn, module_id)
    if module is not None:
        path = module.public_key_file(data_dir)
        if path.is_file():
            return path.read_bytes()
    return DEVELOPMENT_PUBLIC_KEY.read_bytes()
