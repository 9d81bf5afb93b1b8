"""What every page area shares: the data folder, the routing host link, the thread pool.

Each area (`modules`, `instances`, `licence`, `call_tester`, `interventions`) is a `PageArea`
with its dependencies passed in; `runtime.web.pages.page_routes` puts their routes together.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.routing import Route

from runtime.db import connect
from runtime.errors import Refused
from runtime.modules import store
from runtime.web import i18n

log = logging.getLogger("sfm.serve.pages")

T = TypeVar("T")

# What a `?done=` in the address shows as the page's notice.
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

Change = Literal["module", "instances", "licence"]


class RunningHost(Protocol):
    """The part of `runtime.host.Host` the pages use."""

    def reload_module(self, module_id: str) -> None: ...

    def reload_instances(self, module_id: str) -> None: ...

    def reload_licence(self, module_id: str) -> None: ...

    def flush_logs(self, timeout: float = ...) -> None: ...

    def route(self, caller: str | None, called: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def page_language(request: Request) -> str:
    return i18n.language(request)


def notice(request: Request) -> str | None:
    """The notice a redirect asked for with `?done=...`, in the page's language."""
    key = NOTICES.get(request.query_params.get("done", ""))
    return i18n.text(key, page_language(request)) if key else None


def form_text(form_data: FormData, name: str) -> str:
    """A text field of a submitted form, stripped; "" when absent or a file."""
    value = form_data.get(name)
    return value.strip() if isinstance(value, str) else ""


def safe_file_stem(name: str, fallback: str) -> str:
    """`name` with everything but letters, digits, - and _ replaced, for a download's name."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return safe or fallback


class HostLink:
    """The routing host the pages talk to: passed in, or started by `start()` and owned."""

    def __init__(self, data_dir: Path, host: RunningHost | None = None) -> None:
        self.data_dir = data_dir
        self.host = host
        self._own_host = False
        self.error: str | None = None

    def start(self) -> None:
        """Load the routing host (JVM, PBX directory, installed modules, their instances)."""
        try:
            from runtime.host import open_host
        except ImportError as exc:
            self.error = f"the routing host (runtime.host) is not available: {exc}"
            log.warning(self.error)
            return
        self.host = open_host(self.data_dir)
        self._own_host = True

    def stop(self) -> None:
        """Close the host this link started (its log lines are written first)."""
        if self.host is not None and self._own_host:
            self.host.close()
            self.host = None

    def changed(self, what: Change, module_id: str) -> None:
        """Tell the host what changed, so that new calls see it at once.

        `what` is "module" (install, upgrade, rollback, removal), "instances" or "licence".
        """
        if self.host is None:
            return
        if what == "module":
            self.host.reload_module(module_id)
        elif what == "instances":
            self.host.reload_instances(module_id)
        else:
            self.host.reload_licence(module_id)

    def flush_logs(self) -> None:
        """Put the host's queued log lines on disk before a log is read."""
        if self.host is not None:
            self.host.flush_logs(2.0)

    def route(self, caller: str, called: str) -> dict[str, Any]:
        """Route one test call through the host; the `sfm call` document."""
        if self.host is None:
            raise Refused(self.error or "the routing host is not running")
        return self.host.route(caller, called)


class PageArea:
    """One area of the admin's pages, bound to the data folder and the host link."""

    def __init__(self, data_dir: Path, host: HostLink) -> None:
        self.data_dir = data_dir
        self.host = host

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.data_dir)
        try:
            yield conn
        finally:
            conn.close()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in the thread pool (SQLite, files and the host block)."""
        return await run_in_threadpool(work, *args)

    def modules(self) -> list[store.ModuleRow]:
        """Every installed module."""
        with self.db() as conn:
            return list(store.list_modules(conn))

    def runnable_modules(self) -> list[store.ModuleRow]:
        """The installed modules whose current build can run."""
        return [m for m in self.modules() if m.current.runnable]

    def licence_states(self, modules: list[store.ModuleRow]) -> dict[str, Any]:
        """module id -> its licence state (`runtime.licensing.status.LicenceStatus`), for the
        runnable ones among `modules`; none where the licensing part cannot say."""
        from runtime.licensing.status import licence_status

        states: dict[str, Any] = {}
        with self.db() as conn:
            for module in modules:
                if not module.current.runnable:
                    continue
                try:
                    states[module.id] = licence_status(conn, self.data_dir, module.id)
                except Refused as exc:
                    log.warning("licence state of %s: %s", module.name, exc)
        return states

    def routes(self) -> list[Route]:
        """This area's pages."""
        raise NotImplementedError

    def api_routes(self) -> list[Route]:
        """This area's own JSON under /api/ (none unless the area says so)."""
        return []
