"""The call tester: route one call through the running host and explain each instance's rule."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from breakthrough.errors import ConfigError
from runtime.errors import Refused
from runtime.modules import store
from runtime.web import i18n
from runtime.web.breakthroughs import BreakthroughRecorder
from runtime.web.pages.base import HostLink, PageArea, form_text, page_language
from runtime.web.rendering import render


class CallTesterPages(PageArea):
    """The call tester page; each tested call that broke through is recorded."""

    def __init__(self, data_dir: Path, host: HostLink, recorder: BreakthroughRecorder) -> None:
        super().__init__(data_dir, host)
        self.recorder = recorder

    def routes(self) -> list[Route]:
        return [Route("/call", self.page, methods=["GET", "POST"])]

    def _explain(self, caller: str, called: str) -> list[tuple[str, str, bool, str]]:
        """Per instance of each runnable module: (module, instance, match, the rule's reasons).

        The rule engine's explanation of `sfm rules check`, with the loaded PBX's number plan.
        """
        from breakthrough.config import parse_instance
        from breakthrough.numbers import DEFAULT_PLAN, NumberPlan
        from breakthrough.rules import compile_instance, decide

        plan = DEFAULT_PLAN
        pbx_file = self.data_dir / "pbx.toml"
        if pbx_file.is_file():
            try:
                document = tomllib.loads(pbx_file.read_text(encoding="utf-8"))
                plan = NumberPlan.from_mapping(document.get("pbx"), str(pbx_file))
            except (tomllib.TOMLDecodeError, ConfigError, UnicodeDecodeError):
                plan = DEFAULT_PLAN
        explained = []
        with self.db() as conn:
            modules = {m.id: m for m in store.list_modules(conn)}
            for instance in store.list_instances(conn):
                module = modules.get(instance.module_id)
                if module is None or not module.current.runnable:
                    continue
                try:
                    cfg = parse_instance(instance.config, f"instance {instance.name!r}")
                    decision = decide(compile_instance(cfg, plan), called, caller)
                except ConfigError as exc:
                    explained.append((module.name, instance.name, False, str(exc)))
                    continue
                explained.append((module.name, instance.name, decision.match, decision.explanation))
        return explained

    def _test_call(self, caller: str, called: str) -> dict[str, Any]:
        result = self.host.route(caller, called)
        self.recorder.record(result, caller, called, "call test")
        return result

    async def page(self, request: Request) -> Response:
        lang = page_language(request)
        context: dict[str, Any] = {"caller": "", "called": "", "result": None, "explained": []}
        context["directory"] = await self.run(self._directory)
        context["names"] = {
            str(u.get("id")): str(u.get("name") or u.get("id")) for u in context["directory"]
        }
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
            context["result"] = await self.run(self._test_call, caller, called)
        except Refused as exc:
            context["error"] = str(exc)
            return render(request, "call.html.j2", context, 400)
        context["explained"] = await self.run(self._explain, caller, called)
        context["no_phone"] = await self.run(self._without_phone, context["result"])
        return render(request, "call.html.j2", context)

    def _without_phone(self, result: dict[str, Any]) -> list[str]:
        """The rung users without a registered phone (only when the host takes SIP calls)."""
        from runtime.web.pages.phones import registered_aors

        aors = registered_aors(self.data_dir)
        if aors is None:
            return []
        first = {
            str(u.get("id")): str((u.get("numbers") or [""])[0]) for u in self._directory()
        }
        return [uid for uid in result.get("rings") or [] if first.get(str(uid)) not in aors]

    def _directory(self) -> list[dict[str, Any]]:
        """The loaded PBX directory's users, for the call tester's overview."""
        pbx_file = self.data_dir / "pbx.toml"
        if not pbx_file.is_file():
            return []
        try:
            document = tomllib.loads(pbx_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return []
        users = document.get("users", [])
        return [u for u in users if isinstance(u, dict)]
