"""The PBX's stored licences and pending e-mail verifications (SQLite, tables `licence_*`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from runtime.db import transaction
from runtime.licensing.licence import Licence, check_fits, read_licence


def store_licence(
    conn: sqlite3.Connection,
    document: str | bytes,
    *,
    module_id: str,
    hardware_id: str,
    build: int | None,
    public_key_pem: bytes,
    source: str,
    now_epoch: int,
) -> Licence:
    """Check a licence fully (signature, module, PBX, entitlement) and keep it for `module_id`.

    Refused, naming `source` and why, if any check fails; then nothing is changed. A stored
    licence replaces the module's earlier one and ends any pending verification.
    """
    licence = read_licence(document, public_key_pem, source)
    check_fits(licence, module_id=module_id, hardware_id=hardware_id, build=build, source=source)
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO licence_licences VALUES (?, ?, ?)",
            (module_id, licence.document, now_epoch),
        )
        conn.execute("DELETE FROM licence_requests WHERE module_id = ?", (module_id,))
        conn.execute("UPDATE licence_generation SET generation = generation + 1 WHERE id = 1")
    return licence


def stored_licence_document(conn: sqlite3.Connection, module_id: str) -> str | None:
    """The licence file stored for `module_id` (unchecked), or None."""
    row = conn.execute(
        "SELECT document FROM licence_licences WHERE module_id = ?", (module_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def licence_generation(conn: sqlite3.Connection) -> int:
    """A number that grows with every licence stored on this PBX.

    A running host may poll it (off the call path) to rebuild its gates after `sfm licence
    confirm` or `import` ran in another process.
    """
    row = conn.execute("SELECT generation FROM licence_generation WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class PendingRequest:
    """A verification asked of the licence service, waiting for its code."""

    module_id: str
    email: str
    server: str
    request_id: str
    requested_at: int


def save_request(conn: sqlite3.Connection, request: PendingRequest) -> None:
    """Remember a verification request (replacing the module's earlier one)."""
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO licence_requests VALUES (?, ?, ?, ?, ?)",
            (
                request.module_id,
                request.email,
                request.server,
                request.request_id,
                request.requested_at,
            ),
        )


def pending_request(conn: sqlite3.Connection, module_id: str) -> PendingRequest | None:
    """The module's verification waiting for a code, or None."""
    row = conn.execute(
        "SELECT module_id, email, server, request_id, requested_at FROM licence_requests"
        " WHERE module_id = ?",
        (module_id,),
    ).fetchone()
    if row is None:
        return None
    return PendingRequest(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))
