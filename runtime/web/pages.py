"""The admin's pages: modules (upload, detail, rollback), instances (the three-tab form, log),
licence, call tester and recent breakthroughs.

Every handler here runs behind `runtime.web.gate.LoginGate` (login and CSRF are checked before
a handler is reached). The work itself is done by the module manager (`runtime.modules`), the
licensing part (`runtime.licensing`) and the routing host; blocking work runs in the thread pool.
A refused input is shown in words on the page with status 4xx and changes nothing.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from runtime.db import connect
from runtime.errors import Refused
from runtime.web import breakthroughs, i18n, instance_form
from runtime.web.breakthroughs import BreakthroughRecorder
from runtime.web.rendering import render

log = logging.getLogger("sfm.serve.pages")

T = TypeVar("T")

# What the log box shows at most (the download has everything).
LOG_TAIL_BYTES = 256 * 1024
NOTICES = {
    "installed": "modules.upload_done",
    "rolled_back": "modules.rolled_back",
    "removed": "modules.removed",
    "saved": "instances.saved",
    "created": "instances.created",
    "deleted": "instances.deleted",
    "verify_sent": "licence.verify_sent",
    "confirmed": "licence.confirmed",
    "imported": "licence.imported",
}


def _lang(request: Request) -> str:
    return i18n.language(request)


def _notice(request: Request) -> str | None:
    key = NOTICES.get(request.query_params.get("done", ""))
    return i18n.text(key, _lang(request)) if key else None


def _form_text(form_data: FormData, name: str) -> str:
    value = form_data.get(name)
    return value.strip() if isinstance(value, str) else ""


class Pages:
    """The page handlers, bound to one data folder, the breakthrough recorder and the host."""

    def __init__(self, data_dir: Path, recorder: BreakthroughRecorder, host: Any | None) -> None:
        self.data_dir = data_dir
        self.recorder = recorder
        self.host = host
        self._own_host = False
        self.host_error: str | None = None

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.data_dir)
        try:
            yield conn
        finally:
            conn.close()

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(work, *args)

    def start_host(self) -> None:
        """Load the routing host (JVM, PBX directory, installed modules, their instances)."""
        try:
            from runtime.host import open_host
        except ImportError as exc:
            self.host_error = f"the routing host (runtime.host) is not available: {exc}"
            log.warning(self.host_error)
            return
        self.host = open_host(self.data_dir)
        self._own_host = True

    def host_changed(self, what: str, module_id: str) -> None:
        """Tell the host what changed, so that new calls see it at once.

        `what` is "module" (install, upgrade, rollback, removal), "instances" or "licence".
        """
        if self.host is None:
            return
        reload = {
            "module": "reload_module",
            "instances": "reload_instances",
            "licence": "reload_licence",
        }[what]
        getattr(self.host, reload)(module_id)

    def stop_host(self) -> None:
        """Close the host this page set started (its log lines are written first)."""
        if self.host is not None and self._own_host:
            self.host.close()
            self.host = None

    def flush_host_logs(self) -> None:
        """Put the host's queued log lines on disk before a log is read."""
        if self.host is not None:
            self.host.flush_logs(2.0)

    def route_call(self, caller: str, called: str) -> dict[str, Any]:
        """Route one test call through the host; the `sfm call` document."""
        if self.host is None:
            raise Refused(self.host_error or "the routing host is not running")
        result: dict[str, Any] = self.host.route(caller, called)
        return result

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/modules", self.modules, methods=["GET"]),
            Route("/modules/upload", self.upload, methods=["POST"]),
            Route("/modules/{module_id}", self.module_detail, methods=["GET"]),
            Route("/modules/{module_id}/rollback", self.rollback, methods=["POST"]),
            Route("/modules/{module_id}/remove", self.remove, methods=["POST"]),
            Route("/instances", self.instances, methods=["GET"]),
            Route("/instances/new", self.instance_new, methods=["GET", "POST"]),
            Route("/instances/{instance_id:int}", self.instance_edit, methods=["GET", "POST"]),
            Route("/instances/{instance_id:int}/log", self.instance_log, methods=["GET"]),
            Route(
                "/instances/{instance_id:int}/log/download",
                self.instance_log_download,
                methods=["GET"],
            ),
            Route("/instances/{instance_id:int}/export", self.instance_export, methods=["GET"]),
            Route(
                "/instances/{instance_id:int}/{action:str}",
                self.instance_action,
                methods=["POST"],
            ),
            Route("/licence", self.licence, methods=["GET"]),
            Route("/licence/{action:str}", self.licence_action, methods=["POST"]),
            Route("/call", self.call, methods=["GET", "POST"]),
            Route("/breakthroughs", self.breakthroughs, methods=["GET"]),
        ]

    def api_routes(self) -> list[Route]:
        """Our own JSON under /api/ (the module manager's is runtime.api, with /api/call)."""
        return [
            Route("/api/breakthroughs", self.api_breakthroughs, methods=["GET"]),
        ]

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/modules", status_code=303)

    # -- modules -------------------------------------------------------------------------

    def _modules(self) -> list[Any]:
        from runtime.modules import store

        with self.db() as conn:
            return list(store.list_modules(conn))

    def _instance_counts(self) -> dict[str, int]:
        from runtime.modules import store

        with self.db() as conn:
            counts: dict[str, int] = {}
            for instance in store.list_instances(conn):
                counts[instance.module_id] = counts.get(instance.module_id, 0) + 1
            return counts

    async def modules(self, request: Request) -> Response:
        return await self._modules_page(request)

    async def _modules_page(
        self,
        request: Request,
        *,
        upload: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        modules = await self._run(self._modules)
        counts = await self._run(self._instance_counts)
        return render(
            request,
            "modules.html.j2",
            {
                "modules": modules,
                "counts": counts,
                "upload": upload,
                "notice": _notice(request),
            },
            status_code,
        )

    async def upload(self, request: Request) -> Response:
        form_data = await request.form()
        lang = _lang(request)
        upload = form_data.get("file")
        allow_downgrade = form_data.get("allow_downgrade") is not None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self._modules_page(
                request,
                upload={"refusal": i18n.text("modules.no_file", lang), "inspect": None},
                status_code=400,
            )
        file_name = Path(upload.filename).name
        content = await upload.read()
        await upload.close()
        outcome = await self._run(self._install_upload, file_name, content, allow_downgrade)
        if outcome.get("refusal"):
            return await self._modules_page(request, upload=outcome, status_code=400)
        await self._run(self.host_changed, "module", outcome["module"].id)
        return await self._modules_page(request, upload=outcome)

    def _install_upload(self, file_name: str, content: bytes, allow_downgrade: bool) -> dict:
        """Install an uploaded .sfm; its inspect document and the result, or the refusal."""
        from runtime.modules import installer

        # Outside the data folder: a refused upload leaves the data folder as it was.
        folder = Path(tempfile.mkdtemp(prefix="sfm-upload-"))
        try:
            path = folder / (file_name if file_name.endswith(".sfm") else "upload.sfm")
            path.write_bytes(content)
            try:
                result = installer.install(
                    self.data_dir, path, allow_downgrade=allow_downgrade, file_name=file_name
                )
            except Refused as exc:
                return {
                    "file_name": file_name,
                    "refusal": str(exc).replace(str(path), file_name),
                    "inspect": self._inspect_quietly(path),
                }
            return {
                "file_name": file_name,
                "refusal": None,
                "action": result.action,
                "previous_version": result.previous_version,
                "module": result.module,
                "inspect": result.module.current.info,
            }
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _inspect_quietly(path: Path) -> dict[str, Any] | None:
        """What a refused file holds, if it can be read at all (shown next to the refusal)."""
        try:
            from runtime.sfm_file import read_sfm

            document: dict[str, Any] = read_sfm(path).to_json()
            return document
        except Exception:  # the refusal already says what is wrong; this is a bonus
            return None

    def _module(self, module_id: str) -> Any:
        from runtime.modules import store

        with self.db() as conn:
            module = store.get_module(conn, module_id)
            if module is None:
                raise HTTPException(404, f"There is no module {module_id!r}.")
            return module, list(store.list_instances(conn, module_id))

    async def module_detail(self, request: Request) -> Response:
        return await self._module_page(request, request.path_params["module_id"])

    async def _module_page(
        self, request: Request, module_id: str, error: str | None = None, status_code: int = 200
    ) -> Response:
        module, instances = await self._run(self._module, module_id)
        return render(
            request,
            "module.html.j2",
            {
                "module": module,
                "instances": instances,
                "notice": _notice(request),
                "error": error,
            },
            status_code,
        )

    async def rollback(self, request: Request) -> Response:
        from runtime.modules import installer

        module_id = request.path_params["module_id"]
        try:
            await self._run(installer.rollback, self.data_dir, module_id)
        except Refused as exc:
            return await self._module_page(request, module_id, str(exc), 409)
        await self._run(self.host_changed, "module", module_id)
        return RedirectResponse(f"/modules/{module_id}?done=rolled_back", status_code=303)

    async def remove(self, request: Request) -> Response:
        from runtime.modules import installer

        module_id = request.path_params["module_id"]
        try:
            await self._run(self._remove, installer, module_id)
        except Refused as exc:
            return await self._module_page(request, module_id, str(exc), 409)
        await self._run(self.host_changed, "module", module_id)
        return RedirectResponse("/modules?done=removed", status_code=303)

    def _remove(self, installer: Any, module_id: str) -> None:
        installer.remove(self.data_dir, module_id, with_instances=True)

    # -- instances -----------------------------------------------------------------------

    def _instances(self) -> tuple[list[Any], dict[str, Any]]:
        from runtime.modules import store

        with self.db() as conn:
            modules = {m.id: m for m in store.list_modules(conn)}
            return list(store.list_instances(conn)), modules

    async def instances(self, request: Request) -> Response:
        instances, modules = await self._run(self._instances)
        return render(
            request,
            "instances.html.j2",
            {
                "instances": instances,
                "modules": modules,
                "runnable": [m for m in modules.values() if m.current.runnable],
                "notice": _notice(request),
            },
        )

    def _instance(self, instance_id: int) -> tuple[Any, Any]:
        from runtime.modules import store

        with self.db() as conn:
            instance = store.get_instance(conn, instance_id)
            if instance is None:
                raise HTTPException(404, f"There is no instance {instance_id}.")
            return instance, store.get_module(conn, instance.module_id)

    def _runnable_modules(self) -> list[Any]:
        return [m for m in self._modules() if m.current.runnable]

    def _form_page(
        self,
        request: Request,
        *,
        the_form: instance_form.InstanceForm,
        module: Any,
        instance: Any | None,
        modules: list[Any],
        status_code: int = 200,
        error: str | None = None,
    ) -> Response:
        log_text = None
        if instance is not None:
            log_text = self._log_tail(instance.id)
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
                "notice": _notice(request),
                "error": error,
            },
            status_code,
        )

    def _log_tail(self, instance_id: int) -> str:
        from runtime.modules import instance_log

        self.flush_host_logs()
        return instance_log.read_log(self.data_dir, instance_id, max_bytes=LOG_TAIL_BYTES)

    async def instance_new(self, request: Request) -> Response:
        lang = _lang(request)
        modules = await self._run(self._runnable_modules)
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
            the_form = await self._run(instance_form.for_module, self.data_dir, module)
            return await self._run(
                lambda: self._form_page(
                    request,
                    the_form=the_form,
                    module=module,
                    instance=None,
                    modules=modules,
                )
            )
        form_data = await request.form()
        chosen = _form_text(form_data, "module_id")
        module = next((m for m in modules if m.id == chosen), None)
        if module is None:
            raise HTTPException(400, f"module_id: there is no runnable module {chosen!r}.")
        the_form, created = await self._run(
            instance_form.submit, self.data_dir, module, None, form_data, lang
        )
        if created is None:
            return await self._run(
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
        await self._run(self.host_changed, "instances", module.id)
        return RedirectResponse(f"/instances/{created.id}?done=created", status_code=303)

    async def instance_edit(self, request: Request) -> Response:
        lang = _lang(request)
        instance_id = request.path_params["instance_id"]
        instance, module = await self._run(self._instance, instance_id)
        if request.method == "GET":
            return await self._run(
                lambda: self._form_page(
                    request,
                    the_form=instance_form.for_module(self.data_dir, module, instance),
                    module=module,
                    instance=instance,
                    modules=[module],
                )
            )
        form_data = await request.form()
        the_form, saved = await self._run(
            instance_form.submit, self.data_dir, module, instance, form_data, lang
        )
        if saved is not None:
            await self._run(self.host_changed, "instances", module.id)
            tab = _form_text(form_data, "tab")
            suffix = f"&tab={tab}" if tab in {t.key for t in the_form.tabs} else ""
            return RedirectResponse(f"/instances/{instance_id}?done=saved{suffix}", status_code=303)
        return await self._run(
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

    async def instance_log(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        await self._run(self._instance, instance_id)
        text = await self._run(self._log_tail, instance_id)
        return PlainTextResponse(text)

    async def instance_log_download(self, request: Request) -> Response:
        from runtime.modules import instance_log

        instance_id = request.path_params["instance_id"]
        instance, _ = await self._run(self._instance, instance_id)
        await self._run(self.flush_host_logs)
        data = await self._run(instance_log.log_zip, self.data_dir, instance_id, instance.name)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in instance.name)
        return Response(
            data,
            media_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{safe or "instance"}-log.zip"'},
        )

    async def instance_export(self, request: Request) -> Response:
        from runtime.modules import instances

        instance_id = request.path_params["instance_id"]
        instance, _ = await self._run(self._instance, instance_id)

        def export() -> str:
            with self.db() as conn:
                return instances.export_toml(self.data_dir, conn, instance)

        text = await self._run(export)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in instance.name)
        return PlainTextResponse(
            text,
            media_type="application/toml",
            headers={"content-disposition": f'attachment; filename="{safe or "instance"}.toml"'},
        )

    async def instance_action(self, request: Request) -> Response:
        from runtime.modules import instances

        instance_id = request.path_params["instance_id"]
        action = request.path_params["action"]
        if action not in {"activate", "deactivate", "delete"}:
            raise HTTPException(404, f"There is no action {action!r}.")
        try:
            if action == "delete":
                row = await self._run(instances.delete, self.data_dir, instance_id)
            else:
                row = await self._run(
                    instances.set_active, self.data_dir, instance_id, action == "activate"
                )
        except Refused as exc:
            return render(
                request, "error.html.j2", {"message": str(exc), "back": "/instances"}, 409
            )
        await self._run(self.host_changed, "instances", row.module_id)
        if action == "delete":
            return RedirectResponse("/instances?done=deleted", status_code=303)
        return RedirectResponse("/instances?done=saved", status_code=303)

    # -- licence -------------------------------------------------------------------------

    def _licence_states(self) -> list[tuple[Any, Any]]:
        from runtime.licensing.status import licence_status

        modules = self._runnable_modules()
        with self.db() as conn:
            return [(m, licence_status(conn, self.data_dir, m.id)) for m in modules]

    async def licence(self, request: Request) -> Response:
        return await self._licence_page(request)

    async def _licence_page(
        self, request: Request, error: str | None = None, status_code: int = 200
    ) -> Response:
        from runtime.licensing.client import DEFAULT_SERVER

        states = await self._run(self._licence_states)
        chosen = request.query_params.get("module")
        return render(
            request,
            "licence.html.j2",
            {
                "states": states,
                "chosen": chosen,
                "default_server": DEFAULT_SERVER,
                "notice": _notice(request),
                "error": error,
            },
            status_code,
        )

    async def licence_action(self, request: Request) -> Response:
        from runtime.licensing import client

        action = request.path_params["action"]
        if action not in {"verify", "confirm", "import"}:
            raise HTTPException(404, f"There is no action {action!r}.")
        form_data = await request.form()
        module_id = _form_text(form_data, "module_id")
        runnable = await self._run(self._runnable_modules)
        if module_id not in {m.id for m in runnable}:
            return await self._licence_page(
                request, f"module_id: there is no runnable module {module_id!r}.", 400
            )
        server = _form_text(form_data, "server") or client.DEFAULT_SERVER

        def work() -> None:
            with self.db() as conn:
                if action == "verify":
                    client.request_verification(
                        conn, self.data_dir, module_id, _form_text(form_data, "email"), server
                    )
                elif action == "confirm":
                    # The code goes to the service that mailed it (remembered with the request).
                    client.confirm_code(
                        conn,
                        self.data_dir,
                        module_id,
                        _form_text(form_data, "code"),
                        _form_text(form_data, "server") or None,
                    )
                else:
                    upload = form_data.get("file")
                    if not isinstance(upload, UploadFile) or not upload.filename:
                        raise Refused("file: please choose the licence file.")
                    folder = Path(tempfile.mkdtemp(prefix="sfm-licence-"))
                    try:
                        path = folder / Path(upload.filename).name
                        upload.file.seek(0)
                        path.write_bytes(upload.file.read())
                        try:
                            client.import_licence_file(conn, self.data_dir, module_id, path)
                        except Refused as exc:
                            raise Refused(
                                str(exc).replace(str(path), Path(upload.filename).name)
                            ) from None
                    finally:
                        shutil.rmtree(folder, ignore_errors=True)

        try:
            await self._run(work)
        except Refused as exc:
            return await self._licence_page(request, str(exc), 400)
        await self._run(self.host_changed, "licence", module_id)
        done = {"verify": "verify_sent", "confirm": "confirmed", "import": "imported"}[action]
        return RedirectResponse(f"/licence?done={done}&module={module_id}", status_code=303)

    # -- call tester ---------------------------------------------------------------------

    def _explain(self, caller: str, called: str, lang: str) -> list[Any]:
        """Per instance of each runnable module: (module, instance, match, the module's reasons),
        from the installed build's own code."""
        from runtime.modules import instances

        return instances.explain_call(self.data_dir, caller, called, lang)

    def _test_call(self, caller: str, called: str) -> dict[str, Any]:
        result = self.route_call(caller, called)
        self.recorder.record(result, caller, called, "call test")
        return result

    async def call(self, request: Request) -> Response:
        lang = _lang(request)
        context: dict[str, Any] = {"caller": "", "called": "", "result": None, "explained": []}
        context["directory"] = await self._run(self._directory)
        context["names"] = {
            str(u.get("id")): str(u.get("name") or u.get("id")) for u in context["directory"]
        }
        if request.method == "GET":
            return render(request, "call.html.j2", context)
        form_data = await request.form()
        caller = _form_text(form_data, "from")
        called = _form_text(form_data, "to")
        context.update(caller=caller, called=called)
        if not called or not caller:
            context["error"] = i18n.text("call.missing", lang)
            return render(request, "call.html.j2", context, 400)
        try:
            context["result"] = await self._run(self._test_call, caller, called)
        except Refused as exc:
            context["error"] = str(exc)
            return render(request, "call.html.j2", context, 400)
        context["explained"] = await self._run(self._explain, caller, called, lang)
        return render(request, "call.html.j2", context)

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

    # -- breakthroughs -------------------------------------------------------------------

    def _breakthroughs(self) -> tuple[list[breakthroughs.Breakthrough], str]:
        self.recorder.flush()
        with self.db() as conn:
            records = breakthroughs.recent(conn, 200)
            series = breakthroughs.per_day(conn, 14, datetime.now(UTC).date())
        return records, breakthroughs.chart_svg(series, "breakthroughs per day")

    async def breakthroughs(self, request: Request) -> Response:
        from markupsafe import Markup

        records, svg = await self._run(self._breakthroughs)
        return render(
            request,
            "breakthroughs.html.j2",
            # chart_svg escapes every text it writes: it is markup, not user input.
            {"records": records, "chart": Markup(svg)},  # noqa: S704
        )

    async def api_breakthroughs(self, request: Request) -> Response:
        records, _ = await self._run(self._breakthroughs)
        return JSONResponse(
            [
                {
                    "at": r.at,
                    "instance": r.instance,
                    "caller": r.caller,
                    "called": r.called,
                    "effects": list(r.effects),
                    "outcome": r.outcome,
                    "source": r.source,
                }
                for r in records
            ]
        )
