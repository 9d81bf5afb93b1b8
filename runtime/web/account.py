"""The admin's account page: change the password (every other session ends) and API tokens."""

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
from runtime.web import auth, i18n
from runtime.web.login import set_cookie
from runtime.web.rendering import render


class AccountPages:
    """/account: password change and API tokens; behind the login check like every page."""

    def __init__(self, data_dir: Path, signer: Callable[[], Signer]) -> None:
        self.data_dir = data_dir
        self.signer = signer

    def routes(self) -> list[Route]:
        return [
            Route("/account", self.page, methods=["GET"]),
            Route("/account/password", self.change_password, methods=["POST"]),
            Route("/account/tokens", self.create_token, methods=["POST"]),
            Route("/account/tokens/revoke", self.revoke_token, methods=["POST"]),
        ]

    def _tokens(self) -> list[auth.ApiToken]:
        conn = connect(self.data_dir)
        try:
            return auth.list_api_tokens(conn)
        finally:
            conn.close()

    async def _page(
        self, request: Request, status: int = 200, **context: Any
    ) -> Response:
        tokens = await run_in_threadpool(self._tokens)
        full: dict[str, Any] = {"tokens": tokens, "new_token": None, **context}
        return render(request, "account.html.j2", full, status)

    async def page(self, request: Request) -> Response:
        notice = None
        if request.query_params.get("done") == "password":
            notice = i18n.text("account.changed", i18n.language(request))
        elif request.query_params.get("done") == "revoked":
            notice = i18n.text("account.token_revoked", i18n.language(request))
        return await self._page(request, notice=notice)

    async def change_password(self, request: Request) -> Response:
        session = request.scope["web_session"]
        form = await request.form()

        def work() -> str:
            conn = connect(self.data_dir)
            try:
                auth.change_password(
                    conn,
                    session.user_id,
                    str(form.get("current", "")),
                    str(form.get("password", "")),
                    str(form.get("repeat", "")),
                )
                # Every session ended, this one too: the browser that changed it goes on.
                return auth.start_session(conn, session.user_id, self.signer())
            finally:
                conn.close()

        if session.by_token:
            return await self._page(request, 403, error="password: not with an API token.")
        try:
            cookie = await run_in_threadpool(work)
        except Refused as exc:
            return await self._page(request, 400, error=str(exc))
        response = RedirectResponse("/account?done=password", status_code=303)
        set_cookie(response, request, auth.SESSION_COOKIE, cookie)
        return response

    async def create_token(self, request: Request) -> Response:
        form = await request.form()

        def work() -> str:
            conn = connect(self.data_dir)
            try:
                return auth.create_api_token(conn, str(form.get("name", "")))
            finally:
                conn.close()

        try:
            token = await run_in_threadpool(work)
        except Refused as exc:
            return await self._page(request, 400, error=str(exc))
        return await self._page(request, new_token=token)

    async def revoke_token(self, request: Request) -> Response:
        form = await request.form()

        def work() -> None:
            conn = connect(self.data_dir)
            try:
                auth.revoke_api_token(conn, str(form.get("name", "")))
            finally:
                conn.close()

        try:
            await run_in_threadpool(work)
        except Refused as exc:
            return await self._page(request, 400, error=str(exc))
        return RedirectResponse("/account?done=revoked", status_code=303)
