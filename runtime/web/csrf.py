"""CSRF tokens: every form carries one, and every request that changes something must present it.

A logged-in session has one token (stored with the session); a request with an API token
(`Authorization: Bearer ...`) carries no cookie, so it cannot be forged cross-site and needs
none. Forms send it as the field
`csrf_token`; scripts and the JSON API send it in the header `X-CSRF-Token`. Before login there
is no session, so the login and setup forms use a double-submit token: a random value in a
signed cookie that the form must repeat.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from tempfile import SpooledTemporaryFile

from itsdangerous import BadSignature, Signer
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRELOGIN_COOKIE = "sfm_prelogin"
# Reads: they change nothing, whatever their body (HEAD is answered as GET, its body unread).
READ_METHODS = frozenset({"GET", "HEAD"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A body is kept in memory up to this size while its form token is looked for, then on disk.
SPOOL_BYTES = 1024 * 1024
CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The request body is larger than its path's cap."""


def new_prelogin_token() -> str:
    """A fresh random token for the login and setup forms."""
    return secrets.token_urlsafe(32)


def prelogin_token(request: Request, signer: Signer) -> str | None:
    """The token of the signed pre-login cookie, or None if absent or forged."""
    cookie = request.cookies.get(PRELOGIN_COOKIE)
    if not cookie:
        return None
    try:
        return signer.unsign(cookie).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None


async def read_body(receive: Receive, limit: int) -> SpooledTemporaryFile[bytes]:
    """The whole request body, spooled to disk past SPOOL_BYTES; BodyTooLarge past `limit`.

    The size is checked as the body arrives, so a huge body is refused after `limit` bytes
    without ever being held whole (in memory or on disk).
    """
    # Closed by the caller once the request is answered (or here, if refused).
    body: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            body.write(chunk)
            if not message.get("more_body", False):
                break
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return body


def replay(body: SpooledTemporaryFile[bytes]) -> Callable[[], Awaitable[Message]]:
    """A `receive` that hands the spooled body to the app in chunks, as if it came fresh."""
    body.seek(0)
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        chunk = body.read(CHUNK)
        more = len(chunk) == CHUNK
        if not more:
            done = True
        return {"type": "http.request", "body": chunk, "more_body": more}

    return receive


async def presented_token(scope: Scope, body: SpooledTemporaryFile[bytes]) -> str | None:
    """The CSRF token a request presents: the header, else the form field, else None."""
    request = Request(scope, replay(body))
    header = request.headers.get(HEADER)
    if header is not None:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        return None
    try:
        form = await request.form()
    except Exception:  # not a readable form: it presents no token (refused as such)
        return None
    try:
        value = form.get(FORM_FIELD)
        return value if isinstance(value, str) else None
    finally:
        for item in form.values():
            if isinstance(item, UploadFile):
                await item.close()
