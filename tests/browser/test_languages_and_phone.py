"""The admin's pages in German and in English, at 1280 and at 390 pixels (a phone), in a real
browser: no English on the German page and no German on the English page outside user data
(elements marked translate="no": names, numbers, file names, log lines), no sideways scroll
at 390 px, and the call tester and the breakthrough list naming only effects that changed the
call (a call the instance matched without changing anything is no breakthrough).

The sample PBX: 203 is in DND, 202 has no DND and no forward. The instance "Teamleiter" lets
210 bypass DND and forwards: 210 -> 203 rings only because DND was bypassed (the forward
bypass did nothing), 210 -> 202 rings as it would without the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import ServeProcess, build_sfm, sample_server

PASSWORD = "Sprachen-und-Handy-2026!"
TIMEOUT = 30_000
INSTANCE = """
name = "Teamleiter"
description = "Teamleiter erreichen alle"
log_level = "INFO"
active = true
[numbers.called]
active = ["*"]
exceptions = []
[numbers.caller]
active = ["210"]
exceptions = []
[settings]
bypass_dnd = true
bypass_redirects = true
bypass_self_redirects_only = false
force_call_waiting = false
"""

# Words that give a language away. Month names both languages share (August, September,
# November) and words German uses as they are (Name, Version, Details, Log, Code, Module,
# Updates) are not here; all-capital tokens (PBX, DND, INFO) are skipped.
ENGLISH = frozenset(
    re.findall(
        r"\S+",
        """the and of to is are was were not with without this that which from has have had
    matched matches match pattern patterns called caller refused field wrong tries left run
    active exceptions installed install nothing days until trial licensed expired licence
    license instance instances interventions rings ring busy forward forwards
    forwarded bypassed always upload file settings numbers general save delete yes no
    january february march may june july october december when outcome effect effects
    vendor state variant users groups members change password account error please""",
    )
)
GERMAN = frozenset(
    re.findall(
        r"\S+",
        """der die das den dem des und nicht ist sind mit ohne für von zu auf ein eine einen
    kein keine wurde wurden noch tage bis anruf anrufer anrufernummer instanz instanzen
    lizenz ruhe umleitung umleitungen umgangen besetzt ergebnis aktiv ausnahmen angerufen
    angerufene zeile datei hochladen speichern löschen januar februar märz mai juni juli
    oktober dezember uhr abmelden hersteller zustand variante teilnehmer gruppen
    mitglieder wann wirkung durchbrüche testphase lizenziert abgelaufen ja nein""",
    )
)
UMLAUTS = re.compile(r"[äöüÄÖÜß„“]")

VISIBLE_TEXT = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { out.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.getAttribute("translate") === "no") return;
    if (["SCRIPT", "STYLE", "TEMPLATE"].includes(node.tagName)) return;
    const style = getComputedStyle(node);
    if (style.display === "none" || style.visibility === "hidden") return;
    if (node.tagName === "DETAILS" && !node.open) {
      const summary = node.querySelector("summary");
      if (summary) walk(summary);
      return;
    }
    for (const child of node.childNodes) walk(child);
    for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
      if (node.getAttribute(attr)) out.push(node.getAttribute(attr));
    }
    if (node.tagName === "INPUT" && ["submit", "button"].includes(node.type)) out.push(node.value);
  };
  walk(document.body);
  out.push(document.title);
  return out.join("\\n");
}"""


def foreign_words(text: str, lang: str) -> list[str]:
    """The words of `text` that belong to the other language."""
    found = []
    for word in re.findall(r"[A-Za-zÄÖÜäöüß]+", text):
        if word.isupper() and len(word) > 1:
            continue
        lower = word.lower()
        if lang == "de" and lower in ENGLISH:
            found.append(word)
        if lang == "en" and (lower in GERMAN or UMLAUTS.search(word)):
            found.append(word)
    if lang == "en":
        found += UMLAUTS.findall(re.sub(r"[A-Za-zÄÖÜäöüß]+", " ", text))
    return found


def test_the_language_check_finds_what_it_should() -> None:
    # The checker itself, on sentences of both kinds.
    assert foreign_words("Es klingelt bei", "de") == []
    assert foreign_words("called 201 matched 'Aktiv für' pattern", "de") == [
        "called",
        "matched",
        "pattern",
    ]
    assert foreign_words("Rings at", "en") == []
    assert foreign_words("The code is wrong („Ausnahmen“)", "en") == ["Ausnahmen", "„", "“"]
    assert foreign_words("Log level: ERROR, WARN, INFO", "de") == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with sample_server(tmp_path_factory, "web-languages") as serve:
        yield serve


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sfm(tmp_path_factory.mktemp("dist"))


