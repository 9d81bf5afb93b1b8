"""The licence service's SQLite database: purchases, verification requests and trials."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "licence-service.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    module_id TEXT NOT NULL,
    max_build INTEGER NOT NULL,
    purchased_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS purchases_by_email ON purchases(email, module_id);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    module_id TEXT NOT NULL,
    hardware_id TEXT NOT NULL,
    code_hash TEXT,              -- NULL: the e-mail bought nothing; no code exists
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    wrong_tries INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'open'   -- open, locked, used
);
-- The first trial of a module on a PBX (hardware id): a second one gets this start back.
CREATE TABLE IF NOT EXISTS trials (
    module_id TEXT NOT NULL,
    hardware_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    PRIMARY KEY (module_id, hardware_id)
);
-- Who registered new trials (the client address), for the per-address rate limit.
CREATE TABLE IF NOT EXISTS trial_sources (
    address TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trial_sources_by_address ON trial_sources(address, registered_at);
CREATE INDEX IF NOT EXISTS requests_by_email ON requests(email, created_at);
CREATE INDEX IF NOT EXISTS requests_by_pbx ON requests(hardware_id, created_at);
"""


def open_store(db_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the service database in `db_dir`."""
    db_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_dir / DB_NAME, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction (so a check and its update cannot interleave)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def add_purchase(
    conn: sqlite3.Connection, email: str, module_id: str, max_build: int, now: int
) -> None:
    """Record that `email` bought `module_id` with updates up to build `max_build`."""
    with immediate(conn):
        conn.execute(
            "INSERT INTO purchases (email, module_id, max_build, purchased_at) VALUES (?, ?, ?, ?)",
            (email, module_id, max_build, now),
        )


def entitlement(conn: sqlite3.Connection, email: str, module_id: str) -> int | None:
    """The highest build `email` is entitled to for `module_id`, or None if never bought."""
    row = conn.execute(
        "SELECT MAX(max_build) FROM purchases WHERE email = ? AND module_id = ?",
        (email, module_id),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def recent_requests(conn: sqlite3.Connection, column: str, value: str, since: int) -> int:
    """How many requests with `column` (email or hardware_id) = `value` since `since`."""
    if column not in ("email", "hardware_id"):
        raise ValueError(column)
    row = conn.execute(
        f"SELECT COUNT(*) FROM requests WHERE {column} = ? AND created_at >= ?", (value, since)
    ).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class VerificationRequest:
    id: str
    email: str
    module_id: str
    hardware_id: str
    code_hash: str | None
    created_at: int
    expires_at: int
    wrong_tries: int
    state: str


def insert_request(conn: sqlite3.Connection, request: VerificationRequest) -> None:
    conn.execute(
        "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request.id,
            request.email,
            request.module_id,
            request.hardware_id,
            request.code_hash,
            request.created_at,
            request.expires_at,
            request.wrong_tries,
            request.state,
        ),
    )


def get_request(conn: sqlite3.Connection, request_id: str) -> VerificationRequest | None:
    row = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    if row is None:
        return None
    return VerificationRequest(
        id=row["id"],
        email=row["email"],
        module_id=row["module_id"],
        hardware_id=row["hardware_id"],
        code_hash=row["code_hash"],
        created_at=int(row["created_at"]),
        expires_at=int(row["expires_at"]),
        wrong_tries=int(row["wrong_tries"]),
        state=row["state"],
    )


def set_request_outcome(
    conn: sqlite3.Connection, request_id: str, wrong_tries: int, state: str
) -> None:
    conn.execute(
        "UPDATE requests SET wrong_tries = ?, state = ? WHERE id = ?",
        (wrong_tries, state, request_id),
    )


def trial_start(conn: sqlite3.Connection, module_id: str, hardware_id: str) -> int | None:
    """When the trial of `module_id` on `hardware_id` started, or None if it never did."""
    row = conn.execute(
        "SELECT started_at FROM trials WHERE module_id = ? AND hardware_id = ?",
        (module_id, hardware_id),
    ).fetchone()
    return None if row is None else int(row[0])


def recent_trials_from(conn: sqlite3.Connection, address: str, since: int) -> int:
    """How many new trials `address` registered at or after `since`."""
    row = conn.execute(
        "SELECT COUNT(*) FROM trial_sources WHERE address = ? AND registered_at >= ?",
        (address, since),
    ).fetchone()
    return int(row[0])


def register_trial(
    conn: sqlite3.Connection, module_id: str, hardware_id: str, now: int, address: str = ""
) -> tuple[int, bool]:
    """(start, first) of the trial of `module_id` on `hardware_id`: `now` and True the first
    time, the first registration's start and False on every later call (the caller holds the
    transaction)."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO trials VALUES (?, ?, ?)", (module_id, hardware_id, now)
    )
    first = cursor.rowcount == 1
    if first:
        conn.execute("INSERT INTO trial_sources VALUES (?, ?)", (address, now))
    started = trial_start(conn, module_id, hardware_id)
    assert started is not None  # inserted or already there, in this transaction
    return started, first
