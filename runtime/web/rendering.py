"""Rendering the pages: the jinja2 environment and what every template gets.

Every page gets `t` (the UI text in the request's language), `lang`, `when` and `day` (times
and dates in that language, times in local time), the session's CSRF token
`csrf` (forms put it in a hidden field), `user`, and the current path for the navigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.templating import Jinja2Templates

from runtime.web import dates, i18n

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")

# Our templates end in .html.j2, which select_autoescape() would not escape: escape everything.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_env)


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use, for this request."""
    lang = i18n.language(request)
    session = request.scope.get("web_session")
    return {
        "lang": lang,
        "t": lambda key: i18n.text(key, lang),
        "localized": lambda mapping: i18n.localized(mapping, lang),
        "when": lambda value: dates.format_time(value, lang),
        "day": lambda value: dates.format_date(value, lang),
        "csrf": session.csrf_token if session is not None else "",
        "user": session.username if session is not None else None,
        "path": request.url.path,
        "notice": None,
        "error": None,
        "refusal": None,
        "back": None,
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """The page `name` rendered with the common context plus `context`."""
    full = page_context(request)
    full.update(context or {})
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    return response


class PageNotFound(HTTPException):
    """A 404 whose message is an i18n text: `PageNotFound("error.no_module", id="x")`."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(404, key)
        self.key = key
        self.params = params


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def error_message(request: Request, status: int, exc: HTTPException | None = None) -> str:
    """The sentence an error page shows, in the page's language."""
    lang = i18n.language(request)
    path = request.url.path
    if isinstance(exc, PageNotFound):
        return i18n.text(exc.key, lang).format(**exc.params)
    if exc is not None and exc.detail and exc.detail != HTTPStatus(status).phrase:
        return str(exc.detail)  # a handler's own sentence
    if status == 405:
        allowed = (exc.headers or {}).get("Allow", "") if exc is not None else ""
        return i18n.text("error.405", lang).format(
            method=request.method, path=path, allowed=allowed or "-"
        )
    if status == 413:
        limit = request.scope.get("body_limit", 0)
        return i18n.text("error.413", lang).format(limit=_size(int(limit)), path=path)
    if status == 404:
        return i18n.text("error.404", lang).format(path=path)
    if status >= 500:
        return i18n.text("error.500", lang)
    return HTTPStatus(status).phrase


def error_response(
    request: Request,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error answer: JSON `{"error": ...}` under /api/, else the error page (never raises)."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    try:
        response: Response = render(
            request, "error.html.j2", {"message": message, "back": "/"}, status
        )
    except Exception:  # the error page itself must not turn a 4xx into a 500
        response = PlainTextResponse(message, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
