"""`sfm serve` attacked (issue 11), as a real server process on a real data folder: every
method that could change something needs a login and a CSRF or API token, HEAD and OPTIONS
change nothing, error pages answer 404/405 in the page's language (never 500), every body
has a cap enforced while it streams, names and descriptions have stated caps, the log API
pages, and API tokens work for scripts.

Just over 500 lines on purpose: the attacks of one server, each written out with its proof,
share the one server fixture and its login helpers below."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.harness import (
    ServeProcess,
    instance_rows,
    manager_state,
    sample_folder_with_instance,
)
from tests.data.sfm_crafted import MODULE_ID, run_sfm, sfm_files

__all__ = ["sfm_files"]

PASSWORD = "correct horse battery"
MB = 1024 * 1024


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def set_up_admin(server: ServeProcess) -> httpx.Client:
    """A client logged in through the setup link the server printed."""
    assert server.setup_link is not None, server.output()
    client = httpx.Client(base_url=server.url, timeout=60)
    page = client.get(server.setup_link)
    answer = client.post(
        server.setup_link,
        data={"csrf_token": token_of(page.text), "password": PASSWORD, "repeat": PASSWORD},
    )
    assert answer.status_code == 303, answer.text
    return client



def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def module_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """conftest's licensing environment for this module's shared server and data folder
    (development mode: the test builds are signed with the development key)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SFM_DEV", "1")
        patch.setenv("SFM_STATE_DIR", str(tmp_path_factory.mktemp("user-state")))
        patch.setenv("SFM_LICENCE_SERVICE", "")
        yield


@pytest.fixture(scope="module")
def data(
    tmp_path_factory: pytest.TempPathFactory,
    sfm_files: dict[str, Path],
    module_environment: None,
) -> Path:
    folder = tmp_path_factory.mktemp("attack") / "data"
    return sample_folder_with_instance(folder, sfm_files["current"])


@pytest.fixture(scope="module")
def server(data: Path) -> Iterator[ServeProcess]:
    serve = ServeProcess(data)
    try:
        yield serve
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def admin(server: ServeProcess) -> Iterator[httpx.Client]:
    client = set_up_admin(server)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def api_token(data: Path, server: ServeProcess) -> str:
    code, out, err = run_sfm("--data", data, "--json", "admin", "token", "create", "script")
    assert code == 0, err
    token: str = json.loads(out)["token"]
    return token


def teamleiter_id(data: Path) -> int:
    conn = sqlite3.connect(data / "pbx.sqlite3")
    try:
        return int(conn.execute("SELECT id FROM instances WHERE name = 'Teamleiter'").fetchone()[0])
    finally:
        conn.close()


# ----------------------------------------------------------------------------- error pages

NOT_FOUND = {
    "de": ("Diese Seite gibt es nicht", "Es gibt kein Modul", "Es gibt keine Instanz"),
    "en": ("There is no such page", "There is no module", "There is no instance"),
}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_error_pages_answer_404_and_405_in_the_pages_language(
    admin: httpx.Client, server: ServeProcess, lang: str
) -> None:
    page_missing, module_missing, instance_missing = NOT_FOUND[lang]
    admin.cookies.set("sfm_lang", lang)
    for path, words in (
        ("/loginx", page_missing),
        ("/static/x.css", page_missing),
        ("/nosuch/page", page_missing),
        ("/modules/nosuch", module_missing),
        ("/instances/999", instance_missing),
    ):
        answer = admin.get(path)
        assert answer.status_code == 404, (path, answer.status_code, answer.text[:300])
        assert words in answer.text, (path, answer.text[:500])
        assert f'<html lang="{lang}">' in answer.text
    # The same before login (the error page needs no session).
    with httpx.Client(base_url=server.url, timeout=30, cookies={"sfm_lang": lang}) as anonymous:
        answer = anonymous.get("/loginx")
        assert answer.status_code == 404 and page_missing in answer.text
    for path in ("/instances/new", "/modules/upload", "/login", "/instances/999"):
        answer = admin.request("OPTIONS", path)
        assert answer.status_code == 405, (path, answer.status_code)
        assert "allow" in answer.headers
        assert ("nicht möglich" if lang == "de" else "not possible") in answer.text
    # HEAD is a GET without a body: the form page's headers; on a POST-only route, 405.
    head = admin.head("/instances/new")
    assert head.status_code == 200 and head.content == b""
    head = admin.head("/logout")
    assert head.status_code == 405 and head.content == b""
    head = admin.head("/instances/999")
    assert head.status_code == 404
    # The API answers JSON errors.
    answer = admin.get("/api/nosuch")
    assert answer.status_code == 404 and answer.json()["error"]
    admin.cookies.delete("sfm_lang")


