"""The JSON body of an HTTP request to the host's API, the web page's API or the licence service.

One reader, so that every JSON endpoint refuses a body that is not one JSON object with the
same sentence (the caller answers it with HTTP 400), never a traceback.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from runtime.errors import Refused


async def json_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object; Refused ("request body: ...") when it is not JSON
    or not an object."""
    try:
        body = await request.json()
    except ValueError:  # (a UnicodeDecodeError is one too)
        raise Refused("request body: not JSON") from None
    if not isinstance(body, dict):
        raise Refused("request body: a JSON object is expected")
    return body
