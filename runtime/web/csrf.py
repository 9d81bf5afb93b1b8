"""CSRF tokens: every form carries one, and every request that changes something must present it.

A logged-in session has one token (stored with the session). Forms send it as the field
`csrf_token`; scripts and the JSON API send it in the header `X-CSRF-Token`. Before login there
is no session, so the login and setup forms use a double-submit token: a random value in a
signed cookie that the form must repeat.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from itsdangerous import BadSignature, Signer
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRELOGIN_COOKIE = "sfm_prelogin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Uploads (.sfm files, licences) are read whole before the token is checked; past this the
# request is refused rather than buffered.
MAX_BODY = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    """The request body is larger than MAX_BODY."""


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


async def read_body(receive: Receive) -> bytes:
    """The whole request body; BodyTooLarge past MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    """A `receive` that hands the buffered body to the app as if it came fresh."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def presented_token(scope: Scope, body: bytes) -> str | None:
    """The CSRF token a request presents: the header, else the form field, else None."""
    request = Request(scope, replay(body))
    header = request.headers.get(HEADER)
    if header is not None:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        return None
    form = await request.form()
    try:
        value = form.get(FORM_FIELD)
        return value if isinstance(value, str) else None
    finally:
        for item in form.values():
            if isinstance(item, UploadFile):
                await item.close()
