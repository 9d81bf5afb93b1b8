"""Two modules through the web page in a real browser (headless chromium): upload Breakthrough
and Sperrliste from their built .sfm files into one fresh data folder, configure an instance
of each in the form drawn from its descriptor (German and English labels from its resource
keys), see a bad entry refused at its line, and test a call that both modules are asked on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import ServeProcess, sample_server
from tests.built_modules import BREAKTHROUGH_SRC, SPERRLISTE_ID, SPERRLISTE_SRC, build

PASSWORD = "Zwei-Module-2026!"
TIMEOUT = 30_000  # ms; the first page after an upload loads the module into the JVM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with sample_server(tmp_path_factory, "two-modules-web") as serve:
        yield serve


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("two-modules-dist")
    return {
        "breakthrough": build(BREAKTHROUGH_SRC, root / "bt"),
        "sperrliste": build(SPERRLISTE_SRC, root / "sp"),
    }


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="de-DE")
    context.set_default_timeout(TIMEOUT)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_two_modules_configured_in_their_own_forms_and_asked_on_one_call(
    server: ServeProcess, built: dict[str, Path], page: Page, screenshots: Path
) -> None:
    assert server.setup_link is not None, server.output()
    page.goto(server.setup_link)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_label("Passwort wiederholen").fill(PASSWORD)
    page.get_by_role("button", name="Passwort setzen").click()

    # Both .sfm files into the one data folder.
    for name in ("breakthrough", "sperrliste"):
        page.goto(server.url + "modules")
        page.locator("input[name=file]").set_input_files(str(built[name]))
        page.get_by_role("button", name="Hochladen und installieren").click()
        expect(page.locator("#upload-result")).to_be_visible()
    page.goto(server.url + "modules")
    expect(page.locator("#modules tbody tr")).to_have_count(2)

    # Sperrliste's form, drawn from its descriptor: one tab, a headline, the list, the choice.
    page.goto(server.url + f"instances/new?module={SPERRLISTE_ID}")
    expect(page.get_by_role("tab", name="Sperrliste")).to_be_visible()
    assert [t.inner_text() for t in page.get_by_role("tab").all()] == ["Sperrliste"]
    expect(page.get_by_role("heading", name="Gesperrte Anrufer")).to_be_visible()
    answer = page.get_by_label("Antwort")
    expect(answer).to_have_value("busy")  # the descriptor's default
    assert answer.locator("option").all_inner_texts() == ["busy", "voicemail"]
    page.get_by_label("Name").fill("Spam")
    page.get_by_label("Anrufernummern").fill("030111*\n\n+49 40 222 333\n0401x")
    page.get_by_role("button", name="Instanz anlegen").click()
    error = page.locator("#err-var-callers li[data-line='4']")
    expect(error).to_contain_text("Zeile 4")
    expect(error).to_contain_text("0401x")
    page.screenshot(path=str(screenshots / "two-modules-sperrliste-refused.png"), full_page=True)
    page.get_by_label("Anrufernummern").fill("030111*\n\n+49 40 222 333")
    page.get_by_label("Antwort").select_option("voicemail")
    page.get_by_role("button", name="Instanz anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("Instanz angelegt.")
    expect(page.get_by_label("Anrufernummern")).to_have_value("030111*\n+49 40 222 333")
    expect(page.get_by_label("Antwort")).to_have_value("voicemail")

    # Breakthrough's form, drawn from its descriptor: three tabs, the log level a choice.
    page.goto(server.url + f"instances/new?module={SPERRLISTE_ID}")
    page.locator("nav.module-choice").get_by_role("link", name="Breakthrough").click()
    expect(page.get_by_role("tab", name="Allgemein")).to_be_visible()
    assert [t.inner_text() for t in page.get_by_role("tab").all()] == [
        "Allgemein",
        "Rufnummern",
        "Einstellungen",
    ]
    page.get_by_label("Name").fill("Teamleiter")
    expect(page.get_by_label("Logdatei")).to_have_value("INFO")
    page.get_by_role("tab", name="Rufnummern").click()
    page.get_by_label("Angerufene Nummern: Aktiv für").fill("*")
    page.get_by_label("Anrufernummern: Aktiv für").fill("+49 40 222 333\n210")
    page.get_by_role("tab", name="Einstellungen").click()
    page.get_by_label("Ruhe umgehen").check()
    page.get_by_role("button", name="Instanz anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("Instanz angelegt.")

    # One call that both modules are asked on: the listed caller to user 203 (in DND).
    page.goto(server.url + "call")
    page.get_by_label("Von (Anrufer)").fill("004940222333")
    page.get_by_label("An (angerufene Nummer)").fill("203")
    page.get_by_role("button", name="Anruf testen").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "voicemail")
    # Both matched (listed as what changed the call or as a match that changed nothing).
    for instance in ("Spam", "Teamleiter"):
        expect(page.locator(f"#call-result dd li[data-instance='{instance}']")).to_have_count(1)
    explanation = page.locator("#explanation")
    expect(explanation).to_contain_text("Spam")
    expect(explanation).to_contain_text("passt auf '+49 40 222 333'")
    page.screenshot(path=str(screenshots / "two-modules-call.png"), full_page=True)

    # English labels come from the descriptor's resource keys too.
    page.goto(server.url + "instances")
    page.get_by_role("link", name="EN", exact=True).click()
    page.get_by_role("link", name=re.compile("^Spam$")).click()
    expect(page.get_by_role("tab", name="Block list")).to_be_visible()
    expect(page.get_by_label("Caller numbers")).to_have_value("030111*\n+49 40 222 333")
    expect(page.get_by_label("Answer")).to_have_value("voicemail")
