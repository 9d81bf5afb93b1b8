"""Where the licensing files of this PBX live inside the host's data folder."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

LICENSING_DIR = "licensing"


def data_dir_of(conn: sqlite3.Connection) -> Path:
    """The data folder whose database `conn` is (the folder holding the SQLite file).

    The trial functions receive only a connection (the module manager's contract), yet the
    PBX key and the hardware id live as files beside the database.
    """
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return Path(row[2]).resolve().parent
    raise RuntimeError("the licensing needs a database file in the data folder, not :memory:")


def licensing_dir(data_dir: Path) -> Path:
    """`DATA/licensing/`, created (owner-only) if missing."""
    path = data_dir / LICENSING_DIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_once(path: Path, content: bytes) -> bytes:
    """Write `content` to `path` unless it exists; return what the file holds afterwards.

    Written to a temporary file and hard-linked into place, so two processes racing to
    create the file agree on one content and no reader ever sees a half-written file.
    """
    if path.exists():
        return path.read_bytes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
