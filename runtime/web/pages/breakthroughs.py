"""The breakthroughs area: the recent breakthroughs, the per-day chart, and their JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.web import breakthroughs, i18n
from runtime.web.breakthroughs import BreakthroughRecorder
from runtime.web.pages.base import HostLink, PageArea, page_language
from runtime.web.rendering import render


class BreakthroughPages(PageArea):
    """The page "Breakthroughs" and GET /api/breakthroughs."""

    def __init__(self, data_dir: Path, host: HostLink, recorder: BreakthroughRecorder) -> None:
        super().__init__(data_dir, host)
        self.recorder = recorder

    def routes(self) -> list[Route]:
        return [Route("/breakthroughs", self.page, methods=["GET"])]

    def api_routes(self) -> list[Route]:
        """Our own JSON under /api/ (the module manager's is runtime.api, with /api/call)."""
        return [Route("/api/breakthroughs", self.api, methods=["GET"])]

    def _recent(self) -> tuple[list[breakthroughs.Breakthrough], list[tuple[date, int]]]:
        self.recorder.flush()
        with self.db() as conn:
            records = breakthroughs.recent(conn, 200)
            series = breakthroughs.per_day(conn, 14, datetime.now(UTC).date())
        return records, series

    async def page(self, request: Request) -> Response:
        lang = page_language(request)
        records, series = await self.run(self._recent)
        svg = breakthroughs.chart_svg(
            series,
            i18n.text("bt.chart_title", lang),
            lambda day: i18n.format_day(day, lang),
        )
        return render(
            request,
            "breakthroughs.html.j2",
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
