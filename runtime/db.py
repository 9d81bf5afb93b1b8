"""The host's SQLite database under the data folder: connection settings and migrations.

Migrations are the SQL files in `runtime/migrations/`, applied once each in name order and
recorded in `schema_migrations`. Numbering keeps the parts apart: 00xx the module manager,
01xx licensing, 02xx the web host (users, sessions, breakthroughs).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_NAME = "pbx.sqlite3"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def connect(data_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the host database in `data_dir`, migrated to the newest schema.

    The connection is in autocommit mode: wrap every change in `with transaction(conn):`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    migrate(conn)
    return conn


class transaction:
    """`with transaction(conn):` runs the block as one IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name in done:
            continue
        with transaction(conn):
            for statement in path.read_text(encoding="utf-8").split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (path.name,)
            )
        applied.append(path.name)
    return applied
