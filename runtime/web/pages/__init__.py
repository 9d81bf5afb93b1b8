"""The admin's pages, one module per area on the shared base `base.PageArea`:

- `modules`: list, upload, detail, rollback, removal;
- `instances`: the form drawn from the module's descriptor, log, export, actions;
- `licence`: licence state, verification by e-mail, licence file import;
- `call_tester`: one call through the running host, each instance's rule explained;
- `interventions`: the recent interventions and their chart, GET /api/interventions;
- `phones`: live DND/redirects, registered phones, calls in progress, /api/pbx/users, /api/sip.

Every handler runs behind `runtime.web.request_checks.RequestChecks` (login and CSRF are
checked before a handler is reached). Blocking work runs in the thread pool. A refused input is
shown in words on the page with status 4xx and changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from runtime.web.interventions import InterventionRecorder
from runtime.web.pages.base import HostLink, PageArea, RunningHost
from runtime.web.pages.call_tester import CallTesterPages
from runtime.web.pages.instances import InstancePages
from runtime.web.pages.interventions import InterventionPages
from runtime.web.pages.licence import LicencePages
from runtime.web.pages.modules import ModulePages
from runtime.web.pages.phones import PhonePages

__all__ = ["HostLink", "PageArea", "RunningHost", "page_areas", "page_routes", "api_routes"]


async def _home(request: Request) -> Response:
    return RedirectResponse("/modules", status_code=303)


def page_areas(data_dir: Path, host: HostLink, recorder: InterventionRecorder) -> list[PageArea]:
    """Every area of the admin's pages, bound to the data folder, host link and recorder."""
    return [
        ModulePages(data_dir, host),
        InstancePages(data_dir, host),
        LicencePages(data_dir, host),
        CallTesterPages(data_dir, host, recorder),
        InterventionPages(data_dir, host, recorder),
        PhonePages(data_dir, host),
    ]


def page_routes(areas: list[PageArea]) -> list[Route]:
    """The routes of the pages: "/" and each area's."""
    routes = [Route("/", _home, methods=["GET"])]
    for area in areas:
        routes.extend(area.routes())
    return routes


def api_routes(areas: list[PageArea]) -> list[Route]:
    """Our own JSON routes under /api/ (areas that have any)."""
    return [route for area in areas for route in area.api_routes()]
