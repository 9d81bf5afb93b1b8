"""The module manager's JSON API (runtime.api) served in the test's process by a real uvicorn
on a free port of 127.0.0.1, without the web host's login in front (that is tested against a
real `sfm serve`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from runtime.api import api_routes


@contextmanager
def api_client(data_dir: Path) -> Iterator[httpx.Client]:
    """A client of the API routes over `data_dir`; the server stops on leaving."""
    app = Starlette(routes=api_routes(data_dir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=5)
