"""Login under attack, against a real `sfm serve` (issue 11): the throttle holds against 50
parallel wrong passwords and against a forged X-Forwarded-For (believed only from a configured
proxy), it says how long to wait, and a session ends at logout and at a password change."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.web.auth import FAILURE_WINDOW, MAX_FAILURES
from tests.browser.harness import REPO, ServeProcess
from tests.test_web_attack import PASSWORD, set_up_admin, token_of

PARALLEL = 50


def _fresh_server(tmp_path: Path, *extra: str) -> ServeProcess:
    return ServeProcess(tmp_path / "data", extra_args=extra)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    serve = _fresh_server(tmp_path)
    try:
        set_up_admin(serve).close()
        yield serve
    finally:
        serve.stop()


def _login_form(server: ServeProcess) -> tuple[httpx.Client, str]:
    """A client holding the login page's pre-login cookie, and the page's token."""
    client = httpx.Client(base_url=server.url, timeout=120)
    return client, token_of(client.get("/login").text)


def _try(
    client: httpx.Client, token: str, password: str, forwarded: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/login",
        data={"csrf_token": token, "username": "admin", "password": password},
        headers=headers,
    )


def _assert_throttled(answer: httpx.Response) -> None:
    assert answer.status_code == 429, (answer.status_code, answer.text[:300])
    wait = int(answer.headers["retry-after"])
    assert 1 <= wait <= FAILURE_WINDOW
    # The page says it in words, with the time to wait (German by default).
    assert f"Bitte {wait} Sekunden warten" in answer.text, answer.text


def test_fifty_parallel_wrong_logins_are_throttled(server: ServeProcess) -> None:
    forms = [_login_form(server) for _ in range(PARALLEL)]
    answers: list[httpx.Response] = []
    start = threading.Barrier(PARALLEL)
    lock = threading.Lock()

    def guess(client: httpx.Client, token: str, n: int) -> None:
        start.wait()
        answer = _try(client, token, f"wrong guess {n}")
        with lock:
            answers.append(answer)

    threads = [
        threading.Thread(target=guess, args=(client, token, n))
        for n, (client, token) in enumerate(forms)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert len(codes) == PARALLEL
    assert codes.count(401) == MAX_FAILURES, codes  # exactly the allowed guesses were checked
    assert codes.count(429) == PARALLEL - MAX_FAILURES, codes
    for answer in answers:
        if answer.status_code == 429:
            _assert_throttled(answer)
    # Now even the right password waits: the throttle is per address, not per guess.
    client, token = forms[0]
    _assert_throttled(_try(client, token, PASSWORD))
    with httpx.Client(base_url=server.url, timeout=30) as english:
        english.cookies.set("sfm_lang", "en")
        answer = _try(english, token_of(english.get("/login").text), PASSWORD)
        assert answer.status_code == 429
        assert f"Please wait {answer.headers['retry-after']} seconds" in answer.text
    for client, _ in forms:
        client.close()


def test_a_forged_forwarded_header_does_not_reset_the_throttle(server: ServeProcess) -> None:
    client, token = _login_form(server)
    codes = [
        _try(client, token, "wrong", forwarded=f"10.0.{n}.{n}").status_code for n in range(8)
    ]
    assert codes == [401] * MAX_FAILURES + [429] * (8 - MAX_FAILURES)
    # The right password from "another" address is still this client: refused, told to wait.
    _assert_throttled(_try(client, token, PASSWORD, forwarded="192.0.2.77"))
    client.close()


def test_the_forwarded_header_counts_only_from_a_configured_proxy(tmp_path: Path) -> None:
    serve = _fresh_server(tmp_path, "--trusted-proxy", "127.0.0.1")
    try:
        set_up_admin(serve).close()
        client, token = _login_form(serve)
        # Behind the proxy, each forwarded address has its own count ...
        for n in range(MAX_FAILURES + 2):
            assert _try(client, token, "wrong", forwarded=f"10.1.0.{n}").status_code == 401
        # ... one address is throttled after MAX_FAILURES ...
        codes = [_try(client, token, "wrong", forwarded="10.9.9.9").status_code for _ in range(7)]
        assert codes == [401] * MAX_FAILURES + [429] * 2
        # ... and a client cannot hide behind a forged hop in front of the proxy's entry.
        forged = "10.1.0.99, 10.9.9.9"
        _assert_throttled(_try(client, token, PASSWORD, forwarded=forged))
        # Someone else behind the proxy logs in.
        answer = _try(client, token, PASSWORD, forwarded="10.2.0.1")
        assert answer.status_code == 303
        client.close()
    finally:
        serve.stop()


def _logged_in(server: ServeProcess, password: str = PASSWORD) -> httpx.Client:
    client, token = _login_form(server)
    answer = _try(client, token, password)
    assert answer.status_code == 303, answer.text
    return client


def _is_logged_in(client: httpx.Client) -> bool:
    answer = client.get("/modules")
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/login")
        return False
    assert answer.status_code == 200
    return True


def test_a_session_ends_at_logout_and_at_a_password_change(server: ServeProcess) -> None:
    first = _logged_in(server)
    second = _logged_in(server)
    copied = httpx.Client(base_url=server.url, timeout=30, cookies=dict(first.cookies))
    # Logout: the cookie, even a copy of it, opens nothing any more.
    logout = first.post("/logout", data={"csrf_token": token_of(first.get("/modules").text)})
    assert logout.status_code == 303
    assert not _is_logged_in(copied)
    assert _is_logged_in(second)
    # A wrong current password changes nothing.
    page = second.get("/account")
    new = "a brand new passphrase"
    refused = second.post(
        "/account/password",
        data={"csrf_token": token_of(page.text), "current": "nope", "password": new,
              "repeat": new},
    )
    assert refused.status_code == 400 and "current password" in refused.text
    third = _logged_in(server)
    # The password change: every other session ends; the browser that changed it goes on.
    changed = second.post(
        "/account/password",
        data={"csrf_token": token_of(page.text), "current": PASSWORD, "password": new,
              "repeat": new},
    )
    assert changed.status_code == 303
    assert not _is_logged_in(third)
    assert _is_logged_in(second)
    client, token = _login_form(server)
    assert _try(client, token, PASSWORD).status_code == 401
    client.close()
    fourth = _logged_in(server, new)
    # `sfm admin password` (the way back in for a forgotten password) ends every session too.
    reset = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "admin", "password", "--stdin", "--data",
         str(server.data_dir)],
        input=PASSWORD + "\n", capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert reset.returncode == 0, reset.stderr
    assert not _is_logged_in(second) and not _is_logged_in(fourth)
    assert _is_logged_in(_logged_in(server, PASSWORD))
    for one in (first, second, third, fourth, copied):
        one.close()


def test_sfm_admin_password_refuses_a_short_one(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "admin", "password", "--stdin", "--data",
         str(tmp_path / "data")],
        input="short\n", capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert answer.returncode == 2
    assert re.search(r"at least \d+ characters", answer.stderr)
