"""The security pages of issue 11 in a real browser (headless chromium) against a real
`sfm serve`: error pages in the page's language, the login throttle's message with the time
to wait, a password change that ends the other browser's session, API tokens on the account
page, and two tabs editing one instance: the later save is told, nothing is overwritten."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.harness import ServeProcess, sample_folder_with_instance
from tests.data.sfm_crafted import sfm_files

__all__ = ["sfm_files"]

PASSWORD = "Teamleiter-2026!"
NEW_PASSWORD = "ein ganz neues Passwort"
TIMEOUT = 20_000


@pytest.fixture()
def server(tmp_path: Path, sfm_files: dict[str, Path]) -> Iterator[ServeProcess]:
    serve = ServeProcess(sample_folder_with_instance(tmp_path / "data", sfm_files["current"]))
    try:
        yield serve
    finally:
        serve.stop()


def _context(browser: Browser, locale: str = "de-DE") -> BrowserContext:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale=locale)
    context.set_default_timeout(TIMEOUT)
    return context


def _set_password(page: Page, server: ServeProcess) -> None:
    assert server.setup_link is not None, server.output()
    page.goto(server.setup_link)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_label("Passwort wiederholen").fill(PASSWORD)
    page.get_by_role("button", name="Passwort setzen").click()
    expect(page).to_have_url(re.compile(r"/modules$"))


def _log_in(page: Page, server: ServeProcess, password: str) -> None:
    page.goto(server.url + "login")
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()


def test_error_pages_throttle_password_change_and_tokens(
    server: ServeProcess, browser: Browser, screenshots: Path
) -> None:
    admin = _context(browser)
    page = admin.new_page()
    _set_password(page, server)
    # Error pages: 404 in German (the default), then in English after the switch.
    page.goto(server.url + "instances/999")
    expect(page.get_by_text("Es gibt keine Instanz 999.")).to_be_visible()
    page.goto(server.url + "static/x.css")
    expect(page.get_by_text("Diese Seite gibt es nicht: /static/x.css")).to_be_visible()
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.get_by_text("There is no such page: /static/x.css")).to_be_visible()
    page.screenshot(path=str(screenshots / "error-404.png"), full_page=True)
    page.get_by_role("link", name="DE", exact=True).click()

    # Another browser: five wrong passwords, then it is told to wait, with the time.
    other = _context(browser)
    intruder = other.new_page()
    for _ in range(5):
        _log_in(intruder, server, "falsch geraten")
        expect(intruder.get_by_text("Benutzer oder Passwort ist falsch.")).to_be_visible()
    _log_in(intruder, server, PASSWORD)
    expect(intruder.get_by_text(re.compile(r"Bitte \d+ Sekunden warten"))).to_be_visible()
    intruder.screenshot(path=str(screenshots / "login-throttled.png"), full_page=True)
    other.close()

    # A second session of the admin (its own browser) ...
    second = _context(browser)
    elsewhere = second.new_page()
    elsewhere.context.add_cookies(admin.cookies())
    elsewhere.goto(server.url + "modules")
    expect(elsewhere).to_have_url(re.compile(r"/modules$"))
    # ... ends when the password is changed on the account page; this browser goes on.
    page.get_by_role("link", name="Konto").click()
    page.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Passwort ändern").click()
    expect(page.get_by_text("alle anderen Sitzungen sind beendet")).to_be_visible()
    elsewhere.goto(server.url + "modules")
    expect(elsewhere).to_have_url(re.compile(r"/login\?next="))
    second.close()

    # An API token, shown once, then revoked.
    page.get_by_label("Name").fill("backup-skript")
    page.get_by_role("button", name="Token erzeugen").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("sfm_")
    expect(page.get_by_role("cell", name="backup-skript")).to_be_visible()
    page.screenshot(path=str(screenshots / "account.png"), full_page=True)
    page.get_by_role("button", name="Widerrufen").click()
    expect(page.get_by_text("Das Token ist widerrufen.")).to_be_visible()
    expect(page.get_by_role("cell", name="backup-skript")).to_have_count(0)
    admin.close()


def test_two_tabs_editing_one_instance_lose_nothing(
    server: ServeProcess, browser: Browser
) -> None:
    context = _context(browser)
    first = context.new_page()
    _set_password(first, server)
    first.goto(server.url + "instances")
    first.get_by_role("link", name="Teamleiter").first.click()
    instance_url = first.url
    second = context.new_page()
    second.goto(instance_url)
    # The first tab saves a change ...
    first.get_by_role("button", name="Speichern").click()
    expect(first).to_have_url(re.compile(r"done=saved"))
    # ... the second, opened before it, is told instead of overwriting it.
    second.get_by_role("button", name="Speichern").click()
    expect(second.get_by_text("changed by someone else")).to_be_visible()
    # Reloaded, it saves.
    second.goto(instance_url)
    second.get_by_role("button", name="Speichern").click()
    expect(second).to_have_url(re.compile(r"done=saved"))
    context.close()