def _context_page(browser: Browser, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def _log_in(page: Page, url: str, lang: str) -> None:
    page.goto(url + "login")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/modules"))
    page.goto(url + f"lang/{lang}?next=/modules")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _csrf(page: Page) -> str:
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    return token


def _call(page: Page, url: str, caller: str, called: str) -> None:
    page.goto(url + "call")
    page.locator("input[name=from]").fill(caller)
    page.locator("input[name=to]").fill(called)
    with page.expect_navigation():
        page.locator("#call-form button").click()
    expect(page.locator("#outcome")).to_be_visible()


def _check_page(page: Page, lang: str, width: int, where: str) -> None:
    page.wait_for_load_state("load")  # the style sheet applied
    text = page.evaluate(VISIBLE_TEXT)
    shown = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    found = foreign_words(text, lang)
    assert found == [], f"{where} ({lang}, {width} px): {found} in: {shown}"
    if width <= 400:
        sizes: dict[str, Any] = page.evaluate(
            """() => ({
              scroll: document.documentElement.scrollWidth,
              view: window.innerWidth,
              widest: [...document.querySelectorAll("body *")]
                .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
                .slice(0, 3).map((e) => e.tagName + "." + e.className + "#" + e.id),
            })"""
        )
        assert sizes["scroll"] <= sizes["view"], f"{where} ({lang}) scrolls sideways: {sizes}"


@pytest.fixture(scope="module")
def installed(server: ServeProcess, dist: Path, browser: Browser) -> dict[str, str]:
    """The admin's password set, the module uploaded in the browser, the instance created
    through the JSON API; the module's and the instance's ids."""
    assert server.setup_link is not None, server.output()
    page = _context_page(browser, 1280)
    try:
        page.goto(server.setup_link)
        for field in page.locator("input[type=password]").all():
            field.fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/modules"))
        page.locator("input[name=file]").set_input_files(str(dist))
        page.locator("#upload-form button").click()
        expect(page.locator("#upload-result.done")).to_be_visible()
        module_id = page.locator("#modules a").first.get_attribute("href")
        assert module_id is not None
        module_id = module_id.rsplit("/", 1)[1]
        answer = page.request.post(
            server.url + "api/instances",
            data=json.dumps({"module": module_id, "toml": INSTANCE}),
            headers={"X-CSRF-Token": _csrf(page), "content-type": "application/json"},
        )
        assert answer.status == 201, answer.text()
        return {"module": module_id, "instance": str(answer.json()["id"])}
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_page_in_one_language_and_on_a_phone(
    server: ServeProcess,
    installed: dict[str, str],
    browser: Browser,
    tmp_path: Path,
    lang: str,
    width: int,
) -> None:
    url = server.url
    page = _context_page(browser, width)
    try:
        _log_in(page, url, lang)
        for where in (
            "modules",
            f"modules/{installed['module']}",
            "instances",
            f"instances/{installed['instance']}",
            "licence",
            "call",
            "interventions",
            "phones",
            "account",
            "p404",  # the error page
        ):
            page.goto(url + where)
            _check_page(page, lang, width, where)

        # The call tester: only the effect that changed the call is named.
        _call(page, url, "210", "203")
        _check_page(page, lang, width, "call 210 -> 203")
        changed = page.locator("#changed li")
        expect(changed).to_have_count(1)
        expect(changed.first).to_have_attribute("data-instance", "Teamleiter")
        dnd = "Ruhe umgangen" if lang == "de" else "DND bypassed"
        forwards = "Umleitungen umgangen" if lang == "de" else "forwards bypassed"
        expect(changed.first).to_contain_text(dnd)
        expect(changed.first).not_to_contain_text(forwards)
        expect(page.locator("#matched-only")).to_have_count(0)
        # A match that changed nothing is shown apart, never as a breakthrough.
        _call(page, url, "210", "202")
        _check_page(page, lang, width, "call 210 -> 202")
        expect(page.locator("#changed li")).to_have_count(0)
        expect(page.locator("#matched-only li")).to_have_text(["Teamleiter"])
        # The directory lists the groups too (the sample's "Support", 300).
        expect(page.locator("#groups")).to_contain_text("Support")
        expect(page.locator("#groups")).to_contain_text("300")

        page.goto(url + "interventions")
        _check_page(page, lang, width, "interventions")
        rows = page.locator("#interventions tbody tr")
        assert rows.count() >= 1
        for row in rows.all():
            cells = row.locator("td").all_inner_texts()
            assert cells[1:4] == ["Teamleiter", "210", "203"], cells
            assert cells[4] == dnd, cells

        # Refusals in the page's language, naming the file the admin chose.
        bad = tmp_path / "kaputt-vom-admin.sfm"
        bad.write_bytes(b"not a zip at all")
        page.goto(url + "modules")
        page.locator("input[name=file]").set_input_files(str(bad))
        with page.expect_navigation():
            page.locator("#upload-form button").click()
        refusal = page.locator("#upload-result .refusal")
        expect(refusal).to_contain_text("kaputt-vom-admin.sfm")
        expect(refusal).not_to_contain_text("upload.sfm")
        _check_page(page, lang, width, "upload refused")
        page.goto(url + "licence")
        page.locator("input[name=code]").fill("123456")
        with page.expect_navigation():
            page.locator("form[action='/licence/confirm'] button").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert "sfm " not in page.get_by_role("alert").inner_text()
        _check_page(page, lang, width, "licence refused")
    finally:
        page.context.close()


def test_module_detail_in_words(
    server: ServeProcess, installed: dict[str, str], browser: Browser
) -> None:
    page = _context_page(browser, 1280)
    try:
        _log_in(page, server.url, "de")
        page.goto(server.url + f"modules/{installed['module']}")
        # The install time local and readable ("1. Dezember 2026, 11:22 Uhr"), not ISO.
        installed_at = page.locator("#versions td.installed-at").first.inner_text()
        assert re.fullmatch(r"\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4}, \d\d:\d\d Uhr", installed_at)
        checks = page.locator("#integrity li").all_inner_texts()
        assert "✔ Manifest passt zum Deskriptor" in checks
        assert not any("_" in check for check in checks)
        expect(page.locator("#module-licence")).to_contain_text("Testphase")
        page.goto(server.url + "modules")
        expect(page.locator("#modules")).to_contain_text("Testphase")
        # One line of licence state on the licence page; the service address is no bare
        # field but an advanced setting.
        page.goto(server.url + "licence")
        expect(page.locator(".licence-state")).to_have_count(1)
        expect(page.locator("input[name=server]")).to_be_hidden()
        page.locator("details.advanced summary").click()
        expect(page.locator("input[name=server]")).to_be_visible()
    finally:
        page.context.close()
