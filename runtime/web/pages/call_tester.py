"""The call tester: route one call through the running host, show what changed it and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.errors import Refused
from runtime.pbx_directory import PbxDirectory, load_stored_directory
from runtime.web import i18n, messages
from runtime.web.interventions import InterventionRecorder
from runtime.web.pages.base import HostLink, PageArea, form_text, page_language
from runtime.web.rendering import render


class CallTesterPages(PageArea):
    """The call tester page; each tested call that an instance changed is recorded."""

    def __init__(self, data_dir: Path, host: HostLink, recorder: InterventionRecorder) -> None:
        super().__init__(data_dir, host)
        self.recorder = recorder

    def routes(self) -> list[Route]:
        return [Route("/call", self.page, methods=["GET", "POST"])]

    def _directory(self) -> PbxDirectory | None:
        """The loaded PBX directory (users and groups), None when none is loaded."""
        try:
            return load_stored_directory(self.data_dir)
        except Refused:
            return None

    def _explain(self, caller: str, called: str, lang: str) -> list[Any]:
        """Per instance of each runnable module: (module, instance, match, the module's
        reasons), from the installed build's own code, with the loaded PBX's number plan."""
        from runtime.modules import instances

        return instances.explain_call(self.data_dir, caller, called, lang)

    def _test_call(self, caller: str, called: str) -> dict[str, Any]:
        result = self.host.route(caller, called)
        self.recorder.record(result, caller, called, "call test")
        return result

    async def page(self, request: Request) -> Response:
        lang = page_language(request)
        directory = await self.run(self._directory)
        context: dict[str, Any] = {
            "caller": "",
            "called": "",
            "result": None,
            "explained": [],
            "directory": directory,
            "names": {},
        }
        if directory is not None:
            context["names"] = {u.id: u.name or u.id for u in directory.users}
        if request.method == "GET":
            return render(request, "call.html.j2", context)
        form_data = await request.form()
        caller = form_text(form_data, "from")
        called = form_text(form_data, "to")
        context.update(caller=caller, called=called)
        if not called or not caller:
            context["error"] = i18n.text("call.missing", lang)
            return render(request, "call.html.j2", context, 400)
        try:
            result = await self.run(self._test_call, caller, called)
        except Refused as exc:
            context["refusal"] = messages.localize(str(exc), lang, "call")
            return render(request, "call.html.j2", context, 400)
        changed = {entry["instance"] for entry in result.get("changed", ())}
        context["result"] = result
        context["matched_only"] = [a for a in result["applied"] if a["instance"] not in changed]
        context["explained"] = await self.run(self._explain, caller, called, lang)
        context["no_phone"] = await self.run(self._without_phone, result, directory)
        return render(request, "call.html.j2", context)

    def _without_phone(
        self, result: dict[str, Any], directory: PbxDirectory | None
    ) -> list[str]:
        """The rung users without a registered phone (only when the host takes SIP calls)."""
        from runtime.web.pages.phones import registered_aors

        aors = registered_aors(self.data_dir)
        if aors is None or directory is None:
            return []
        first = {user.id: user.numbers[0] if user.numbers else "" for user in directory.users}
        return [uid for uid in result.get("rings") or [] if first.get(str(uid)) not in aors]