# ----------------------------------------------------------------------------- methods


def test_head_and_options_with_a_form_body_change_nothing(
    admin: httpx.Client, data: Path
) -> None:
    page = admin.get("/instances/new")
    token = token_of(page.text)
    before = instance_rows(data)
    form = {
        "csrf_token": token,
        "module_id": MODULE_ID,
        "name": "Made by HEAD",
        "numbers.called.active": "*",
        "log_level": "INFO",
    }
    for method in ("HEAD", "OPTIONS"):
        answer = admin.request(method, "/instances/new", data=form)
        assert answer.status_code in (200, 405), (method, answer.status_code)
    # HEAD on the action URLs neither: they are POST-only.
    instance_id = teamleiter_id(data)
    for action in ("deactivate", "delete"):
        answer = admin.request("HEAD", f"/instances/{instance_id}/{action}", data=form)
        assert answer.status_code == 405
    assert instance_rows(data) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "FROB"])
def test_every_other_method_needs_the_csrf_token(
    admin: httpx.Client, data: Path, method: str
) -> None:
    instance_id = teamleiter_id(data)
    before = instance_rows(data)
    for path in (f"/instances/{instance_id}/deactivate", f"/api/instances/{instance_id}"):
        answer = admin.request(method, path, content=b'{"config": {"active": false}}')
        assert answer.status_code == 403, (method, path, answer.status_code)
        answer = admin.request(
            method, path, content=b'{"config": {}}', headers={"X-CSRF-Token": "forged"}
        )
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert instance_rows(data) == before


def test_no_change_without_login(server: ServeProcess, data: Path) -> None:
    instance_id = teamleiter_id(data)
    before = instance_rows(data)
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "FROB"):
            answer = anonymous.request(method, f"/api/instances/{instance_id}", json={})
            assert answer.status_code == 401, (method, answer.status_code)
            answer = anonymous.request(method, f"/instances/{instance_id}/deactivate")
            assert answer.status_code in (303, 401), (method, answer.status_code)
    assert instance_rows(data) == before


def test_api_tokens_for_scripts(
    server: ServeProcess, data: Path, api_token: str, admin: httpx.Client
) -> None:
    instance_id = teamleiter_id(data)
    with httpx.Client(base_url=server.url, timeout=60) as script:
        bearer = {"Authorization": f"Bearer {api_token}"}
        assert script.get("/api/modules", headers=bearer).status_code == 200
        # No cookie, no CSRF token: the token alone is enough for a change.
        answer = script.post(f"/api/instances/{instance_id}/deactivate", headers=bearer)
        assert answer.status_code == 200, answer.text
        assert answer.json()["active"] is False
        answer = script.post(f"/api/instances/{instance_id}/activate", headers=bearer)
        assert answer.json()["active"] is True
        for wrong in ("Bearer sfm_forged", "Bearer x", "Basic YWRtaW46eA==", "Bearer"):
            answer = script.get("/api/modules", headers={"Authorization": wrong})
            assert answer.status_code == 401, wrong
        code, _, err = run_sfm("--data", data, "admin", "token", "revoke", "script2")
        assert code == 2 and "script" in err  # names the tokens there are
        # A token made on the account page works the same and can be revoked there.
        page = admin.get("/account")
        made = admin.post(
            "/account/tokens", data={"csrf_token": token_of(page.text), "name": "page-made"}
        )
        assert made.status_code == 200
        new = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
        assert new
        page_token = {"Authorization": f"Bearer {new.group(1)}"}
        assert script.get("/api/modules", headers=page_token).status_code == 200
        revoked = admin.post(
            "/account/tokens/revoke",
            data={"csrf_token": token_of(made.text), "name": "page-made"},
        )
        assert revoked.status_code == 303
        assert script.get("/api/modules", headers=page_token).status_code == 401
        assert script.get("/api/modules", headers=bearer).status_code == 200


