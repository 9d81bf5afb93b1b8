"""The module manager's JSON API under /api/: modules, instances, their logs, a test call.

`api_routes(data_dir)` returns plain Starlette routes with no authentication of their own:
the web host mounts them behind its login and CSRF checks. Every change goes through the same
functions as the `sfm` commands (so the same checks and refusals), and is handed at once to the
host running in this process (`runtime.host.running_host`), so new calls see it.

Refused input answers 400 with `{"error": "..."}` naming the file or field; an unknown module
or instance answers 404; an upload larger than the cap answers 413.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime import db
from runtime.errors import Refused
from runtime.json_request import json_object
from runtime.modules import installer, instance_log, instances, store
from runtime.modules.upload_checks import DEFAULT_LIMITS
from sfm_format.toml_file import parse_toml

Endpoint = Callable[[Request], Awaitable[Response]]


class NotFound(Refused):
    """An id in the URL that names nothing (answered 404)."""


class TooLarge(Refused):
    """An upload above the size cap (answered 413)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _endpoint(work: Callable[[Request], Awaitable[Response]]) -> Endpoint:
    """Turn refusals into 4xx JSON answers (anything else stays a 500 with a traceback)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await work(request)
        except NotFound as exc:
            return _error(404, str(exc))
        except TooLarge as exc:
            return _error(413, str(exc))
        except instances.Conflict as exc:
            return _error(409, str(exc))
        except Refused as exc:
            return _error(400, str(exc))

    return endpoint


@contextlib.contextmanager
def _conn(data_dir: Path) -> Iterator[Any]:
    conn = db.connect(data_dir)
    try:
        yield conn
    finally:
        conn.close()


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _whole_number(request: Request, name: str) -> int | None:
    """A query parameter that must be a whole number >= 0, or None if absent."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise Refused(f"{name}: a whole number of bytes, not {value[:40]!r}")
    return int(value)


