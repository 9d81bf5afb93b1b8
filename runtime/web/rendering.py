"""Rendering the pages: the jinja2 environment and what every template gets.

Every page gets `t` (the UI text in the request's language), `lang`, `when` and `day` (times
and dates in that language, times in local time), the session's CSRF token
`csrf` (forms put it in a hidden field), `user`, and the current path for the navigation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from runtime.web import i18n

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
        "when": lambda value: i18n.format_time(value, lang),
        "day": lambda value: i18n.format_date(value, lang),
        "csrf": session.csrf_token if session is not None else "",
        "user": session.username if session is not None else None,
        "path": request.url.path,
        "notice": None,
        "error": None,
        "refusal": None,
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """The page `name` rendered with the common context plus `context`."""
    full = page_context(request)
    full.update(context or {})
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    return response
