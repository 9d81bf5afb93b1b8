"""The admin's whole way through `sfm serve` in a real browser (headless chromium):
set the password with the setup link, log in, upload the built .sfm, create the instance
"Teamleiter" in the three tabs of the product text, see a wrong pattern refused at its line,
save, break through DND with a test call, read the log, see the licence in trial, and the
breakthrough on its page. Screenshots of the main pages go to tests/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import ServeProcess, build_sfm, sample_server

PASSWORD = "Teamleiter-2026!"
TIMEOUT = 20_000  # ms; the first page after an upload loads the module into the JVM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with sample_server(tmp_path_factory, "web-browser") as serve:
        yield serve


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sfm(tmp_path_factory.mktemp("dist"))


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="de-DE")
    context.set_default_timeout(TIMEOUT)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_the_admins_whole_way(
    server: ServeProcess, dist: Path, page: Page, screenshots: Path
) -> None:
    def shot(name: str) -> None:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    # 1. The setup link printed by `sfm serve` sets the admin password, once.
    assert server.setup_link is not None, server.output()
    page.goto(server.setup_link)
    expect(page.get_by_role("heading", name="Admin-Passwort festlegen")).to_be_visible()
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_label("Passwort wiederholen").fill(PASSWORD)
    page.get_by_role("button", name="Passwort setzen").click()
    expect(page).to_have_url(re.compile(r"/modules$"))

    # 2. Log out and in again with the new password.
    page.get_by_role("button", name=re.compile("Abmelden")).click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Passwort").fill("not the password")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("falsch")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/modules$"))
    expect(page.get_by_text("Noch kein Modul installiert.")).to_be_visible()

    # 3. Upload the built .sfm: installed, with what the file holds.
    page.locator("input[name=file]").set_input_files(str(dist))
    page.get_by_role("button", name="Hochladen und installieren").click()
    result = page.locator("#upload-result")
    expect(result).to_contain_text("Installiert: Breakthrough 2.6.1")
    expect(result.locator("dl.facts")).to_contain_text("o-byte.com")
    expect(result.locator("dl.facts")).to_contain_text("8.1.0.4")
    expect(page.locator("#modules tbody tr")).to_have_count(1)
    shot("01-modules-uploaded")

    # 4. A new instance "Teamleiter" in the three tabs.
    page.get_by_role("link", name="Instanzen").click()
    page.get_by_role("link", name="Neue Instanz").click()
    tabs = [t.inner_text() for t in page.get_by_role("tab").all()]
    assert tabs == ["Allgemein", "Rufnummern", "Einstellungen"]
    # Allgemein: name, description, log level; the log exists once saved.
    expect(page.get_by_text("Das Log aktualisiert sich nicht automatisch")).to_be_visible()
    page.get_by_label("Name").fill("Teamleiter")
    page.get_by_label("Beschreibung").fill("Teamleiter erreichen alle, auch bei Ruhe")
    expect(page.get_by_label("Logdatei")).to_have_value("INFO")  # the product's default
    page.get_by_label("Logdatei").select_option("DEBUG")
    shot("02-instance-general")
    # Rufnummern: the four lists; the legend and the note on number forms (the help texts of
    # the descriptor's headlines).
    page.get_by_role("tab", name="Rufnummern").click()
    numbers = page.locator("#panel-t2")
    expect(numbers).to_contain_text("? – Platzhalter für eine Ziffer")
    expect(numbers).to_contain_text("* – Platzhalter für eine, mehrere oder keine Ziffer/n")
    expect(numbers).to_contain_text("+492515906850")
    page.get_by_label("Angerufene Nummern: Aktiv für").fill("*")
    page.get_by_label("Angerufene Nummern: Ausnahmen").fill("00492515906299")
    page.get_by_label("Anrufernummern: Aktiv für").fill("210\n\n25x9\n*2515906210")
    # Einstellungen: the self-redirect box alone is refused by the module's own rules (the
    # descriptor has no dependencies between boxes, so the server decides).
    page.get_by_role("tab", name="Einstellungen").click()
    self_only = page.get_by_label("Anrufumleitungen auf sich selbst umgehen")
    self_only.check()
    page.get_by_label("Ruhe umgehen").check()
    shot("03-instance-settings")
    page.get_by_role("button", name="Instanz anlegen").click()

    # 5. The wrong pattern is refused at its line (line 3 of the textarea), nothing saved;
    # the self-redirect box alone is refused at its box.
    expect(page.get_by_role("tab", name="Rufnummern")).to_have_attribute("aria-selected", "true")
    error = page.locator("#err-var-callerActive li[data-line='3']")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Zeile 3")
    expect(error).to_contain_text("25x9")
    expect(page.get_by_label("Anrufernummern: Aktiv für")).to_have_value(
        "210\n\n25x9\n*2515906210"
    )
    shot("04-instance-refused-pattern")
    page.get_by_label("Anrufernummern: Aktiv für").fill("210\n*2515906210")
    page.get_by_role("tab", name="Einstellungen").click()
    expect(page.locator("#err-var-bypassSelfRedirectsOnly")).to_contain_text(
        "Anrufumleitungen umgehen"
    )
    page.get_by_label("Anrufumleitungen auf sich selbst umgehen").uncheck()
    page.get_by_role("button", name="Instanz anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("Instanz angelegt.")
    expect(page.get_by_role("heading", name=re.compile("Teamleiter"))).to_be_visible()
    page.get_by_role("tab", name="Rufnummern").click()
    expect(page.get_by_label("Anrufernummern: Aktiv für")).to_have_value("210\n*2515906210")
    page.get_by_role("tab", name="Einstellungen").click()
    expect(page.get_by_label("Ruhe umgehen")).to_be_checked()
    instance_url = page.url.split("?")[0]
    # The instance's log, open in a second tab before any call: it shows no call yet.
    log_page = page.context.new_page()
    log_page.goto(instance_url)
    log_box = log_page.locator("#log")
    expect(log_box).to_be_visible()
    assert "210" not in log_box.inner_text()

    # 6. A test call from the team lead (210) to the user in DND (203) breaks through...
    page.get_by_role("link", name="Anruftest").click()
    page.get_by_label("Von (Anrufer)").fill("210")
    page.get_by_label("An (angerufene Nummer)").fill("203")
    page.get_by_role("button", name="Anruf testen").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "ring")
    expect(page.locator("#changed")).to_contain_text("Teamleiter")
    expect(page.locator("#changed")).to_contain_text("Ruhe umgangen")
    expect(page.locator("#explanation")).to_contain_text("Teamleiter")
    shot("05-call-test-breakthrough")
    # ...while anyone else still meets the DND (the caller hears busy).
    page.get_by_label("Von (Anrufer)").fill("202")
    page.get_by_label("An (angerufene Nummer)").fill("203")
    page.get_by_role("button", name="Anruf testen").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "busy")
    expect(page.locator("#changed")).to_contain_text("Keine Instanz hat den Anruf verändert.")

    # 7. The log tab does not refresh by itself; its button does. First the event that would
    # make it: the call's line is in the log the server hands out (what the button fetches).
    deadline = time.monotonic() + 10
    while "210" not in log_page.request.get(f"{instance_url}/log").text():
        assert time.monotonic() < deadline, "the call's log line never reached the server's log"
        time.sleep(0.05)
    assert "210" not in log_box.inner_text()
    log_page.get_by_role("link", name="Log aktualisieren").click()
    expect(log_box).to_contain_text("210")
    expect(log_box).to_contain_text("DEBUG")
    assert log_page.url.split("#")[0] == instance_url  # refreshed in place, no reload
    with log_page.expect_download() as download:
        log_page.get_by_role("link", name="Log herunterladen").click()
    assert download.value.suggested_filename == "Teamleiter-log.zip"
    log_page.screenshot(path=str(screenshots / "06-instance-log.png"), full_page=True)
    log_page.close()

    # 8. The licence: in trial, 14 days left.
    page.get_by_role("link", name="Lizenz").click()
    expect(page.locator("#licence-state")).to_have_text("Testphase")
    expect(page.locator("#days-left")).to_have_text("14")
    expect(page.get_by_role("button", name="Code anfordern")).to_be_visible()
    expect(page.get_by_role("button", name="Lizenz hochladen")).to_be_visible()
    shot("07-licence-trial")

    # 9. The breakthrough is on its page, with the per-day chart.
    page.get_by_role("link", name="Eingriffe").click()
    rows = page.locator("#interventions tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Teamleiter")
    expect(rows.first).to_contain_text("210")
    expect(rows.first).to_contain_text("203")
    expect(page.locator("svg.chart rect.bar title").last).to_contain_text(": 1")
    shot("08-interventions")

    # 10. English on request.
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.get_by_role("heading", name="Recent interventions")).to_be_visible()
