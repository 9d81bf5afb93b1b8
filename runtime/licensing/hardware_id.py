"""The hardware id of this PBX: stable across restarts, reinstalls and module removal.

Derived from `/etc/machine-id` (hashed with an application key, as machine-id(5) asks, so the
raw id never leaves the machine); where that file is missing or empty, a random id is created
once and kept in the data folder. Tests override it only through the `override` argument:
there is no environment variable or setting a user could change.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

from runtime.licensing.data_folder import licensing_dir, write_once

MACHINE_ID_FILE = Path("/etc/machine-id")
FALLBACK_FILE = "hardware-id"
_APPLICATION_KEY = b"sfm-pbx hardware id v1:"
HARDWARE_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def hardware_id(
    data_dir: Path, override: str | None = None, machine_id_file: Path = MACHINE_ID_FILE
) -> str:
    """This PBX's hardware id: 32 lowercase hex digits, the same on every call.

    `override` (tests only) is returned as given after a format check.
    """
    if override is not None:
        if not HARDWARE_ID_PATTERN.match(override):
            raise ValueError(f"hardware id {override!r} is not 32 lowercase hex digits")
        return override
    try:
        machine_id = machine_id_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        machine_id = ""
    if machine_id:
        return hashlib.sha256(_APPLICATION_KEY + machine_id.encode()).hexdigest()[:32]
    stored = write_once(licensing_dir(data_dir) / FALLBACK_FILE, secrets.token_hex(16).encode())
    return stored.decode("ascii").strip()