# ----------------------------------------------------------------------------- sizes


def _raw_post(
    url: str,
    path: str,
    headers: dict[str, str],
    body_bytes: int,
    chunked: bool,
    prefix: bytes = b"",
) -> tuple[int, int]:
    """POST `body_bytes` of zeros over a raw socket, stopping when the server answers.

    Returns (status, bytes sent). With `chunked`, no Content-Length: the server only learns
    the size as the body streams in.
    """
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {body_bytes}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    if prefix:
        sock.sendall((f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n") if chunked else prefix)
    chunk = b"\0" * (256 * 1024)
    sent = 0
    answer = b""
    sock.setblocking(False)
    try:
        while sent < body_bytes:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            piece = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk
            try:
                sock.setblocking(True)
                sock.settimeout(5)
                sock.sendall(piece)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, sent


def test_an_upload_with_the_csrf_header_is_refused_while_it_streams(
    server: ServeProcess, admin: httpx.Client, data: Path
) -> None:
    page = admin.get("/modules")
    token = token_of(page.text)
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    before = manager_state(data)
    baseline = rss_kib(server.process.pid)
    peak = baseline
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(server.process.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    headers = {
        "Cookie": cookie,
        "X-CSRF-Token": token,
        "Content-Type": "multipart/form-data; boundary=xyz",
    }
    # A real multipart upload of a 1 GB file part (zeros), sent as it would stream.
    prefix = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.sfm"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    try:
        status, sent = _raw_post(
            server.url, "/modules/upload", headers, 1024 * MB, True, prefix
        )
    finally:
        done.set()
        watcher.join()
    assert status == 413
    assert sent < 200 * MB  # refused long before the 1 GB arrived
    assert (peak - baseline) * 1024 < 100 * MB, (baseline, peak)
    # Declared too large: refused before a byte of the body is read.
    status, sent = _raw_post(server.url, "/modules/upload", headers, 1024 * MB, False)
    assert status == 413 and sent < 200 * MB
    assert manager_state(data) == before


def test_every_upload_path_has_a_cap(
    server: ServeProcess, admin: httpx.Client, data: Path, api_token: str
) -> None:
    page = admin.get("/modules")
    token = token_of(page.text)
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    before = manager_state(data)
    with_session = {"Cookie": cookie, "X-CSRF-Token": token, "Content-Type": "text/plain"}
    with_token = {"Authorization": f"Bearer {api_token}", "Content-Type": "text/plain"}
    # Module uploads: up to the .sfm cap (64 MB) plus the multipart frame.
    multipart = {"Content-Type": "multipart/form-data; boundary=xyz"}
    prefix = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.sfm"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    for path, headers in (("/api/modules", with_token), ("/modules/upload", with_session)):
        status, sent = _raw_post(
            server.url, path, {**headers, **multipart}, 100 * MB, True, prefix
        )
        assert status == 413 and sent < 100 * MB, path
    # Everything else: 2 MB (forms, JSON, licence files); form bodies without the header too.
    form_headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    for path, headers in (
        ("/licence/import", {**with_session, **multipart}),
        ("/licence/import", form_headers),
        ("/instances/new", form_headers),
        ("/api/instances", with_token),
        ("/api/call", with_token),
        ("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ):
        lead = prefix if "multipart" in headers["Content-Type"] else b""
        status, _ = _raw_post(server.url, path, headers, 3 * MB, True, lead)
        assert status == 413, path
    assert manager_state(data) == before
    # And the refusal is in words, in the page's language.
    admin.cookies.set("sfm_lang", "en")
    answer = admin.post(
        "/instances/new",
        content=b"x" * (3 * MB),
        headers={"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    admin.cookies.delete("sfm_lang")
    assert "at most 2 MB" in answer.text and "Nothing was changed" in answer.text


def test_names_and_descriptions_have_stated_caps(
    admin: httpx.Client, data: Path, api_token: str, server: ServeProcess
) -> None:
    bearer = {"Authorization": f"Bearer {api_token}"}
    before = instance_rows(data)
    with httpx.Client(base_url=server.url, timeout=60, headers=bearer) as script:
        huge = "N" * MB
        answer = script.post(
            "/api/instances",
            json={"module": MODULE_ID, "config": {"name": huge, "numbers": {}}},
        )
        assert answer.status_code == 400
        assert "name: 1048576 characters, at most 100" in answer.json()["error"]
        instance_id = teamleiter_id(data)
        answer = script.patch(
            f"/api/instances/{instance_id}", json={"config": {"description": "d" * 2001}}
        )
        assert answer.status_code == 400
        assert "description: 2001 characters, at most 2000" in answer.json()["error"]
    code, _, err = run_sfm("--data", data, "instance", "update", "Teamleiter", "--name", "x" * 101)
    assert code == 2 and "at most 100" in err
    assert instance_rows(data) == before
    # At the cap is fine.
    code, _, err = run_sfm(
        "--data", data, "instance", "update", "Teamleiter", "--description", "d" * 2000
    )
    assert code == 0, err
    code, _, err = run_sfm("--data", data, "instance", "update", "Teamleiter", "--description", "")
    assert code == 0, err


# ----------------------------------------------------------------------------- log pages


def test_the_log_api_answers_in_pages(
    server: ServeProcess, data: Path, api_token: str
) -> None:
    instance_id = teamleiter_id(data)
    folder = data / "logs" / "instances" / str(instance_id)
    folder.mkdir(parents=True, exist_ok=True)
    # A full log: three rotated files and the current one, 32 MB of numbered lines in all.
    lines = [f"2026-12-01T10:00:00.000Z INFO line {n:08d} {'x' * 70}\n" for n in range(400_000)]
    everything = "".join(lines).encode()
    assert len(everything) >= 32 * MB
    quarter = len(lines) // 4
    for index, name in enumerate(("instance.log.3", "instance.log.2", "instance.log.1")):
        (folder / name).write_text("".join(lines[index * quarter : (index + 1) * quarter]))
    (folder / "instance.log").write_text("".join(lines[3 * quarter :]))
    bearer = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=bearer) as script:
        newest = script.get(f"/api/instances/{instance_id}/log").json()
        assert newest["size"] == len(everything)
        assert 0 < len(newest["log"].encode()) <= 256 * 1024
        assert newest["log"].endswith(lines[-1]) and newest["log"].startswith("2026-")
        assert newest["end"] == newest["size"] and newest["more_before"]
        # Paged from the start with the largest page: together exactly the log.
        pages = []
        offset = 0
        while True:
            page = script.get(
                f"/api/instances/{instance_id}/log", params={"offset": offset, "limit": 10 * MB}
            ).json()
            assert len(page["log"].encode()) <= MB  # the cap holds, whatever was asked
            assert page["offset"] == offset
            pages.append(page["log"])
            if not page["more_after"]:
                break
            offset = page["end"]
        assert "".join(pages).encode() == everything
        assert all(p.endswith("\n") for p in pages)
        bad = script.get(f"/api/instances/{instance_id}/log", params={"offset": "-5"})
        assert bad.status_code == 400 and "offset" in bad.json()["error"]
    for path in folder.iterdir():
        path.unlink()


@pytest.mark.parametrize("body", [b'{"dnd": tru', b'["dnd", true]', b'{"dnd": "\xff"}'])
def test_a_json_api_body_that_is_no_json_object_is_refused_in_words(
    admin: httpx.Client, data: Path, body: bytes
) -> None:
    # The module manager's API and the phones' API read JSON bodies the same way.
    headers = {"X-CSRF-Token": token_of(admin.get("/instances/new").text)}
    instances_before = instance_rows(data)
    users_before = admin.get("/api/pbx/users").json()
    for path in ("/api/instances", "/api/pbx/users/boss"):
        answer = admin.post(path, content=body, headers=headers)
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        assert answer.json()["error"] in (
            "request body: not JSON",
            "request body: a JSON object is expected",
        ), answer.text
    assert instance_rows(data) == instances_before
    assert admin.get("/api/pbx/users").json() == users_before
