"""The licence page of `sfm serve`: trial days left, refusals in words that change nothing, and
verification by e-mail with the code read from a mail delivered to a real SMTP server by the
real licence service."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.licensing.server.app import add_purchase
from sfm_cli.main import main
from tests.browser.harness import ServeProcess, build_sfm, load_sample_pbx
from tests.test_licence_harness import (
    BUILD,
    MODULE,
    code_from,
    free_port,
    running_inbox,
    running_service,
)

PASSWORD = "licence page 1"
BUYER = "chef@example.com"


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _state(client: httpx.Client) -> tuple[str, str | None]:
    page = client.get("/licence").text
    state = re.search(r'id="licence-state">([^<]+)<', page)
    days = re.search(r'id="days-left">(\d+)<', page)
    assert state is not None, page
    return state.group(1), days.group(1) if days else None


@pytest.fixture()
def admin(tmp_path: Path) -> Iterator[httpx.Client]:
    data = tmp_path / "data"
    load_sample_pbx(data)
    dist = build_sfm(tmp_path / "dist")
    assert main(["--data", str(data), "module", "install", str(dist)]) == 0
    server = ServeProcess(data)
    try:
        assert server.setup_link is not None
        with httpx.Client(base_url=server.url, timeout=30) as client:
            page = client.get(server.setup_link)
            client.post(
                server.setup_link,
                data={"csrf_token": _token(page.text), "password": PASSWORD, "repeat": PASSWORD},
            )
            yield client
    finally:
        server.stop()


def test_licence_page_from_trial_to_licensed_by_mail(admin: httpx.Client, tmp_path: Path) -> None:
    assert _state(admin) == ("Testphase", "14")
    token = _token(admin.get("/licence").text)
    form = {"csrf_token": token, "module_id": MODULE}

    # The service cannot be reached: said in words, nothing changes.
    down = f"http://127.0.0.1:{free_port()}"
    refused = admin.post("/licence/verify", data={**form, "email": BUYER, "server": down})
    assert refused.status_code == 400
    assert "Lizenzdienst ist nicht erreichbar" in refused.text
    # A code before any verification, and a licence file that is none: refused, named.
    no_request = admin.post("/licence/confirm", data={**form, "code": "123456"})
    assert no_request.status_code == 400 and "keine Verifizierung" in no_request.text
    bogus = admin.post(
        "/licence/import",
        data=form,
        files={"file": ("licence.json", b"{not a licence", "application/json")},
    )
    assert bogus.status_code == 400 and "licence.json" in bogus.text
    assert _state(admin) == ("Testphase", "14")

    with running_inbox() as inbox, running_service(tmp_path / "service", inbox.port) as url:
        add_purchase(tmp_path / "service", BUYER, MODULE, BUILD, int(time.time()))
        sent = admin.post("/licence/verify", data={**form, "email": BUYER, "server": url})
        assert sent.status_code == 303
        assert "Code" in admin.get(sent.headers["location"]).text
        (mail,) = inbox.wait_for(1)
        assert mail["To"] == BUYER
        confirmed = admin.post("/licence/confirm", data={**form, "code": code_from(mail)})
        assert confirmed.status_code == 303
    page = admin.get("/licence").text
    assert _state(admin) == ("Lizenziert", None)
    assert BUYER in page
    # Licensed: the licence's details instead of the verification forms, one line of state.
    assert 'id="licence-details"' in page
    assert 'action="/licence/verify"' not in page and 'action="/licence/confirm"' not in page
    assert page.count('class="licence-state') == 1
