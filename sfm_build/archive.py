"""Deterministic JAR writing: the same entries give the same bytes on every run and machine.

Every entry gets the same timestamp (`build_timestamp()`), the same permissions (0644, regular
file), the same compression, and a fixed order: the manifest first (java.util.jar.JarInputStream
only finds a manifest at the start), then every other entry sorted by name. No directory
entries, no extra fields, no comment.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

from sfm_build.errors import BuildError

MANIFEST_NAME = "META-INF/MANIFEST.MF"

# Used when neither SOURCE_DATE_EPOCH nor a git commit gives a time: 2025-12-01T00:00:00Z.
FALLBACK_EPOCH = 1764547200
# The ZIP format cannot store times before 1980-01-01 (local time of the DOS format; we use UTC).
ZIP_EPOCH_MIN = 315532800
# ...nor after 2107-12-31.
ZIP_EPOCH_MAX = 4354819199
FILE_MODE = 0o100644  # a regular file, rw-r--r--
COMPRESSION = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9


def build_timestamp(repo: Path) -> int:
    """Seconds since the epoch to stamp every entry with.

    SOURCE_DATE_EPOCH if set (the reproducible-builds convention), else the commit time of
    `repo`'s HEAD, else a fixed constant; clamped to what a ZIP can hold.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw.strip():
        try:
            epoch = int(raw.strip())
        except ValueError:
            raise BuildError(
                f"SOURCE_DATE_EPOCH = {raw!r} is not an integer number of seconds."
            ) from None
    else:
        epoch = _head_commit_time(repo)
    return min(max(epoch, ZIP_EPOCH_MIN), ZIP_EPOCH_MAX)


def _head_commit_time(repo: Path) -> int:
    try:
        result = subprocess.run(
            ["git", "log", "-1", "--format=%ct"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return FALLBACK_EPOCH
    out = result.stdout.strip()
    if result.returncode != 0 or not out.isdigit():
        return FALLBACK_EPOCH
    return int(out)


def jar_bytes(entries: Mapping[str, bytes], epoch: int) -> bytes:
    """The JAR holding `entries` (name -> content), byte for byte the same for the same input."""
    if MANIFEST_NAME not in entries:
        raise BuildError(f"internal: the archive has no {MANIFEST_NAME}.")
    date_time = time.gmtime(epoch)[:6]
    order = [MANIFEST_NAME, *sorted(name for name in entries if name != MANIFEST_NAME)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = COMPRESSION
            archive.writestr(
                info, entries[name], compress_type=COMPRESSION, compresslevel=COMPRESS_LEVEL
            )
    return buffer.getvalue()
