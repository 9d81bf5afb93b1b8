"""The licence area: each runnable module's licence state, verification by e-mail, import."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from runtime.errors import Refused
from runtime.modules import store
from runtime.web import messages
from runtime.web.pages.base import PageArea, form_text, notice, page_language
from runtime.web.rendering import render


class LicencePages(PageArea):
    """The licence page and its three forms (verify, confirm, import)."""

    def routes(self) -> list[Route]:
        return [
            Route("/licence", self.page, methods=["GET"]),
            Route("/licence/{action:str}", self.action, methods=["POST"]),
        ]

    def _states(self) -> list[tuple[store.ModuleRow, Any]]:
        modules = self.runnable_modules()
        states = self.licence_states(modules)
        return [(m, states.get(m.id)) for m in modules]

    async def page(self, request: Request) -> Response:
        return await self._page(request)

    async def _page(
        self,
        request: Request,
        error: str | None = None,
        status_code: int = 200,
        server: str = "",
    ) -> Response:
        from runtime.licensing.client import DEFAULT_SERVER

        states = await self.run(self._states)
        chosen = request.query_params.get("module")
        refusal = None
        if error is not None:
            refusal = messages.localize(error, page_language(request), "licence")
        return render(
            request,
            "licence.html.j2",
            {
                "states": states,
                "chosen": chosen,
                "default_server": DEFAULT_SERVER,
                "server": server,
                "notice": notice(request),
                "refusal": refusal,
            },
            status_code,
        )

    async def action(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in {"verify", "confirm", "import"}:
            raise HTTPException(404, f"There is no action {action!r}.")
        form_data = await request.form()
        module_id = form_text(form_data, "module_id")
        runnable = await self.run(self.runnable_modules)
        if module_id not in {m.id for m in runnable}:
            return await self._page(
                request, f"module_id: there is no runnable module {module_id!r}.", 400
            )
        try:
            await self.run(self._act, action, module_id, form_data)
        except Refused as exc:
            return await self._page(request, str(exc), 400, form_text(form_data, "server"))
        await self.run(self.host.changed, "licence", module_id)
        done = {"verify": "verify_sent", "confirm": "confirmed", "import": "imported"}[action]
        return RedirectResponse(f"/licence?done={done}&module={module_id}", status_code=303)

    def _act(self, action: str, module_id: str, form_data: FormData) -> None:
        from runtime.licensing import client

        server = form_text(form_data, "server") or client.DEFAULT_SERVER
        with self.db() as conn:
            if action == "verify":
                client.request_verification(
                    conn, self.data_dir, module_id, form_text(form_data, "email"), server
                )
            elif action == "confirm":
                # The code goes to the service that mailed it (remembered with the request).
                client.confirm_code(
                    conn,
                    self.data_dir,
                    module_id,
                    form_text(form_data, "code"),
                    form_text(form_data, "server") or None,
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
