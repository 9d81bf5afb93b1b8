"""The door of the web host: no page or API without login, no change without the CSRF token.

One ASGI middleware in front of every route, so that no page can forget the checks:
- it finds the browser's session (signed cookie -> session row) and puts it in
  `scope["web_session"]`;
- without a session only the login, the setup link, the language switch and static files
  answer; pages redirect to the login, the JSON API answers 401;
- every request that is not GET/HEAD/OPTIONS must present the session's CSRF token (form field
  or `X-CSRF-Token` header; before login the pre-login cookie's token), else 403 and the
  request never reaches a handler;
- every answer carries headers that keep the pages out of frames and scripts from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from itsdangerous import Signer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.db import connect
from runtime.web import auth, csrf

PUBLIC_PREFIXES = ("/login", "/setup/", "/static/", "/lang/")

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


class LoginGate:
    """ASGI middleware: session lookup, login requirement, CSRF check, security headers."""

    def __init__(self, app: ASGIApp, data_dir: Path, signer: Callable[[], Signer]) -> None:
        self.app = app
        self.data_dir = data_dir
        self.signer = signer

    def _session(self, cookie: str | None) -> auth.WebSession | None:
        conn = connect(self.data_dir)
        try:
            return auth.find_session(conn, cookie, self.signer())
        finally:
            conn.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        request = Request(scope)
        path = scope["path"]
        session = await run_in_threadpool(self._session, request.cookies.get(auth.SESSION_COOKIE))
        scope["web_session"] = session

        if session is None and not is_public(path):
            await self._refuse_login(request)(scope, receive, send_with_headers)
            return

        if scope["method"] in csrf.SAFE_METHODS:
            await self.app(scope, receive, send_with_headers)
            return

        if session is not None:
            expected: str | None = session.csrf_token
        else:
            expected = csrf.prelogin_token(request, self.signer())
        if request.headers.get(csrf.HEADER) is not None:
            # A header cannot be set by a form on another site: no need to read the body.
            if expected is not None and auth.tokens_equal(request.headers[csrf.HEADER], expected):
                await self.app(scope, receive, send_with_headers)
            else:
                await _csrf_refusal(path)(scope, receive, send_with_headers)
            return
        try:
            body = await csrf.read_body(receive)
        except csrf.BodyTooLarge:
            response = PlainTextResponse("The upload is larger than 64 MB.", status_code=413)
            await response(scope, receive, send_with_headers)
            return
        given = await csrf.presented_token(scope, body)
        if expected is None or not auth.tokens_equal(given, expected):
            await _csrf_refusal(path)(scope, receive, send_with_headers)
            return
        await self.app(scope, csrf.replay(body), send_with_headers)

    @staticmethod
    def _refuse_login(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/api/"):
            return JSONResponse({"error": "Login required."}, status_code=401)
        if request.method in csrf.SAFE_METHODS:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return PlainTextResponse("Login required.", status_code=401)


def _csrf_refusal(path: str) -> Response:
    message = "The request's CSRF token is missing or wrong; reload the page and try again."
    if path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=403)
    return PlainTextResponse(message, status_code=403)
