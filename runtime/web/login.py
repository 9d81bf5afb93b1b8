"""The pages that answer without login: login, logout, the one-time setup link, language switch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from itsdangerous import Signer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from runtime.db import connect
from runtime.errors import Refused
from runtime.web import auth, csrf, i18n
from runtime.web.rendering import render


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The address the login throttle counts for.

    The socket's peer, unless that peer is a configured reverse proxy (`sfm serve
    --trusted-proxy`): then the nearest address in X-Forwarded-For that is not itself a trusted
    proxy. With no proxy configured (the default) the header is ignored, so a client cannot
    pick a fresh address per guess.
    """
    peer = request.client.host if request.client else "?"
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer


def _secure(request: Request) -> bool:
    """True when the browser talks https: directly, or through a TLS-terminating proxy that
    says so in X-Forwarded-Proto. Believed from anyone (uvicorn's proxy headers are off): it
    can only make cookies Secure, which a forger would do to its own cookies alone."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """A cookie scripts cannot read, never sent cross-site, https-only when served over https."""
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )


def _safe_next(target: str | None) -> str:
    # Only local paths: a login link must not send the admin to another site afterwards.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class LoginPages:
    """Endpoints of login, logout, setup and language; bound to one data folder."""

    def __init__(
        self,
        data_dir: Path,
        signer: Callable[[], Signer],
        trusted_proxies: frozenset[str] = frozenset(),
    ) -> None:
        self.data_dir = data_dir
        self.signer = signer
        self.trusted_proxies = trusted_proxies

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/setup/{token}", self.setup_form, methods=["GET"]),
            Route("/setup/{token}", self.setup, methods=["POST"]),
            Route("/lang/{code}", self.switch_language, methods=["GET"]),
        ]

    def _with_prelogin(self, request: Request, response: Response, token: str) -> Response:
        set_cookie(response, request, csrf.PRELOGIN_COOKIE, self.signer().sign(token).decode())
        return response

    def _prelogin_page(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        token = csrf.prelogin_token(request, self.signer()) or csrf.new_prelogin_token()
        response = render(request, name, {**context, "csrf": token}, status_code)
        return self._with_prelogin(request, response, token)

    async def login_form(self, request: Request) -> Response:
        if request.scope.get("web_session") is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        has_admin = await run_in_threadpool(self._admin_exists)
        notice = None
        if request.query_params.get("bye"):
            notice = i18n.text("login.logged_out", i18n.language(request))
        return self._prelogin_page(
            request,
            "login.html.j2",
            {
                "next": _safe_next(request.query_params.get("next")),
                "has_admin": has_admin,
                "notice": notice,
            },
        )

    def _admin_exists(self) -> bool:
        conn = connect(self.data_dir)
        try:
            return auth.admin_exists(conn)
        finally:
            conn.close()

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "/")))
        client = client_address(request, self.trusted_proxies)
        lang = i18n.language(request)
        outcome = await run_in_threadpool(self._check_and_start, client, username, password)
        if isinstance(outcome, auth.Throttled):
            message = i18n.text("login.throttled", lang).format(seconds=outcome.retry_after)
            response = self._prelogin_page(
                request,
                "login.html.j2",
                {"next": target, "has_admin": True, "error": message},
                429,
            )
            response.headers["retry-after"] = str(outcome.retry_after)
            return response
        if outcome is None:
            return self._prelogin_page(
                request,
                "login.html.j2",
                {"next": target, "has_admin": True, "error": i18n.text("login.wrong", lang)},
                401,
            )
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, request, auth.SESSION_COOKIE, outcome)
        response.delete_cookie(csrf.PRELOGIN_COOKIE, path="/")
        return response

    def _check_and_start(
        self, client: str, username: str, password: str
    ) -> str | auth.Throttled | None:
        """The session cookie, Throttled, or None for a wrong user name or password."""
        conn = connect(self.data_dir)
        try:
            attempt = auth.begin_login_attempt(conn, client)
            if isinstance(attempt, auth.Throttled):
                return attempt
            user_id = auth.check_login(conn, username, password)
            auth.end_login_attempt(conn, attempt, client, ok=user_id is not None)
            if user_id is None:
                return None
            return auth.start_session(conn, user_id, self.signer())
        finally:
            conn.close()

    async def logout(self, request: Request) -> Response:
        session = request.scope.get("web_session")
        if session is not None:
            await run_in_threadpool(self._end, session.id_hash)
        response = RedirectResponse("/login?bye=1", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    def _end(self, id_hash: str) -> None:
        conn = connect(self.data_dir)
        try:
            auth.end_session(conn, id_hash)
        finally:
            conn.close()

    async def setup_form(self, request: Request) -> Response:
        token = request.path_params["token"]
        valid = await run_in_threadpool(self._token_valid, token)
        return self._prelogin_page(
            request, "setup.html.j2", {"valid": valid, "token": token}, 200 if valid else 404
        )

    def _token_valid(self, token: str) -> bool:
        conn = connect(self.data_dir)
        try:
            return auth.setup_token_valid(conn, token)
        finally:
            conn.close()

    async def setup(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = await request.form()
        password = str(form.get("password", ""))
        repeated = str(form.get("repeat", ""))
        lang = i18n.language(request)
        if len(password) < auth.MIN_PASSWORD_LENGTH:
            problem: str | None = "setup.too_short"
        elif password != repeated:
            problem = "setup.differ"
        else:
            problem = None
        cookie = None
        if problem is None:
            try:
                cookie = await run_in_threadpool(self._set_password, token, password, repeated)
            except Refused:
                problem = "setup.invalid"
        if cookie is None:
            valid = await run_in_threadpool(self._token_valid, token)
            return self._prelogin_page(
                request,
                "setup.html.j2",
                {"valid": valid, "token": token, "error": i18n.text(problem or "", lang)},
                400 if valid else 404,
            )
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, request, auth.SESSION_COOKIE, cookie)
        response.delete_cookie(csrf.PRELOGIN_COOKIE, path="/")
        return response

    def _set_password(self, token: str, password: str, repeated: str) -> str:
        conn = connect(self.data_dir)
        try:
            user_id = auth.set_admin_password(conn, token, password, repeated)
            return auth.start_session(conn, user_id, self.signer())
        finally:
            conn.close()

    async def switch_language(self, request: Request) -> Response:
        code = request.path_params["code"]
        response = RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        if code in i18n.LANGUAGES:
            # A preference, not a secret: readable cookie is fine, but keep it same-site.
            response.set_cookie(
                i18n.LANG_COOKIE,
                code,
                samesite="strict",
                secure=_secure(request),
                path="/",
                max_age=365 * 24 * 3600,
            )
        return response
