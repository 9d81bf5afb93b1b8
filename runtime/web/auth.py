"""Who may use the web host: the admin's password, the one-time setup link, and login sessions.

The first start prints a one-time setup link; whoever opens it sets the admin password (stored
as an argon2 hash). Logging in creates a session: a random id kept (hashed) in the database and
sent to the browser in a signed cookie that is HttpOnly, SameSite=Strict and Secure over https.
Logging out deletes the session row, so a copied cookie stops working at once; changing the
password deletes every session of the user (the browser that changed it gets a new one).

Failed logins are counted per client address in the database, inside one write transaction,
so parallel guesses (threads or processes) cannot all slip past the limit. Scripts use API
tokens (`Authorization: Bearer <token>`), created by the admin and stored hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, Signer

from runtime.db import transaction
from runtime.errors import Refused

ADMIN = "admin"
SESSION_COOKIE = "sfm_session"
# A session idle for longer than this is over: the admin logs in again.
SESSION_IDLE = timedelta(hours=8)
# Nobody sets a password they cannot remember in one go; a short one is guessed.
MIN_PASSWORD_LENGTH = 8
# Failed logins allowed per client address within the window; the next attempt waits until the
# oldest of them leaves the window.
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0
API_TOKEN_PREFIX = "sfm_"

_hasher = PasswordHasher()


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _digest(value: str) -> str:
    # Tokens and session ids are stored hashed: a copy of the database opens no session.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def secret_key(conn: sqlite3.Connection) -> str:
    """The key that signs this host's cookies, created once and kept in the data folder."""
    row = conn.execute("SELECT secret FROM web_secret WHERE id = 1").fetchone()
    if row is not None:
        return str(row["secret"])
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO web_secret (id, secret) VALUES (1, ?)",
            (secrets.token_urlsafe(48),),
        )
    return str(conn.execute("SELECT secret FROM web_secret WHERE id = 1").fetchone()["secret"])


def admin_exists(conn: sqlite3.Connection) -> bool:
    """True once the admin password has been set."""
    return conn.execute("SELECT 1 FROM web_users LIMIT 1").fetchone() is not None


def issue_setup_token(conn: sqlite3.Connection) -> str | None:
    """A fresh one-time setup token while no admin password is set, else None.

    Earlier unused tokens stop working: only the link printed last opens the setup page.
    """
    if admin_exists(conn):
        return None
    token = secrets.token_urlsafe(32)
    with transaction(conn):
        conn.execute("DELETE FROM web_setup_tokens")
        conn.execute(
            "INSERT INTO web_setup_tokens (token_hash, created_at) VALUES (?, ?)",
            (_digest(token), _stamp(_now())),
        )
    return token


def setup_token_valid(conn: sqlite3.Connection, token: str) -> bool:
    """True if `token` is the unused setup token and no admin password is set yet."""
    if admin_exists(conn):
        return False
    return (
        conn.execute(
            "SELECT 1 FROM web_setup_tokens WHERE token_hash = ?", (_digest(token),)
        ).fetchone()
        is not None
    )


