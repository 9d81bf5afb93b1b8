"""The instances area: the list, the form drawn from the module's descriptor (new and edit),
log, export, actions."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from runtime.errors import Refused
from runtime.modules import instance_log, instances, store
from runtime.web import i18n, instance_form, messages
from runtime.web.pages.base import PageArea, form_text, notice, page_language, safe_file_stem
from runtime.web.rendering import PageNotFound, render

# What the log box shows at most (the download has everything).
LOG_TAIL_BYTES = 256 * 1024


class InstancePages(PageArea):
    """Instances of the installed modules: list, form, log, export, (de)activate, delete."""

    def routes(self) -> list[Route]:
        return [
            Route("/instances", self.list_page, methods=["GET"]),
            Route("/instances/new", self.new, methods=["GET", "POST"]),
            Route("/instances/{instance_id:int}", self.edit, methods=["GET", "POST"]),
            Route("/instances/{instance_id:int}/log", self.log, methods=["GET"]),
            Route(
                "/instances/{instance_id:int}/log/download",
                self.log_download,
                methods=["GET"],
            ),
            Route("/instances/{instance_id:int}/export", self.export, methods=["GET"]),
            Route(
                "/instances/{instance_id:int}/{action:str}",
                self.action,
                methods=["POST"],
            ),
        ]

    def _instances(self) -> tuple[list[store.InstanceRow], dict[str, store.ModuleRow]]:
        with self.db() as conn:
            modules = {m.id: m for m in store.list_modules(conn)}
            return list(store.list_instances(conn)), modules

    async def list_page(self, request: Request) -> Response:
        rows, modules = await self.run(self._instances)
        return render(
            request,
            "instances.html.j2",
            {
                "instances": rows,
                "modules": modules,
                "runnable": [m for m in modules.values() if m.current.runnable],
                "notice": notice(request),
            },
        )

    def _instance(self, instance_id: int) -> tuple[store.InstanceRow, store.ModuleRow]:
        with self.db() as conn:
            instance = store.get_instance(conn, instance_id)
            module = None if instance is None else store.get_module(conn, instance.module_id)
            if instance is None or module is None:
                raise PageNotFound("error.no_instance", id=instance_id)
            return instance, module

    def _form_page(
        self,
        request: Request,
        *,
        the_form: instance_form.InstanceForm,
        module: store.ModuleRow,
        instance: store.InstanceRow | None,
        modules: list[store.ModuleRow],
        status_code: int = 200,
        error: str | None = None,
    ) -> Response:
        log_text = None
        if instance is not None:
            log_text = self._log_tail(instance.id)
        lang = page_language(request)
        for key, errors in the_form.errors.items():
            the_form.errors[key] = [
                instance_form.FieldError(messages.translate(e.message, lang), e.line)
                for e in errors
            ]
        the_form.general_errors[:] = [
            messages.translate(text, lang) for text in the_form.general_errors
        ]
        return render(
            request,
            "instance.html.j2",
            {
                "f": the_form,
                "module": module,
                "modules": modules,
                "instance": instance,
                "log_text": log_text,
                "open_tab": the_form.first_error_tab() or request.query_params.get("tab"),
                "notice": notice(request),
                "error": error,
            },
            status_code,
        )

    def _log_tail(self, instance_id: int) -> str:
        self.host.flush_logs()
        return instance_log.read_log(self.data_dir, instance_id, max_bytes=LOG_TAIL_BYTES)

    async def new(self, request: Request) -> Response:
        lang = page_language(request)
        modules = await self.run(self.runnable_modules)
        if not modules:
            return render(
                request,
                "error.html.j2",
                {"message": i18n.text("instances.no_module", lang), "back": "/modules"},
                409,
            )
        if request.method == "GET":
            chosen = request.query_params.get("module") or modules[0].id
            module = next((m for m in modules if m.id == chosen), modules[0])
            the_form = await self.run(instance_form.for_module, self.data_dir, module)
            return await self.run(
                lambda: self._form_page(
                    request,
                    the_form=the_form,
                    module=module,
                    instance=None,
                    modules=modules,
                )
            )
        form_data = await request.form()
        chosen = form_text(form_data, "module_id")
        picked = next((m for m in modules if m.id == chosen), None)
        if picked is None:
            raise HTTPException(400, f"module_id: there is no runnable module {chosen!r}.")
        module = picked
        the_form, created = await self.run(
            instance_form.submit, self.data_dir, module, None, form_data, lang
        )
        if created is not None:
            await self.run(self.host.changed, "instances", module.id)
            return RedirectResponse(f"/instances/{created.id}?done=created", status_code=303)
        return await self.run(
            lambda: self._form_page(
                request,
                the_form=the_form,
                module=module,
                instance=None,
                modules=modules,
                status_code=400,
                error=i18n.text("instances.refused", lang),
            )
        )

    async def edit(self, request: Request) -> Response:
        lang = page_language(request)
        instance_id = request.path_params["instance_id"]
        instance, module = await self.run(self._instance, instance_id)
        if request.method == "GET":
            return await self.run(
                lambda: self._form_page(
                    request,
                    the_form=instance_form.for_module(self.data_dir, module, instance),
                    module=module,
                    instance=instance,
                    modules=[module],
                )
            )
        form_data = await request.form()
        revision = form_text(form_data, "revision")
        try:
            the_form, saved = await self.run(
                lambda: instance_form.submit(
                    self.data_dir,
                    module,
                    instance,
                    form_data,
                    lang,
                    # The revision the form was opened at: a change made meanwhile by
                    # someone else is reported, not overwritten.
                    expected_revision=int(revision) if revision.isdigit() else None,
                )
            )
        except instances.Conflict as exc:
            return render(
                request,
                "error.html.j2",
                {"message": str(exc), "back": f"/instances/{instance_id}"},
                409,
            )
        if saved is not None:
            await self.run(self.host.changed, "instances", module.id)
            tab = form_text(form_data, "tab")
            suffix = f"&tab={tab}" if tab in {t.key for t in the_form.tabs} else ""
            return RedirectResponse(f"/instances/{instance_id}?done=saved{suffix}", status_code=303)
        return await self.run(
            lambda: self._form_page(
                request,
                the_form=the_form,
                module=module,
                instance=instance,
                modules=[module],
                status_code=400,
                error=i18n.text("instances.refused", lang),
            )
        )

    async def log(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        await self.run(self._instance, instance_id)
        text = await self.run(self._log_tail, instance_id)
        return PlainTextResponse(text)

    async def log_download(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        instance, _ = await self.run(self._instance, instance_id)
        await self.run(self.host.flush_logs)
        data = await self.run(instance_log.log_zip, self.data_dir, instance_id, instance.name)
        return _download(data, "application/zip", instance.name, "-log.zip")

    async def export(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        instance, _ = await self.run(self._instance, instance_id)

        def export() -> str:
            with self.db() as conn:
                return instances.export_toml(self.data_dir, conn, instance)

        text = await self.run(export)
        return _download(text.encode("utf-8"), "application/toml", instance.name, ".toml")

    async def action(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        action = request.path_params["action"]
        if action not in {"activate", "deactivate", "delete"}:
            raise HTTPException(404, f"There is no action {action!r}.")
        try:
            if action == "delete":
                row = await self.run(instances.delete, self.data_dir, instance_id)
            else:
                row = await self.run(
                    instances.set_active, self.data_dir, instance_id, action == "activate"
                )
        except Refused as exc:
            text = messages.localize(str(exc), page_language(request), "instance").text
            return render(request, "error.html.j2", {"message": text, "back": "/instances"}, 409)
        await self.run(self.host.changed, "instances", row.module_id)
        if action == "delete":
            return RedirectResponse("/instances?done=deleted", status_code=303)
        return RedirectResponse("/instances?done=saved", status_code=303)


def _download(body: bytes, media_type: str, instance_name: str, suffix: str) -> Response:
    """`body` as a file download named after the instance (a safe file name) and `suffix`."""
    name = safe_file_stem(instance_name, "instance") + suffix
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
