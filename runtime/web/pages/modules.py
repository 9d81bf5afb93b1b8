"""The modules area: the list with the upload, a module's detail, rollback and removal."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from runtime.errors import Refused
from runtime.modules import installer, store
from runtime.web import i18n, messages
from runtime.web.pages.base import PageArea, notice, page_language
from runtime.web.rendering import PageNotFound, render


class ModulePages(PageArea):
    """Installed modules: list, upload, detail, rollback, removal."""

    def routes(self) -> list[Route]:
        return [
            Route("/modules", self.list_page, methods=["GET"]),
            Route("/modules/upload", self.upload, methods=["POST"]),
            Route("/modules/{module_id}", self.detail, methods=["GET"]),
            Route("/modules/{module_id}/rollback", self.rollback, methods=["POST"]),
            Route("/modules/{module_id}/remove", self.remove, methods=["POST"]),
        ]

    def _instance_counts(self) -> dict[str, int]:
        with self.db() as conn:
            counts: dict[str, int] = {}
            for instance in store.list_instances(conn):
                counts[instance.module_id] = counts.get(instance.module_id, 0) + 1
            return counts

    async def list_page(self, request: Request) -> Response:
        return await self._list_page(request)

    async def _list_page(
        self,
        request: Request,
        *,
        upload: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        modules = await self.run(self.modules)
        counts = await self.run(self._instance_counts)
        licences = await self.run(self.licence_states, modules)
        return render(
            request,
            "modules.html.j2",
            {
                "modules": modules,
                "counts": counts,
                "licences": licences,
                "upload": upload,
                "notice": notice(request),
            },
            status_code,
        )

    async def upload(self, request: Request) -> Response:
        form_data = await request.form()
        lang = page_language(request)
        upload = form_data.get("file")
        allow_downgrade = form_data.get("allow_downgrade") is not None
        if not isinstance(upload, UploadFile) or not upload.filename:
            refusal = messages.Localized(i18n.text("modules.no_file", lang))
            return await self._list_page(
                request, upload={"refusal": refusal, "inspect": None}, status_code=400
            )
        file_name = Path(upload.filename).name
        try:
            outcome = await self.run(
                self._install_upload, file_name, upload.file, allow_downgrade
            )
        finally:
            await upload.close()
        if outcome.get("refusal"):
            outcome["refusal"] = messages.localize(
                outcome["refusal"], lang, "upload", file_name
            )
            return await self._list_page(request, upload=outcome, status_code=400)
        await self.run(self.host.changed, "module", outcome["module"].id)
        return await self._list_page(request, upload=outcome)

    def _install_upload(
        self, file_name: str, content: BinaryIO, allow_downgrade: bool
    ) -> dict[str, Any]:
        """Install an uploaded .sfm; its inspect document and the result, or the refusal."""
        # Outside the data folder: a refused upload leaves the data folder as it was. The
        # file keeps the admin's name, so that every message names the file they chose.
        folder = Path(tempfile.mkdtemp(prefix="sfm-upload-"))
        try:
            path = folder / (_safe_name(file_name) or "upload.sfm")
            content.seek(0)
            with open(path, "wb") as sink:  # copied in chunks: never the whole file in memory
                shutil.copyfileobj(content, sink)
            try:
                result = installer.install(
                    self.data_dir, path, allow_downgrade=allow_downgrade, file_name=file_name
                )
            except Refused as exc:
                return {
                    "file_name": file_name,
                    "refusal": str(exc).replace(str(path), file_name).replace(path.name, file_name),
                    "inspect": _inspect_quietly(path),
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

    def _module(self, module_id: str) -> tuple[store.ModuleRow, list[store.InstanceRow]]:
        with self.db() as conn:
            module = store.get_module(conn, module_id)
            if module is None:
                raise PageNotFound("error.no_module", id=repr(module_id))
            return module, list(store.list_instances(conn, module_id))

    async def detail(self, request: Request) -> Response:
        return await self._detail_page(request, request.path_params["module_id"])

    async def _detail_page(
        self, request: Request, module_id: str, error: str | None = None, status_code: int = 200
    ) -> Response:
        module, instances = await self.run(self._module, module_id)
        licences = await self.run(self.licence_states, [module])
        refusal = None
        if error is not None:
            refusal = messages.localize(error, page_language(request), "module")
        return render(
            request,
            "module.html.j2",
            {
                "module": module,
                "instances": instances,
                "licence": licences.get(module.id),
                "notice": notice(request),
                "refusal": refusal,
            },
            status_code,
        )

    async def rollback(self, request: Request) -> Response:
        module_id = request.path_params["module_id"]
        try:
            await self.run(installer.rollback, self.data_dir, module_id)
        except Refused as exc:
            return await self._detail_page(request, module_id, str(exc), 409)
        await self.run(self.host.changed, "module", module_id)
        return RedirectResponse(f"/modules/{module_id}?done=rolled_back", status_code=303)

    async def remove(self, request: Request) -> Response:
        module_id = request.path_params["module_id"]
        try:
            await self.run(self._remove, module_id)
        except Refused as exc:
            return await self._detail_page(request, module_id, str(exc), 409)
        await self.run(self.host.changed, "module", module_id)
        return RedirectResponse("/modules?done=removed", status_code=303)

    def _remove(self, module_id: str) -> None:
        installer.remove(self.data_dir, module_id, with_instances=True)


def _safe_name(file_name: str) -> str:
    """The admin's file name as a file name here (no folders, no control characters)."""
    name = "".join(c for c in Path(file_name).name if c.isprintable() and c not in "/\\")
    return name if name not in {"", ".", ".."} else ""


def _inspect_quietly(path: Path) -> dict[str, Any] | None:
    """What a refused file holds, if it can be read at all (shown next to the refusal)."""
    try:
        from runtime.sfm_file import read_sfm

        document: dict[str, Any] = read_sfm(path).to_json()
        return document
    except Exception:  # the refusal already says what is wrong; this is a bonus
        return None