def check_new_password(password: str, repeated: str) -> None:
    """Refuse a password that is too short or was not typed the same twice."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refused(f"password: at least {MIN_PASSWORD_LENGTH} characters, please.")
    if password != repeated:
        raise Refused("password: the two entries differ.")


def set_admin_password(conn: sqlite3.Connection, token: str, password: str, repeated: str) -> int:
    """Use the one-time setup token to set the admin password; return the admin's user id.

    Refused (and nothing changed) if the token is unknown or used, or the password is unfit.
    """
    check_new_password(password, repeated)
    password_hash = _hasher.hash(password)
    with transaction(conn):
        used = conn.execute(
            "DELETE FROM web_setup_tokens WHERE token_hash = ?", (_digest(token),)
        ).rowcount
        if not used or conn.execute("SELECT 1 FROM web_users").fetchone() is not None:
            raise Refused("setup link: unknown or already used.")
        cursor = conn.execute(
            "INSERT INTO web_users (username, password_hash, created_at) VALUES (?, ?, ?)",
            (ADMIN, password_hash, _stamp(_now())),
        )
        conn.execute("DELETE FROM web_setup_tokens")
    return int(cursor.lastrowid or 0)


def check_login(conn: sqlite3.Connection, username: str, password: str) -> int | None:
    """The user id if `username` and `password` are right, else None."""
    row = conn.execute(
        "SELECT id, password_hash FROM web_users WHERE username = ?", (username,)
    ).fetchone()
    if row is None:
        # Hash anyway, so that an unknown user name takes as long as a wrong password.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        with transaction(conn):
            conn.execute(
                "UPDATE web_users SET password_hash = ? WHERE id = ?",
                (_hasher.hash(password), row["id"]),
            )
    return int(row["id"])


@dataclass(frozen=True)
class WebSession:
    """A logged-in browser: who it is and the CSRF token its forms and API calls must carry."""

    id_hash: str
    user_id: int
    username: str
    csrf_token: str
    by_token: bool = False  # an API token: no cookie, so no cross-site request to guard


def start_session(conn: sqlite3.Connection, user_id: int, signer: Signer) -> str:
    """Create a session for `user_id`; return the signed cookie value for the browser."""
    session_id = secrets.token_urlsafe(32)
    stamp = _stamp(_now())
    with transaction(conn):
        conn.execute(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?)",
            (_digest(session_id), user_id, secrets.token_urlsafe(32), stamp, stamp),
        )
    return signer.sign(session_id).decode("ascii")


def find_session(conn: sqlite3.Connection, cookie: str | None, signer: Signer) -> WebSession | None:
    """The live session a cookie names, or None (no cookie, bad signature, logged out, idle)."""
    if not cookie:
        return None
    try:
        session_id = signer.unsign(cookie).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None
    row = conn.execute(
        "SELECT s.id_hash, s.user_id, s.csrf_token, s.last_seen, u.username"
        " FROM web_sessions s JOIN web_users u ON u.id = s.user_id WHERE s.id_hash = ?",
        (_digest(session_id),),
    ).fetchone()
    if row is None:
        return None
    now = _now()
    if datetime.fromisoformat(row["last_seen"]) + SESSION_IDLE < now:
        end_session(conn, row["id_hash"])
        return None
    # Touch at most once a minute: most requests then only read.
    if datetime.fromisoformat(row["last_seen"]) + timedelta(minutes=1) < now:
        with transaction(conn):
            conn.execute(
                "UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?",
                (_stamp(now), row["id_hash"]),
            )
    return WebSession(
        id_hash=row["id_hash"],
        user_id=int(row["user_id"]),
        username=row["username"],
        csrf_token=row["csrf_token"],
    )


def end_session(conn: sqlite3.Connection, id_hash: str) -> None:
    """Log a session out: its cookie opens nothing any more."""
    with transaction(conn):
        conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (id_hash,))


def tokens_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def change_password(
    conn: sqlite3.Connection, user_id: int, current: str, password: str, repeated: str
) -> None:
    """Set a new password after checking the current one; every session of the user ends.

    Refused (and nothing changed) if the current password is wrong or the new one unfit.
    """
    check_new_password(password, repeated)
    row = conn.execute("SELECT password_hash FROM web_users WHERE id = ?", (user_id,)).fetchone()
    try:
        if row is None or not _hasher.verify(row["password_hash"], current):
            raise Refused("current password: wrong.")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Refused("current password: wrong.") from None
    reset_password(conn, user_id, password)


def reset_password(conn: sqlite3.Connection, user_id: int, password: str) -> None:
    """Set the password (no check of the old one: `sfm admin password`); all sessions end."""
    password_hash = _hasher.hash(password)
    with transaction(conn):
        conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))


def admin_id(conn: sqlite3.Connection) -> int | None:
    """The admin's user id, or None while no password is set."""
    row = conn.execute("SELECT id FROM web_users WHERE username = ?", (ADMIN,)).fetchone()
    return None if row is None else int(row["id"])


# ----------------------------------------------------------------------------- throttle


