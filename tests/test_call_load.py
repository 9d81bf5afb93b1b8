"""The call path under load with a faulty module (issue 11): a real `sfm serve` process with
Breakthrough and one faulty module built by our own build (tests/data/faulty_modules/), 16
clients on the call tester API (`POST /api/call`) for a few seconds. Every call is answered:
HTTP 200 with a routing result that names the faulty module in `module_errors`, routed as if
that module were absent; `/login` answers meanwhile. No timing is asserted beyond "answered"
(a generous client timeout): the figures are bench/call_load.py's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ServeProcess
from tests.data.faulty_modules import FAULTS, REPO, SOURCES, build, faulty_id, prepare_data
from tests.data.sfm_crafted import TEAMLEITER_TOML

CLIENTS = 16
SECONDS = 3.0
CLIENT_TIMEOUT = 30.0  # "not answered", not "slow": the machine is shared and may be loaded
CALL = {"from": "201", "to": "203"}  # 201 is on Teamleiter's caller list; 203 has DND on
TEAMLEITER = "Teamleiter"
ServeWith = Callable[[str], tuple[str, str]]  # a fault's name -> the server's URL, API token


@dataclass(frozen=True)
class Reply:
    """What one client got for one call: an HTTP status and body, or the error it ran into."""

    status: int | None
    body: Any
    error: str | None


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Breakthrough's and the faulty modules' .sfm files, made by `sfm build --source`."""
    out = tmp_path_factory.mktemp("faulty-builds")
    state = out / "user-state"
    made = {"breakthrough": build(state, REPO / "module_src", out / "breakthrough")}
    for fault in FAULTS:
        made[fault] = build(state, SOURCES / fault, out / fault)
    return made


@pytest.fixture
def serve_with(tmp_path: Path, builds: dict[str, Path]) -> Iterator[ServeWith]:
    """`serve_with(fault)`: a running server with Breakthrough + Teamleiter and the faulty
    module `fault` (one active instance); its URL and API token."""
    servers: list[ServeProcess] = []

    def start(fault: str) -> tuple[str, str]:
        data, token = prepare_data(tmp_path, builds["breakthrough"], TEAMLEITER_TOML, builds[fault])
        server = ServeProcess(data)
        servers.append(server)
        return server.url, token

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def call_under_load(url: str, token: str) -> tuple[list[Reply], list[Reply]]:
    """CLIENTS clients posting CALL one after another for SECONDS, and one GET /login a
    second meanwhile; the replies to the calls and to the logins."""
    calls: list[Reply] = []
    logins: list[Reply] = []
    # The clock starts when every client is ready (making an httpx.Client takes a while on a
    # loaded machine), so that each client makes calls.
    deadline: list[float] = []
    ready = threading.Barrier(
        CLIENTS + 1, action=lambda: deadline.append(time.monotonic() + SECONDS)
    )

    def reply_of(send: Any) -> Reply:
        try:
            answer = send()
        except httpx.HTTPError as exc:
            return Reply(None, None, f"{type(exc).__name__}: {exc}")
        try:
            body = answer.json()
        except ValueError:
            body = answer.text[:300]
        return Reply(answer.status_code, body, None)

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=CLIENT_TIMEOUT) as http:
            ready.wait()
            while time.monotonic() < deadline[0]:
                calls.append(reply_of(lambda: http.post("/api/call", json=CALL)))

    def login() -> None:
        ready.wait()
        while time.monotonic() < deadline[0]:
            logins.append(reply_of(lambda: httpx.get(url + "login", timeout=CLIENT_TIMEOUT)))
            time.sleep(1.0)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    threads.append(threading.Thread(target=login))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls, logins


def unanswered(replies: list[Reply], module_id: str) -> list[Reply]:
    """The calls not answered as the host must: HTTP 200, a routing result routed as if the
    faulty module were absent (ring when Teamleiter broke through the DND, else busy), the
    faulty module named in module_errors."""

    def answered(reply: Reply) -> bool:
        if reply.status != 200 or not isinstance(reply.body, dict):
            return False
        body = reply.body
        applied = [entry.get("instance") for entry in body.get("applied", [])]
        expected = "ring" if TEAMLEITER in applied else "busy"
        return body.get("outcome") == expected and any(
            module_id in str(error) for error in body.get("module_errors", [])
        )

    return [reply for reply in replies if not answered(reply)]


def assert_every_call_answered(url: str, token: str, module_id: str) -> None:
    calls, logins = call_under_load(url, token)
    assert len(calls) >= CLIENTS, f"only {len(calls)} calls were made"
    bad = unanswered(calls, module_id)
    assert not bad, f"{len(bad)} of {len(calls)} calls not answered, e.g. {bad[:3]}"
    assert logins and all(r.status == 200 for r in logins), logins


@pytest.mark.parametrize("fault", ["throwing", "hanging"])
def test_every_call_is_answered_under_load_with_a_hook_that_throws_or_hangs(
    serve_with: ServeWith, fault: str
) -> None:
    url, token = serve_with(fault)
    assert_every_call_answered(url, token, faulty_id(fault))


def test_every_call_is_answered_under_load_with_a_hook_that_holds_the_gil(
    serve_with: ServeWith,
) -> None:
    url, token = serve_with("gil_holding")
    module_id = faulty_id("gil_holding")
    assert_every_call_answered(url, token, module_id)
    # Its process, stuck in a call, was killed and started again: the module list says so.
    headers = {"Authorization": f"Bearer {token}"}
    problems: list[str] = []
    until = time.monotonic() + CLIENT_TIMEOUT
    while time.monotonic() < until and not any("not answered" in p for p in problems):
        httpx.post(url + "api/call", json=CALL, headers=headers, timeout=CLIENT_TIMEOUT)
        modules = httpx.get(url + "api/modules", headers=headers, timeout=CLIENT_TIMEOUT).json()
        problems = next(m["problems"] for m in modules if m["id"] == module_id)
        time.sleep(0.5)
    assert any("stopped" in p and "a call was not answered" in p for p in problems), problems
