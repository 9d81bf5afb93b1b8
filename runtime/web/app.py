"""The web host's ASGI application: pages, login, the JSON API, all behind one set of checks."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from itsdangerous import Signer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from runtime.db import connect
from runtime.web import auth
from runtime.web.account import AccountPages
from runtime.web.interventions import InterventionRecorder
from runtime.web.login import LoginPages
from runtime.web.pages import HostLink, RunningHost, api_routes, page_areas, page_routes
from runtime.web.rendering import STATIC_DIR, error_message, error_response
from runtime.web.request_checks import RequestChecks

log = logging.getLogger("sfm.serve")


def _api_routes(data_dir: Path, recorder: InterventionRecorder) -> list[BaseRoute]:
    """The module manager's JSON API (runtime.api), mounted behind our login and CSRF checks.

    Its test call (POST /api/call) is wrapped so that its interventions are recorded too.
    """
    try:
        from runtime.api import api_routes
    except ImportError:  # another engineer's part; the pages work without it
        log.warning("runtime.api is not available: no JSON API under /api/ except ours")
        return []
    routes: list[BaseRoute] = []
    for route in api_routes(data_dir):
        if route.path == "/api/call" and "POST" in (route.methods or ()):
            route = Route(route.path, _recording(route.endpoint, recorder), methods=["POST"])
        routes.append(route)
    return routes


def _recording(
    endpoint: Callable[[Request], Awaitable[Response]], recorder: InterventionRecorder
) -> Callable[[Request], Awaitable[Response]]:
    """The call-test endpoint, handing each answered call to the intervention recorder."""

    async def recorded(request: Request) -> Response:
        response = await endpoint(request)
        if response.status_code == 200 and isinstance(response, JSONResponse):
            body = await request.json()  # cached by Starlette: the endpoint read it already
            result = json.loads(bytes(response.body))
            recorder.record(
                result, str(body.get("from") or ""), str(body.get("to") or ""), "api call test"
            )
        return response

    return recorded


def create_app(
    data_dir: Path,
    *,
    host: RunningHost | None = None,
    start_host: bool = True,
    trusted_proxies: frozenset[str] = frozenset(),
) -> Starlette:
    """The `sfm serve` application for the PBX host state in `data_dir`.

    Every page and every /api/ route needs a login session, and every change needs the
    session's CSRF token (see runtime.web.request_checks). `host` is the running routing host
    (runtime.host.Host); without one it is loaded at startup when `start_host` is true.
    Interventions seen by the call tester are recorded by a writer thread off the call path.
    `trusted_proxies` are the reverse proxies whose X-Forwarded-For the login throttle believes
    (none by default). Errors answer in the page's language (JSON under /api/), never a 500
    for a request that only named something that does not exist.
    """
    data_dir = Path(data_dir)
    conn = connect(data_dir)
    try:
        secret = auth.secret_key(conn)
    finally:
        conn.close()

    @cache
    def signer() -> Signer:
        return Signer(secret, salt="sfm-web")

    recorder = InterventionRecorder(data_dir)
    host_link = HostLink(data_dir, host)
    areas = page_areas(data_dir, host_link, recorder)
    login = LoginPages(data_dir, signer, trusted_proxies)
    account = AccountPages(data_dir, signer)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        recorder.start()
        if start_host and host_link.host is None:
            host_link.start()
        try:
            yield
        finally:
            recorder.stop()
            host_link.stop()

    routes: list[BaseRoute] = [
        *login.routes(),
        *account.routes(),
        *page_routes(areas),
        *_api_routes(data_dir, recorder),
        *api_routes(areas),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = error_message(request, exc.status_code, exc)
        allow = (exc.headers or {}).get("Allow")
        headers = {"allow": allow} if allow else None
        return error_response(request, exc.status_code, message, headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, error_message(request, 500))

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestChecks, data_dir=data_dir, signer=signer)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.data_dir = data_dir
    app.state.host_link = host_link
    app.state.recorder = recorder
    return app


def setup_link(data_dir: Path, base_url: str) -> str | None:
    """The one-time link to set the admin password, while none is set; else None.

    Each call issues a new token, so only the link printed last works.
    """
    conn = connect(data_dir)
    try:
        token = auth.issue_setup_token(conn)
    finally:
        conn.close()
    return None if token is None else f"{base_url.rstrip('/')}/setup/{token}"