@dataclass(frozen=True)
class Throttled:
    """The client has to wait `retry_after` seconds before its next login attempt."""

    retry_after: int


def begin_login_attempt(
    conn: sqlite3.Connection, client: str, now: float | None = None
) -> int | Throttled:
    """Count one login attempt of `client` before its password is checked.

    Returns the attempt's id, or Throttled when the client already has MAX_FAILURES failed or
    pending attempts within FAILURE_WINDOW. Counting and recording happen in one write
    transaction: N parallel attempts are counted one after the other, never all as the first.
    """
    moment = time.time() if now is None else now
    with transaction(conn):
        conn.execute(
            "DELETE FROM web_login_attempts WHERE at < ?", (moment - FAILURE_WINDOW,)
        )
        recent = [
            float(row[0])
            for row in conn.execute(
                "SELECT at FROM web_login_attempts WHERE client = ? ORDER BY at", (client,)
            )
        ]
        if len(recent) >= MAX_FAILURES:
            # The next attempt is allowed when enough of the counted ones have left the window.
            frees_at = recent[len(recent) - MAX_FAILURES] + FAILURE_WINDOW
            return Throttled(max(1, math.ceil(frees_at - moment)))
        cursor = conn.execute(
            "INSERT INTO web_login_attempts (client, at, outcome) VALUES (?, ?, 'pending')",
            (client, moment),
        )
    return int(cursor.lastrowid or 0)


def end_login_attempt(conn: sqlite3.Connection, attempt: int, client: str, ok: bool) -> None:
    """Record the outcome: a failure keeps counting; a success clears the client's failures."""
    with transaction(conn):
        if ok:
            conn.execute("DELETE FROM web_login_attempts WHERE client = ?", (client,))
        else:
            conn.execute(
                "UPDATE web_login_attempts SET outcome = 'failed' WHERE id = ?", (attempt,)
            )


# ----------------------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class ApiToken:
    """A named API token (its secret is shown once, at creation, and stored hashed)."""

    name: str
    created_at: str
    last_used: str | None


def create_api_token(conn: sqlite3.Connection, name: str) -> str:
    """A new API token called `name`; the secret is returned once and never stored in clear."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise Refused("token name: 1 to 64 printable characters, please.")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction(conn):
            conn.execute(
                "INSERT INTO web_api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)",
                (name, _digest(token), _stamp(_now())),
            )
    except sqlite3.IntegrityError:
        raise Refused(f"token name: a token named {name!r} exists already.") from None
    return token


def list_api_tokens(conn: sqlite3.Connection) -> list[ApiToken]:
    """The API tokens, oldest first (names and dates only)."""
    return [
        ApiToken(row["name"], row["created_at"], row["last_used"])
        for row in conn.execute(
            "SELECT name, created_at, last_used FROM web_api_tokens ORDER BY id"
        )
    ]


def revoke_api_token(conn: sqlite3.Connection, name: str) -> None:
    """Delete the token `name`: scripts using it are refused from now on."""
    with transaction(conn):
        gone = conn.execute("DELETE FROM web_api_tokens WHERE name = ?", (name,)).rowcount
    if not gone:
        known = ", ".join(t.name for t in list_api_tokens(conn)) or "none"
        raise Refused(f"token name: there is no token {name!r} (tokens: {known}).")


def find_api_token(conn: sqlite3.Connection, token: str) -> WebSession | None:
    """The admin's session for a valid API token (it needs no CSRF token), else None."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    row = conn.execute(
        "SELECT id, name, last_used FROM web_api_tokens WHERE token_hash = ?", (_digest(token),)
    ).fetchone()
    if row is None:
        return None
    now = _now()
    if row["last_used"] is None or datetime.fromisoformat(row["last_used"]) + timedelta(
        minutes=1
    ) < now:
        with transaction(conn):
            conn.execute(
                "UPDATE web_api_tokens SET last_used = ? WHERE id = ?", (_stamp(now), row["id"])
            )
    return WebSession(
        id_hash=f"token:{row['id']}",
        user_id=0,
        username=f"{ADMIN} (token {row['name']})",
        csrf_token="",
        by_token=True,
    )
