"""The call tester: route one call through the running host, show what changed it and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from breakthrough.errors import ConfigError
from runtime.errors import Refused
from runtime.modules import store
from runtime.pbx_directory import PbxDirectory, load_stored_directory
from runtime.web import i18n, messages, rule_explanation
from runtime.web.breakthroughs import BreakthroughRecorder
from runtime.web.pages.base import HostLink, PageArea, form_text, page_language
from runtime.web.rendering import render


class CallTesterPages(PageArea):
    """The call tester page; each tested call that an instance changed is recorded."""

    def __init__(self, data_dir: Path, host: HostLink, recorder: BreakthroughRecorder) -> None:
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

    def _explain(
        self, caller: str, called: str, lang: str, directory: PbxDirectory | None
    ) -> list[tuple[str, str, bool, str]]:
        """Per instance of the Breakthrough rule engine: (module, instance, match, reasons).

        Instances of other modules (whose configuration is not a Breakthrough rule) are left
        out: the host's result says what they did.
        """
        from breakthrough.config import parse_instance
        from breakthrough.numbers import DEFAULT_PLAN, NumberPlan
        from breakthrough.rules import compile_instance

        plan = DEFAULT_PLAN
        if directory is not None:
            p = directory.plan
            plan = NumberPlan(
                p.country_code, p.area_code, p.international_prefix, p.national_prefix
            )
        explained = []
        with self.db() as conn:
            modules = {m.id: m for m in store.list_modules(conn)}
            for instance in store.list_instances(conn):
                module = modules.get(instance.module_id)
                if module is None or not module.current.runnable:
                    continue
                try:
                    cfg = parse_instance(instance.config, f"instance {instance.name!r}")
                except ConfigError:
                    continue  # not a Breakthrough rule
                try:
                    compiled = compile_instance(cfg, plan)
                    match, why = rule_explanation.explain(compiled, called, caller, lang)
                except ConfigError:
                    explained.append(
                        (module.name, instance.name, False, i18n.text("rule.bad_config", lang))
                    )
                    continue
                explained.append((module.name, instance.name, match, why))
        return explained

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
        context["explained"] = await self.run(self._explain, caller, called, lang, directory)
        return render(request, "call.html.j2", context)
