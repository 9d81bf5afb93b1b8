"""The host's SQLite database under the data folder: connection settings and migrations.

Migrations are the SQL files in `runtime/migrations/`, applied once each in name order and
recorded in `schema_migrations`. Numbering keeps the parts apart: 00xx the module manager,
01xx licensing, 02xx the web host (users, sessions, interventions).

Many writers share one data folder (the CLI, `sfm serve`, its API): the database runs in WAL
mode (readers never wait for a writer), every change is one `BEGIN IMMEDIATE` transaction
(the write lock is taken at its start, so two read-merge-write blocks cannot interleave), and
a writer that finds the lock taken waits up to BUSY_TIMEOUT_MS instead of failing with
"database is locked".
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_NAME = "pbx.sqlite3"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Generous: a transaction here lasts milliseconds, but 16 writers on a loaded 2-core machine
# queue behind each other; failing after a few seconds would be a lost change.
BUSY_TIMEOUT_MS = 60_000


def connect(data_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the host database in `data_dir`, migrated to the newest schema.

    The connection is in autocommit mode: wrap every change in `with transaction(conn):`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        data_dir / DB_NAME,
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    conn.row_factory = sqlite3.Row
    # The busy timeout first: switching a new file to WAL needs the lock too.
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


class transaction:
    """`with transaction(conn):` runs the block as one IMMEDIATE transaction.

    IMMEDIATE takes the write lock before the block reads anything, so whatever the block
    reads is still true when it writes (no lost update between two writers).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied; return their names.

    Safe when several processes open a new data folder at once: each migration is checked
    again inside the write transaction, so it is applied exactly once.
    """
    pending = [p for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if p.name not in _done(conn)]
    applied = []
    for path in pending:
        with transaction(conn):
            if path.name in _done(conn):
                continue  # another process applied it while we waited for the lock
            for statement in path.read_text(encoding="utf-8").split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (path.name,)
            )
        applied.append(path.name)
    return applied


def _done(conn: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    except sqlite3.OperationalError:  # a new database: create the table under the write lock
        with transaction(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
        return set()
