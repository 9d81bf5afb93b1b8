"""The phones page: the PBX's users with their live DND and redirects (switchable here), the
registered phones and the calls in progress (with `sfm serve --sip`); and its JSON API:

- `GET /api/pbx/users`: every user's live state (`runtime.pbx_live.user_document`);
- `POST /api/pbx/users/{id}` with `{"dnd": true|false, "redirects": {"always": "202"|"off"|"on",
  "busy": "voicemail", "timeout": "0301234:25"}}`: changes it, effective on the next call;
- `GET /api/sip`: `{"running", "registrations": [{aor, contact, expires, user_agent}],
  "calls": [{call_id, caller, called, users, since}]}`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from runtime.errors import Refused
from runtime.json_request import json_object
from runtime.pbx_live import (
    UserChange,
    live_directory,
    parse_redirect,
    set_user_state,
    user_document,
)
from runtime.web import i18n
from runtime.web.pages.base import PageArea, form_text
from runtime.web.rendering import render

TEXTS = {
    "nav.phones": {"de": "Telefone", "en": "Phones"},
    "phones.title": {"de": "Telefone und Anrufe", "en": "Phones and calls"},
    "phones.intro": {
        "de": "Ruhe und Rufumleitungen der Benutzer gelten ab dem nächsten Anruf.",
        "en": "The users' DND and redirects take effect on the next call.",
    },
    "phones.users": {"de": "Benutzer", "en": "Users"},
    "phones.registered": {"de": "Angemeldete Telefone", "en": "Registered phones"},
    "phones.none_registered": {"de": "Kein Telefon angemeldet.", "en": "No phone registered."},
    "phones.calls": {"de": "Laufende Gespräche", "en": "Calls in progress"},
    "phones.no_calls": {"de": "Kein Gespräch.", "en": "No call."},
    "phones.no_sip": {
        "de": "Der Host nimmt keine SIP-Anrufe an: SIP wurde beim Start des Servers nicht "
        "eingeschaltet.",
        "en": "The host takes no SIP calls: SIP was not switched on when the server started.",
    },
    "phones.save": {"de": "Speichern", "en": "Save"},
    "phones.always": {"de": "Immer umleiten nach", "en": "Always forward to"},
    "phones.saved": {
        "de": "Gespeichert; gilt ab dem nächsten Anruf.",
        "en": "Saved; takes effect on the next call.",
    },  # fmt: skip
    "call.no_phone": {
        "de": "Kein angemeldetes Telefon für: {users}. Ein echter Anruf klingelt dort nicht.",
        "en": "No registered phone for: {users}. A real call would ring nowhere there.",
    },
}
i18n.TEXTS.update(TEXTS)


def registered_aors(data_dir: Any) -> set[str] | None:
    """The registration names (users' first numbers) with a phone now; None without SIP."""
    from runtime.sip.front import running_front

    front = running_front(data_dir)
    if front is None:
        return None
    return {r.aor for r in front.registrations()}


class PhonePages(PageArea):
    def routes(self) -> list[Route]:
        return [
            Route("/phones", self.page, methods=["GET"]),
            Route("/phones/{user_id}", self.change, methods=["POST"]),
        ]

    def api_routes(self) -> list[Route]:
        return [
            Route("/api/pbx/users", self.api_users, methods=["GET"]),
            Route("/api/pbx/users/{user_id}", self.api_change, methods=["POST"]),
            Route("/api/sip", self.api_sip, methods=["GET"]),
        ]

    # ---- work (thread pool) -------------------------------------------------------------

    def _users(self) -> list[dict[str, Any]]:
        try:
            directory = live_directory(self.data_dir)
        except Refused:
            return []
        return [user_document(u) for u in directory.users]

    def _sip(self) -> dict[str, Any]:
        from runtime.sip.front import running_front

        front = running_front(self.data_dir)
        if front is None:
            return {"running": False, "registrations": [], "calls": []}
        return {
            "running": True,
            "registrations": [asdict(r) for r in front.registrations()],
            "calls": [asdict(c) for c in front.calls.snapshot()],
        }

    def _change(self, user_id: str, dnd: bool | None, redirects: dict[str, str]) -> dict[str, Any]:
        directory = live_directory(self.data_dir)
        user = directory.user(user_id)
        if user is None:
            raise Refused(f"user {user_id!r}: no such user in the PBX directory.")
        settings = tuple(parse_redirect(f"{k}={v}", user) for k, v in redirects.items())
        changed = set_user_state(self.data_dir, user_id, UserChange(dnd, settings))
        host = self.host.host
        reload = getattr(host, "reload_live_state", None)
        if reload is not None:
            reload()  # the next call sees it
        return user_document(changed)

    # ---- pages --------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        context = {
            "users": await self.run(self._users),
            "sip": await self.run(self._sip),
            "saved": request.query_params.get("done") == "saved",
        }
        return render(request, "phones.html.j2", context)

    async def change(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        form_data = await request.form()
        dnd = form_text(form_data, "dnd") == "on"
        always = form_text(form_data, "always")
        try:
            await self.run(self._change, user_id, dnd, {"always": always or "off"})
        except Refused as exc:
            context = {
                "users": await self.run(self._users),
                "sip": await self.run(self._sip),
                "error": str(exc),
                "saved": False,
            }
            return render(request, "phones.html.j2", context, 400)
        return RedirectResponse("/phones?done=saved", status_code=303)

    # ---- JSON ---------------------------------------------------------------------------

    async def api_users(self, request: Request) -> Response:
        return JSONResponse(await self.run(self._users))

    async def api_sip(self, request: Request) -> Response:
        return JSONResponse(await self.run(self._sip))

    async def api_change(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        try:
            body = await json_object(request)
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if set(body) - {"dnd", "redirects"}:
            return JSONResponse(
                {"error": 'send {"dnd": true|false, "redirects": {"always": "202"|"off"}}.'},
                status_code=400,
            )
        dnd = body.get("dnd")
        redirects = body.get("redirects") or {}
        if dnd is not None and not isinstance(dnd, bool):
            return JSONResponse({"error": "dnd must be true or false."}, status_code=400)
        if not isinstance(redirects, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in redirects.items()
        ):
            return JSONResponse(
                {"error": 'redirects must map a kind to a text ("202", "off", "on").'},
                status_code=400,
            )
        try:
            document = await self.run(self._change, user_id, dnd, redirects)
        except Refused as exc:
            status = 404 if "no such user" in str(exc) else 400
            return JSONResponse({"error": str(exc)}, status_code=status)
        return JSONResponse(document)
