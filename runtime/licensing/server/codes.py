"""One-time verification codes: six digits, kept only as a salted hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

CODE_DIGITS = 6
CODE_TTL_SECONDS = 15 * 60
MAX_WRONG_TRIES = 5
CODE_PATTERN = re.compile(r"^[0-9]{6}$")


def new_code() -> str:
    """A fresh uniformly random six-digit code (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_request_id() -> str:
    """An unguessable id for a verification request."""
    return secrets.token_urlsafe(18)


def code_hash(request_id: str, code: str) -> str:
    """The stored form of `code`: a hash salted with its request id."""
    return hashlib.sha256(f"{request_id}:{code}".encode()).hexdigest()


def code_matches(request_id: str, code: str, stored_hash: str | None) -> bool:
    """Constant-time check; a request without a code (unknown e-mail) never matches."""
    if stored_hash is None:
        hmac.compare_digest(code_hash(request_id, code), code_hash(request_id, "x"))
        return False
    return hmac.compare_digest(code_hash(request_id, code), stored_hash)