def _config_from_body(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The instance mapping in a request: `config` (an object) or `toml` (instance TOML)."""
    if "toml" in body:
        text = body["toml"]
        if not isinstance(text, str):
            raise Refused("toml: the instance TOML must be a string")
        return parse_toml(text, "toml", Refused), "the uploaded TOML"
    config = body.get("config")
    if not isinstance(config, dict):
        raise Refused("config: give the instance configuration as an object (or `toml`)")
    return config, "the request"


def problems_of(data_dir: Path, module_id: str) -> list[str]:
    """The module's problems as the running host found them (runtime.host.problems_of)."""
    from runtime.host import problems_of as host_problems

    return host_problems(data_dir, module_id)


def api_routes(data_dir: Path) -> list[Route]:
    """The module manager's JSON routes for the data folder `data_dir` (no auth here)."""
    data_dir = Path(data_dir)

    def host_changed(what: str, module_id: str) -> None:
        from runtime.host import running_host

        host = running_host(data_dir)
        if host is None:
            return
        if what == "module":
            host.reload_module(module_id)
        else:
            host.reload_instances(module_id)

    def instance_of(instance_id: int) -> store.InstanceRow:
        with _conn(data_dir) as conn:
            instance = store.get_instance(conn, instance_id)
        if instance is None:
            raise NotFound(f"there is no instance with id {instance_id}")
        return instance

    def module_of(module_id: str) -> store.ModuleRow:
        with _conn(data_dir) as conn:
            module = store.get_module(conn, module_id)
        if module is None:
            raise NotFound(f"no module with id {module_id!r} is installed")
        return module

    # ---- modules -----------------------------------------------------------------------

    def list_modules() -> list[dict[str, Any]]:
        with _conn(data_dir) as conn:
            documents = []
            for module in store.list_modules(conn):
                document = module.to_json()
                document["instances"] = len(store.list_instances(conn, module.id))
                document["problems"] = problems_of(data_dir, module.id)
                documents.append(document)
            return documents

    async def modules_get(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(list_modules))

    async def module_get(request: Request) -> Response:
        module_id = request.path_params["module_id"]

        def work() -> dict[str, Any]:
            document = module_of(module_id).to_json()
            document["problems"] = problems_of(data_dir, module_id)
            with _conn(data_dir) as conn:
                document["instances"] = [i.to_json() for i in store.list_instances(conn, module_id)]
            return document

        return JSONResponse(await run_in_threadpool(work))

    async def modules_upload(request: Request) -> Response:
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Refused("file: send the .sfm as the multipart field `file`")
            allow_downgrade = _truthy(form.get("allow_downgrade", ""))
            name = Path(upload.filename or "upload.sfm").name
            name = re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "upload.sfm"
            # Outside the data folder: a refused upload must leave the data folder unchanged.
            folder = Path(tempfile.mkdtemp(prefix="sfm-upload-"))
            try:
                path = folder / name
                size = 0
                with open(path, "wb") as sink:
                    while chunk := await upload.read(1024 * 1024):
                        size += len(chunk)
                        if size > DEFAULT_LIMITS.max_file_bytes:
                            raise TooLarge(
                                f"{name}: the file is larger than "
                                f"{DEFAULT_LIMITS.max_file_bytes} bytes; nothing was installed."
                            )
                        sink.write(chunk)
                result = await run_in_threadpool(
                    lambda: installer.install(
                        data_dir, path, allow_downgrade=allow_downgrade, file_name=name
                    )
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        if result.action != "unchanged":
            await run_in_threadpool(host_changed, "module", result.module.id)
        status = 201 if result.action == "installed" else 200
        return JSONResponse(result.to_json(), status_code=status)

    async def module_delete(request: Request) -> Response:
        module_id = request.path_params["module_id"]
        with_instances = _truthy(request.query_params.get("with_instances", ""))

        def work() -> dict[str, Any]:
            module_of(module_id)
            module = installer.remove(data_dir, module_id, with_instances=with_instances)
            host_changed("module", module_id)
            return {"removed": module.id, "name": module.name}

        return JSONResponse(await run_in_threadpool(work))

    async def module_rollback(request: Request) -> Response:
        module_id = request.path_params["module_id"]

        def work() -> dict[str, Any]:
            module_of(module_id)
            module = installer.rollback(data_dir, module_id)
            host_changed("module", module_id)
            return module.to_json()

        return JSONResponse(await run_in_threadpool(work))

    # ---- instances ---------------------------------------------------------------------

    async def instances_get(request: Request) -> Response:
        module_id = request.query_params.get("module")

        def work() -> list[dict[str, Any]]:
            if module_id:
                module_of(module_id)
            with _conn(data_dir) as conn:
                return [i.to_json() for i in store.list_instances(conn, module_id)]

        return JSONResponse(await run_in_threadpool(work))

    async def instances_post(request: Request) -> Response:
        body = await json_object(request)
        mapping, source = _config_from_body(body)

        def work() -> dict[str, Any]:
            module_id = body.get("module")
            if not isinstance(module_id, str) or not module_id:
                raise Refused("module: say which installed module the instance belongs to")
            module_of(module_id)
            created = instances.create(data_dir, module_id, mapping, source)
            host_changed("instances", module_id)
            return created.to_json()

        return JSONResponse(await run_in_threadpool(work), status_code=201)

    async def instance_get(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        return JSONResponse((await run_in_threadpool(instance_of, instance_id)).to_json())

    async def instance_put(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        body = await json_object(request)
        mapping, source = _config_from_body(body)

        revision = body.get("revision")
        if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
            raise Refused("revision: the instance revision you edited, a whole number")

        def work() -> dict[str, Any]:
            instance_of(instance_id)
            updated = instances.update(
                data_dir, instance_id, mapping, source, expected_revision=revision
            )
            host_changed("instances", updated.module_id)
            return updated.to_json()

        return JSONResponse(await run_in_threadpool(work))

    async def instance_patch(request: Request) -> Response:
        """Change some fields: `config` holds only them, merged into what is stored."""
        instance_id = request.path_params["instance_id"]
        body = await json_object(request)
        changes = body.get("config")
        if not isinstance(changes, dict):
            raise Refused("config: give the fields to change as an object")

        def work() -> dict[str, Any]:
            instance_of(instance_id)
            updated = instances.change(data_dir, instance_id, changes, "the request")
            host_changed("instances", updated.module_id)
            return updated.to_json()

        return JSONResponse(await run_in_threadpool(work))

    def _set_active(active: bool) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            instance_id = request.path_params["instance_id"]

            def work() -> dict[str, Any]:
                instance_of(instance_id)
                changed = instances.set_active(data_dir, instance_id, active)
                host_changed("instances", changed.module_id)
                return changed.to_json()

            return JSONResponse(await run_in_threadpool(work))

        return endpoint

    async def instance_delete(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]

        def work() -> dict[str, Any]:
            instance_of(instance_id)
            deleted = instances.delete(data_dir, instance_id)
            host_changed("instances", deleted.module_id)
            return {"deleted": deleted.name, "id": deleted.id}

        return JSONResponse(await run_in_threadpool(work))

    async def instance_export(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]

        def work() -> tuple[str, str]:
            instance = instance_of(instance_id)
            with _conn(data_dir) as conn:
                return instance.name, instances.export_toml(data_dir, conn, instance)

        name, text = await run_in_threadpool(work)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "instance"
        return Response(
            text,
            media_type="application/toml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{safe}.toml"'},
        )

    def _flush_host_logs() -> None:
        from runtime.host import running_host

        host = running_host(data_dir)
        if host is not None:
            host.flush_logs(2.0)

    async def instance_log_get(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]

        offset = _whole_number(request, "offset")
        limit = _whole_number(request, "limit")

        def work() -> dict[str, Any]:
            instance = instance_of(instance_id)
            _flush_host_logs()
            page = instance_log.read_log_page(
                data_dir,
                instance.id,
                offset,
                instance_log.DEFAULT_PAGE_BYTES if limit is None else limit,
            )
            return {
                "id": instance.id,
                "name": instance.name,
                "level": instance.log_level,
                **page.to_json(),
            }

        return JSONResponse(await run_in_threadpool(work))

    async def instance_log_download(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]

        def work() -> tuple[str, bytes]:
            instance = instance_of(instance_id)
            _flush_host_logs()
            return instance.name, instance_log.log_zip(data_dir, instance.id, instance.name)

        name, data = await run_in_threadpool(work)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "instance"
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{safe}-log.zip"'},
        )

    # ---- a test call -------------------------------------------------------------------

    async def call_post(request: Request) -> Response:
        body = await json_object(request)
        caller, called = body.get("from"), body.get("to")
        if not isinstance(called, str) or not called.strip():
            raise Refused("to: the called number is missing")
        if caller is not None and not isinstance(caller, str):
            raise Refused("from: the caller number must be a string (or null when withheld)")

        def work() -> dict[str, Any]:
            from runtime.host import load_host, running_host

            host = running_host(data_dir)
            if host is not None:
                result: dict[str, Any] = host.route(caller, called)
                return result
            routing = load_host(data_dir)
            try:
                result = routing.route(caller, called)
                return result
            finally:
                routing.close()

        return JSONResponse(await run_in_threadpool(work))

    return [
        Route("/api/modules", _endpoint(modules_get), methods=["GET"]),
        Route("/api/modules", _endpoint(modules_upload), methods=["POST"]),
        Route("/api/modules/{module_id}", _endpoint(module_get), methods=["GET"]),
        Route("/api/modules/{module_id}", _endpoint(module_delete), methods=["DELETE"]),
        Route("/api/modules/{module_id}/rollback", _endpoint(module_rollback), methods=["POST"]),
        Route("/api/instances", _endpoint(instances_get), methods=["GET"]),
        Route("/api/instances", _endpoint(instances_post), methods=["POST"]),
        Route("/api/instances/{instance_id:int}", _endpoint(instance_get), methods=["GET"]),
        Route("/api/instances/{instance_id:int}", _endpoint(instance_put), methods=["PUT"]),
        Route(
            "/api/instances/{instance_id:int}", _endpoint(instance_patch), methods=["PATCH"]
        ),
        Route(
            "/api/instances/{instance_id:int}", _endpoint(instance_delete), methods=["DELETE"]
        ),
        Route(
            "/api/instances/{instance_id:int}/activate",
            _endpoint(_set_active(True)),
            methods=["POST"],
        ),
        Route(
            "/api/instances/{instance_id:int}/deactivate",
            _endpoint(_set_active(False)),
            methods=["POST"],
        ),
        Route(
            "/api/instances/{instance_id:int}/export",
            _endpoint(instance_export),
            methods=["GET"],
        ),
        Route(
            "/api/instances/{instance_id:int}/log", _endpoint(instance_log_get), methods=["GET"]
        ),
        Route(
            "/api/instances/{instance_id:int}/log/download",
            _endpoint(instance_log_download),
            methods=["GET"],
        ),
        Route("/api/call", _endpoint(call_post), methods=["POST"]),
    ]
