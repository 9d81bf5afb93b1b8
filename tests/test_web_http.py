"""`sfm serve` at the HTTP level: nothing without login, nothing changed without the CSRF token,
the setup link works once, logout ends the session, and a bad .sfm is refused in words with
nothing changed. A real server (subprocess) on 127.0.0.1 against a tmp data folder."""

from __future__ import annotations

import re
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.harness import (
    ServeProcess,
    build_sfm,
    instance_rows,
    manager_state,
    sample_server,
)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sfm(tmp_path_factory.mktemp("dist"))


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A server on a fresh data folder for each test, so that every test passes alone and in
    any order."""
    with sample_server(tmp_path_factory, "web-http") as serve:
        yield serve


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


@pytest.fixture
def admin(server: ServeProcess) -> Iterator[httpx.Client]:
    """A client logged in through the setup link the server printed."""
    assert server.setup_link is not None, server.output()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(server.setup_link)
        assert page.status_code == 200
        answer = client.post(
            server.setup_link,
            data={"csrf_token": _token(page.text), "password": PASSWORD, "repeat": PASSWORD},
        )
        assert answer.status_code == 303
        assert "sfm_session" in client.cookies
        yield client


SECRETARY = {
    "name": "Sekretariat",
    "var.logLevel": "INFO",
    "var.calledActive": "201",
    "var.callerActive": "202",
}


def _install(admin: httpx.Client, dist: Path) -> str:
    """Upload the build; the module's id."""
    token = _token(admin.get("/modules").text)
    installed = admin.post(
        "/modules/upload",
        data={"csrf_token": token},
        files={"file": (dist.name, dist.read_bytes(), "application/octet-stream")},
    )
    assert installed.status_code == 200
    module_id = re.search(r'href="/modules/([0-9a-f-]{36})"', installed.text)
    assert module_id is not None
    return module_id.group(1)


@pytest.fixture
def secretary(admin: httpx.Client, dist: Path) -> str:
    """The module installed with one instance, "Sekretariat": it lets 202 through the boss's
    (201) forward to 202. The module's id."""
    module_id = _install(admin, dist)
    saved = admin.post(
        "/instances/new",
        data={
            "csrf_token": _token(admin.get("/modules").text),
            "module_id": module_id,
            **SECRETARY,
            "var.bypassRedirects": "1",
            "var.bypassSelfRedirectsOnly": "1",
        },
    )
    assert saved.status_code == 303
    return module_id


def test_pages_and_api_need_login(server: ServeProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for path in ("/", "/modules", "/instances", "/licence", "/call", "/interventions"):
            answer = anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=")
        for path in ("/api/modules", "/api/interventions"):
            answer = anonymous.get(path)
            assert answer.status_code == 401, path
            assert answer.json()["error"]
        assert anonymous.post("/api/call", json={"from": "210", "to": "203"}).status_code == 401
        # The login page itself and static files answer.
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/static/app.css").status_code == 200


def test_setup_link_refuses_without_csrf_and_short_passwords(server: ServeProcess) -> None:
    # No `admin` here: the link of the fresh server is not taken yet.
    assert server.setup_link is not None
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(server.setup_link)
        assert page.status_code == 200
        no_token = client.post(server.setup_link, data={"password": PASSWORD, "repeat": PASSWORD})
        assert no_token.status_code == 403
        short = client.post(
            server.setup_link,
            data={"csrf_token": _token(page.text), "password": "short", "repeat": "short"},
        )
        assert short.status_code == 400
        assert "8" in short.text
        assert "sfm_session" not in client.cookies
        assert client.get("/login").text.count("Einrichtungslink") == 1  # still no admin


def test_setup_link_works_once_and_session_cookie_is_strict(
    server: ServeProcess, admin: httpx.Client
) -> None:
    assert server.setup_link is not None
    again = httpx.get(server.setup_link, timeout=30)
    assert again.status_code == 404
    # The cookie the setup set: HttpOnly and SameSite=Strict (plain http here, so no Secure).
    login_page = httpx.get(server.url + "login", timeout=30)
    answer = httpx.post(
        server.url + "login",
        data={
            "csrf_token": _token(login_page.text),
            "username": "admin",
            "password": PASSWORD,
        },
        cookies=login_page.cookies,
        timeout=30,
    )
    assert answer.status_code == 303
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith("sfm_session=")
    )
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()
    conn = sqlite3.connect(server.data_dir / "pbx.sqlite3")
    try:
        (stored,) = conn.execute("SELECT password_hash FROM web_users").fetchone()
    finally:
        conn.close()
    assert stored.startswith("$argon2") and PASSWORD not in stored


def test_wrong_password_is_refused(server: ServeProcess, admin: httpx.Client) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={"csrf_token": _token(page.text), "username": "admin", "password": "wrong one"},
        )
        assert answer.status_code == 401
        assert "sfm_session" not in client.cookies
        assert client.get("/modules").status_code == 303


