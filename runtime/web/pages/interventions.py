"""The interventions area: the recent interventions, the per-day chart, and their JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.web import dates, i18n, interventions
from runtime.web.interventions import InterventionRecorder
from runtime.web.pages.base import HostLink, PageArea, page_language
from runtime.web.rendering import render


class InterventionPages(PageArea):
    """The page "Interventions" and GET /api/interventions."""

    def __init__(self, data_dir: Path, host: HostLink, recorder: InterventionRecorder) -> None:
        super().__init__(data_dir, host)
        self.recorder = recorder

    def routes(self) -> list[Route]:
        return [Route("/interventions", self.page, methods=["GET"])]

    def api_routes(self) -> list[Route]:
        """Our own JSON under /api/ (the module manager's is runtime.api, with /api/call)."""
        return [Route("/api/interventions", self.api, methods=["GET"])]

    def _recent(self) -> tuple[list[interventions.Intervention], list[tuple[date, int]]]:
        self.recorder.flush()
        with self.db() as conn:
            records = interventions.recent(conn, 200)
            series = interventions.per_day(conn, 14, datetime.now(UTC).date())
        return records, series

    async def page(self, request: Request) -> Response:
        lang = page_language(request)
        records, series = await self.run(self._recent)
        svg = interventions.chart_svg(
            series,
            i18n.text("bt.chart_title", lang),
            lambda day: dates.format_day(day, lang),
        )
        return render(
            request,
            "interventions.html.j2",
            # chart_svg escapes every text it writes: it is markup, not user input.
            {"records": records, "chart": Markup(svg)},  # noqa: S704
        )

    async def api(self, request: Request) -> Response:
        records, _ = await self.run(self._recent)
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
