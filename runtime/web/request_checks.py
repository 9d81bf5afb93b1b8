"""The checks every request to the web host passes: no page or API without login, no
change without the CSRF token.

One ASGI middleware in front of every route, so that no page can forget the checks:
- it finds who is asking: an API token (`Authorization: Bearer <token>`), else the browser's
  session (signed cookie -> session row), and puts it in `scope["web_session"]`;
- without either only the login, the setup link, the language switch and static files
  answer; pages redirect to the login, the JSON API answers 401;
- GET and HEAD read; HEAD is answered exactly as GET (its body is never read), so no handler
  can take it for a change. OPTIONS is answered 405 here (there is no CORS). Every other
  method, known or not, must present the session's CSRF token (form field or `X-CSRF-Token`
  header; before login the pre-login cookie's token) or come with an API token, else 403 and
  the request never reaches a handler;
- every request body has a cap (an .sfm upload's, else MAX_REQUEST_BYTES), enforced as the body
  streams in: a larger body is refused with 413 after at most the cap was read;
- every answer carries headers that keep the pages out of frames and scripts from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from itsdangerous import Signer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.db import connect
from runtime.modules.upload_checks import DEFAULT_LIMITS
from runtime.web import auth, csrf, i18n
from runtime.web.rendering import error_message, error_response

PUBLIC_PREFIXES = ("/login", "/setup/", "/static/", "/lang/")
# Paths that take a module upload (.sfm): the archive's cap plus room for the multipart frame.
UPLOAD_PATHS = frozenset({"/modules/upload", "/api/modules"})
MAX_UPLOAD_REQUEST_BYTES = DEFAULT_LIMITS.max_file_bytes + 1024 * 1024
# Every other body: forms, JSON, licence files. Far above any real one (names, descriptions
# and patterns have their own, smaller caps), far below what would strain the host.
MAX_REQUEST_BYTES = 2 * 1024 * 1024

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # The setup link carries its token in the path: never pass it on as a referrer.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def is_public(path: str) -> bool:
    """Paths that answer without login."""
    return path == "/login" or path.startswith(PUBLIC_PREFIXES)


def body_limit(path: str) -> int:
    """The largest request body `path` accepts, in bytes."""
    return MAX_UPLOAD_REQUEST_BYTES if path in UPLOAD_PATHS else MAX_REQUEST_BYTES


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def capped(receive: Receive, limit: int) -> Receive:
    """`receive` that raises HTTP 413 once more than `limit` body bytes have arrived."""
    size = 0

    async def guarded() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise HTTPException(413)
        return message

    return guarded


def without_body(receive: Receive) -> Receive:
    """`receive` whose body is empty; later calls wait on the real one (for the disconnect)."""
    given = False

    async def empty() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:  # the body's rest, if any, is dropped unread
            message = await receive()
            if message["type"] != "http.request":
                return message

    return empty


class RequestChecks:
    """ASGI middleware: who is asking, login requirement, CSRF check, body caps, headers."""

    def __init__(self, app: ASGIApp, data_dir: Path, signer: Callable[[], Signer]) -> None:
        self.app = app
        self.data_dir = data_dir
        self.signer = signer

    def _session(self, cookie: str | None, bearer: str | None) -> auth.WebSession | None:
        conn = connect(self.data_dir)
        try:
            if bearer is not None:
                return auth.find_api_token(conn, bearer)
            return auth.find_session(conn, cookie, self.signer())
        finally:
            conn.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"].upper()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            elif method == "HEAD" and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        path = scope["path"]
        limit = body_limit(path)
        scope["body_limit"] = limit
        request = Request(scope)
        bearer = _bearer(request)
        if bearer == "":
            await self._answer(
                scope, receive, request, 401, "API token: say `Bearer <token>`.", send
            )
            return
        session = await run_in_threadpool(
            self._session, request.cookies.get(auth.SESSION_COOKIE), bearer
        )
        scope["web_session"] = session
        if bearer is not None and session is None:
            await self._answer(scope, receive, request, 401, "API token: unknown or revoked.", send)
            return

        if session is None and not is_public(path):
            await self._refuse_login(request)(scope, receive, send_with_headers)
            return

        if method in csrf.READ_METHODS:
            # HEAD runs as GET for the app (the server still sends no body): a handler that
            # branches on `method == "GET"` can never take a HEAD for a form submission.
            read_scope = {**scope, "method": "GET"}
            await self.app(read_scope, without_body(receive), send_with_headers)
            return
        if method == "OPTIONS":
            response = error_response(
                request,
                405,
                error_message(request, 405, HTTPException(405, headers={"Allow": "GET, POST"})),
                {"allow": "GET, HEAD, POST"},
            )
            await response(scope, receive, send_with_headers)
            return

        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._answer(scope, receive, request, 413, error_message(request, 413), send)
            return

        if session is not None and session.by_token:
            await self.app(scope, capped(receive, limit), send_with_headers)
            return
        if session is not None:
            expected: str | None = session.csrf_token
        else:
            expected = csrf.prelogin_token(request, self.signer())
        lang = i18n.language(request)
        if request.headers.get(csrf.HEADER) is not None:
            # A header cannot be set by a form on another site: no need to read the body.
            if expected is not None and auth.tokens_equal(request.headers[csrf.HEADER], expected):
                await self.app(scope, capped(receive, limit), send_with_headers)
            else:
                await self._answer(
                    scope, receive, request, 403, i18n.text("error.csrf", lang), send
                )
            return
        try:
            body = await csrf.read_body(receive, limit)
        except csrf.BodyTooLarge:
            await self._answer(scope, receive, request, 413, error_message(request, 413), send)
            return
        try:
            given = await csrf.presented_token(scope, body)
            if expected is None or not auth.tokens_equal(given, expected):
                await self._answer(
                    scope, receive, request, 403, i18n.text("error.csrf", lang), send
                )
                return
            await self.app(scope, csrf.replay(body), send_with_headers)
        finally:
            body.close()

    @staticmethod
    async def _answer(
        scope: Scope, receive: Receive, request: Request, status: int, message: str, send: Send
    ) -> None:
        async def with_headers(message_out: Message) -> None:
            if message_out["type"] == "http.response.start":
                headers = MutableHeaders(scope=message_out)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if status == 413:
                    headers["connection"] = "close"  # the rest of the body is not read
            await send(message_out)

        response = error_response(request, status, message)
        await response(scope, without_body(receive), with_headers)

    @staticmethod
    def _refuse_login(request: Request) -> Response:
        path = request.url.path
        lang = i18n.language(request)
        if request.method in csrf.READ_METHODS:
            if path.startswith("/api/"):
                return error_response(request, 401, i18n.text("error.login", lang))
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return error_response(request, 401, i18n.text("error.login", lang))


def _bearer(request: Request) -> str | None:
    """The API token of an `Authorization: Bearer` header; "" if the header is malformed."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()