def test_login_without_csrf_is_refused(server: ServeProcess, admin: httpx.Client) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.get("/login")
        answer = client.post("/login", data={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 403
        assert "sfm_session" not in client.cookies


def test_changes_need_the_csrf_token(server: ServeProcess, admin: httpx.Client, dist: Path) -> None:
    before = manager_state(server.data_dir)
    sfm = dist.read_bytes()
    files = {"file": (dist.name, sfm, "application/octet-stream")}
    for data in ({}, {"csrf_token": "forged"}):
        answer = admin.post("/modules/upload", data=data, files=files)
        assert answer.status_code == 403
    answer = admin.post("/modules/upload", files=files, headers={"X-CSRF-Token": "forged"})
    assert answer.status_code == 403
    # The JSON API too: a POST without the header or with a wrong one never reaches a handler.
    assert admin.post("/api/call", json={"from": "210", "to": "203"}).status_code == 403
    assert (
        admin.post(
            "/api/call", json={"from": "210", "to": "203"}, headers={"X-CSRF-Token": "x"}
        ).status_code
        == 403
    )
    # Logout without the token does not log out.
    assert admin.post("/logout").status_code == 403
    assert admin.get("/modules").status_code == 200
    assert manager_state(server.data_dir) == before


def test_bad_sfm_is_refused_in_words_and_changes_nothing(
    server: ServeProcess, admin: httpx.Client, tmp_path: Path, dist: Path
) -> None:
    token = _token(admin.get("/modules").text)
    before = manager_state(server.data_dir)

    not_a_zip = admin.post(
        "/modules/upload",
        data={"csrf_token": token},
        files={"file": ("broken.sfm", b"this is no zip file", "application/octet-stream")},
    )
    assert not_a_zip.status_code == 400
    assert "broken.sfm" in not_a_zip.text
    assert re.search(r"(?i)zip", not_a_zip.text)
    assert 'class="error refusal"' in not_a_zip.text

    # A real build with one entry that climbs out of the install folder.
    evil = tmp_path / "evil.sfm"
    with zipfile.ZipFile(dist) as source, zipfile.ZipFile(evil, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("../../escape.txt", b"out")
    climbing = admin.post(
        "/modules/upload",
        data={"csrf_token": token},
        files={"file": ("evil.sfm", evil.read_bytes(), "application/octet-stream")},
    )
    assert climbing.status_code == 400
    assert "evil.sfm" in climbing.text and "escape.txt" in climbing.text
    assert manager_state(server.data_dir) == before
    assert not (server.data_dir.parent / "escape.txt").exists()


def test_logout_ends_the_session_for_copies_of_the_cookie(
    server: ServeProcess, admin: httpx.Client
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/login")
        client.post(
            "/login",
            data={"csrf_token": _token(page.text), "username": "admin", "password": PASSWORD},
        )
        cookie = client.cookies["sfm_session"]
        token = _token(client.get("/modules").text)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    copied = httpx.get(server.url + "modules", cookies={"sfm_session": cookie}, timeout=30)
    assert copied.status_code == 303
    assert copied.headers["location"].startswith("/login")
    forged = httpx.get(
        server.url + "api/modules", cookies={"sfm_session": cookie + "x"}, timeout=30
    )
    assert forged.status_code == 401


def test_pages_carry_protective_headers(admin: httpx.Client) -> None:
    answer = admin.get("/modules")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_cookies_are_secure_behind_an_https_proxy(
    server: ServeProcess, admin: httpx.Client
) -> None:
    # A TLS-terminating proxy on this machine says so with X-Forwarded-Proto (uvicorn trusts
    # 127.0.0.1); the browser then gets cookies it sends over https only.
    https = {"X-Forwarded-Proto": "https"}
    page = httpx.get(server.url + "login", headers=https, timeout=30)
    prelogin = page.headers["set-cookie"]
    assert "; secure" in prelogin.lower() and "httponly" in prelogin.lower()
    cookie = prelogin.split(";", 1)[0]
    answer = httpx.post(
        server.url + "login",
        data={"csrf_token": _token(page.text), "username": "admin", "password": PASSWORD},
        headers={**https, "Cookie": cookie},
        timeout=30,
    )
    assert answer.status_code == 303
    session = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith("sfm_session=")
    )
    assert "; secure" in session.lower()
    assert "httponly" in session.lower() and "samesite=strict" in session.lower()


def test_the_server_refuses_the_self_redirect_switch_alone(
    server: ServeProcess, admin: httpx.Client, dist: Path
) -> None:
    module_id = _install(admin, dist)
    fields = {
        "csrf_token": _token(admin.get("/modules").text),
        "module_id": module_id,
        **SECRETARY,
        # What a browser with the disabled attribute removed would send.
        "var.bypassSelfRedirectsOnly": "1",
    }
    refused = admin.post("/instances/new", data=fields)
    assert refused.status_code == 400
    assert 'id="err-var-bypassSelfRedirectsOnly"' in refused.text
    assert instance_rows(server.data_dir) == []

    saved = admin.post("/instances/new", data={**fields, "var.bypassRedirects": "1"})
    assert saved.status_code == 303
    (row,) = instance_rows(server.data_dir)
    assert "Sekretariat" in row
    # The same name twice in one module: refused at the name field, nothing added.
    twice = admin.post("/instances/new", data={**fields, "var.bypassRedirects": "1"})
    assert twice.status_code == 400
    assert 'id="err-name"' in twice.text and "Sekretariat" in twice.text
    assert len(instance_rows(server.data_dir)) == 1


def test_the_json_call_test_records_interventions(
    server: ServeProcess, admin: httpx.Client, secretary: str
) -> None:
    token = _token(admin.get("/modules").text)
    answer = admin.post(
        "/api/call", json={"from": "202", "to": "201"}, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200
    result = answer.json()
    assert result["outcome"] == "ring"
    assert result["rings"] == ["boss"]
    assert [entry["instance"] for entry in result["applied"]] == ["Sekretariat"]
    # Both of its redirect bypasses undo the forward to the caller; each would have alone.
    assert result["changed"] == [
        {"instance": "Sekretariat", "effects": ["bypass_redirects", "bypass_self_redirects_only"]}
    ]
    records = admin.get("/api/interventions").json()
    assert [(r["instance"], r["caller"], r["called"]) for r in records] == [
        ("Sekretariat", "202", "201")
    ]
    refused = admin.post(
        "/api/call", json={"from": "202", "to": "12ab"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 400
    assert "12ab" in refused.json()["error"]

    # Editing with a bad pattern changes nothing; deactivating in the list takes effect at once.
    (instance,) = admin.get("/api/instances").json()
    before = manager_state(server.data_dir)
    bad_edit = admin.post(
        f"/instances/{instance['id']}",
        data={
            "csrf_token": token,
            "name": "Sekretariat",
            "var.logLevel": "INFO",
            "var.calledActive": "201\n20#1",
            "var.callerActive": "202",
        },
    )
    assert bad_edit.status_code == 400
    assert 'data-line="2"' in bad_edit.text
    assert manager_state(server.data_dir) == before
    off = admin.post(f"/instances/{instance['id']}/deactivate", data={"csrf_token": token})
    assert off.status_code == 303
    call = admin.post(
        "/api/call", json={"from": "202", "to": "201"}, headers={"X-CSRF-Token": token}
    ).json()
    # Without the instance the boss's forward applies: it rings at the secretary (the caller).
    assert call["applied"] == [] and call["rings"] == ["secretary"]
    assert call["forwarded_to"] == ["202"]
    on = admin.post(f"/instances/{instance['id']}/activate", data={"csrf_token": token})
    assert on.status_code == 303
    call = admin.post(
        "/api/call", json={"from": "202", "to": "201"}, headers={"X-CSRF-Token": token}
    ).json()
    assert call["rings"] == ["boss"] and call["forwarded_to"] == []


def test_the_module_managers_api_is_behind_login_and_csrf(
    server: ServeProcess, admin: httpx.Client, secretary: str
) -> None:
    (module,) = admin.get("/api/modules").json()
    assert module["name"] == "Breakthrough"
    (instance,) = admin.get("/api/instances").json()
    before = manager_state(server.data_dir)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        assert admin.delete(f"/api/instances/{instance['id']}", headers=headers).status_code == 403
        assert (
            admin.post(f"/api/modules/{module['id']}/rollback", headers=headers).status_code == 403
        )
    assert manager_state(server.data_dir) == before
    assert httpx.get(server.url + "api/instances", timeout=30).status_code == 401


def test_module_page_shows_both_versions_and_rolls_back(
    server: ServeProcess, admin: httpx.Client, dist: Path, tmp_path: Path, secretary: str
) -> None:
    from tests.data.sfm_crafted import with_version

    newer = with_version(dist, tmp_path / "Breakthrough-newer.sfm", 262)
    token = _token(admin.get("/modules").text)
    upgraded = admin.post(
        "/modules/upload",
        data={"csrf_token": token},
        files={"file": (newer.name, newer.read_bytes(), "application/octet-stream")},
    )
    assert upgraded.status_code == 200
    assert 'data-action="upgraded"' in upgraded.text
    (module,) = admin.get("/api/modules").json()
    assert (module["version"], module["previous_version"]) == (262, 261)
    page = admin.get(f"/modules/{module['id']}")
    versions = re.findall(r"<small>\((\d+)\)</small>", page.text)
    assert versions == ["262", "261"]
    assert admin.post(f"/modules/{module['id']}/rollback").status_code == 403
    rolled = admin.post(f"/modules/{module['id']}/rollback", data={"csrf_token": token})
    assert rolled.status_code == 303
    after = admin.get(rolled.headers["location"])
    assert "Zurückgesetzt." in after.text
    (module,) = admin.get("/api/modules").json()
    assert (module["version"], module["previous_version"]) == (261, 262)
    # The instance survived both changes.
    assert [i["name"] for i in admin.get("/api/instances").json()] == ["Sekretariat"]
