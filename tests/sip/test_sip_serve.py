"""`sfm serve --sip`: the PBX host with Kamailio as a child process, a real baresip phone, and
the users' live DND and redirects set through the JSON API and `sfm pbx user`, taking effect on
the next real call without a restart. The phones page and the call tester show the phones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.cpu_latency import DEVICE
from runtime.sip.kamailio import free_udp_port
from tests.data.sfm_crafted import run_sfm
from tests.sip.baresip import Baresip
from tests.sip.idle_cpus import bound_in_force
from tests.sip.sipp import Phone, SipTarget, call

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
PW = {"201": "boss-phone-pw", "202": "sec-phone-pw", "205": "lead-phone-pw",
      "270": "gina-phone-pw"}  # fmt: skip

DIRECTORY = f"""\
[pbx]
version = "8.1.0.4"
country_code = "49"
area_code = "251"
international_prefix = "00"
national_prefix = "0"

[[users]]
id = "boss"
name = "Max Mustermann"
numbers = ["201"]
sip_password = "{PW["201"]}"
redirects.timeout = {{ enabled = true, destination = "voicemail", seconds = 2 }}

[[users]]
id = "sec"
name = "Erika Sekretariat"
numbers = ["202"]
sip_password = "{PW["202"]}"

[[users]]
id = "lead"
name = "Lena Lead"
numbers = ["205"]
sip_password = "{PW["205"]}"

[[users]]
id = "gina"
name = "Gina Gruppe"
numbers = ["270"]
sip_password = "{PW["270"]}"
"""


class Serve:
    def __init__(self, data: Path, sip_port: int, *options: str) -> None:
        self.data = data
        self.sip = SipTarget("127.0.0.1", sip_port)
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sfm_cli.main",
                "serve",
                "--data",
                str(data),
                "--port",
                "0",
                "--sip",
                f"127.0.0.1:{sip_port}",
                *options,
            ],  # fmt: skip
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.url = ""
        self.setup = ""
        until = time.monotonic() + 90
        while time.monotonic() < until and not (self.url and self.setup):
            assert self.proc.poll() is None, "sfm serve ended:\n" + "\n".join(self.lines)
            for line in list(self.lines):
                if m := re.search(r"the PBX host runs on (http://\S+/)", line):
                    self.url = m.group(1)
                if m := re.match(r"^\s+(http://\S+/setup/\S+)$", line):
                    self.setup = m.group(1)
            time.sleep(0.1)
        assert self.url and self.setup, "\n".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token"
    return m.group(1)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    folder = tmp_path_factory.mktemp("sip-serve")
    (folder / "pbx.toml").write_text(DIRECTORY, encoding="utf-8")
    data = folder / "data"
    assert run_sfm("--data", data, "pbx", "load", folder / "pbx.toml")[0] == 0
    running = Serve(data, free_udp_port())
    yield running
    running.stop()
    pid_file = data / "sip" / "kamailio.pid"
    if pid_file.is_file():  # Kamailio ended with the host
        pid = int(pid_file.read_text().strip() or 0)
        until = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and not _zombie(pid) and time.monotonic() < until:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), "Kamailio outlived the host"
    assert bound_in_force() > 0, "idle CPUs still poll after the host ended"


def open_files(pid: int) -> set[str]:
    """What the process's file descriptors point to."""
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            out.add(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
    return out


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


@pytest.fixture(scope="module")
def admin(serve: Serve) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve.url, timeout=30) as client:
        page = client.get(serve.setup)
        answer = client.post(
            serve.setup,
            data={"csrf_token": _token(page.text), "password": PASSWORD, "repeat": PASSWORD},
        )
        assert answer.status_code == 303
        yield client


def test_serve_says_that_the_call_path_runs_at_real_time_priority(serve: Serve) -> None:
    # The test machines run as root, where the kernel allows it (runtime/realtime.py).
    cpu = max(os.sched_getaffinity(0))
    expected = f"sfm serve: sip: the call path runs at real-time priority on CPU {cpu} "
    assert any(line.startswith(expected) for line in serve.lines), "\n".join(serve.lines)


def test_serve_keeps_idle_cpus_polling_while_it_runs(serve: Serve) -> None:
    # As root the kernel takes the request (runtime/cpu_latency.py); the fixture checks that it
    # ends with the host.
    expected = (
        "sfm serve: sip: idle CPUs poll while the host takes calls (CPU wake-up latency held "
        "at 0 us through /dev/cpu_dma_latency)"
    )
    assert expected in serve.lines, "\n".join(serve.lines)
    assert bound_in_force() == 0
    assert str(DEVICE) in open_files(serve.proc.pid)


def test_serve_without_idle_polling_leaves_the_cpus_alone(tmp_path: Path) -> None:
    (tmp_path / "pbx.toml").write_text(DIRECTORY, encoding="utf-8")
    data = tmp_path / "data"
    assert run_sfm("--data", data, "pbx", "load", tmp_path / "pbx.toml")[0] == 0
    running = Serve(data, free_udp_port(), "--no-idle-polling")
    try:
        expected = "sfm serve: sip: idle CPUs sleep as the kernel chooses (--no-idle-polling)"
        assert expected in running.lines, "\n".join(running.lines)
        # Another host of this module may hold a request meanwhile: this one holds none.
        assert str(DEVICE) not in open_files(running.proc.pid)
    finally:
        running.stop()


def test_baresip_registers_and_is_rung_by_a_real_call(
    serve: Serve, admin: httpx.Client, tmp_path: Path
) -> None:
    phone = Baresip(tmp_path / "baresip", "201", PW["201"], serve.sip.port)
    try:
        until = time.monotonic() + 20
        mine: list[dict[str, object]] = []
        while time.monotonic() < until:
            registrations = admin.get("/api/sip").json()["registrations"]
            mine = [r for r in registrations if r["aor"] == "201"]
            if mine:
                break
            time.sleep(0.2)
        assert len(mine) == 1, f"201 did not register; baresip said:\n{phone.output()}"
        assert "baresip" in str(mine[0]["user_agent"])
        page = admin.get("/phones").text
        assert 'id="registrations"' in page and "baresip" in page
        # The boss does not answer: after 2 s his timeout redirect to voicemail, and with no
        # voicemail set up the caller hears 480.
        assert call(tmp_path / "c", serve.sip, "205", "201", 480, password=PW["205"])
        assert "Incoming call from" in phone.output() and "sip:205@" in phone.output()
    finally:
        phone.stop()


def test_dnd_through_the_json_api_takes_effect_on_the_next_call(
    serve: Serve, admin: httpx.Client, tmp_path: Path
) -> None:
    token = _token(admin.get("/phones").text)
    on = admin.post("/api/pbx/users/sec", json={"dnd": True}, headers={"X-CSRF-Token": token})
    assert on.status_code == 200 and on.json()["dnd"] is True
    sec = Phone(tmp_path / "p1", serve.sip, "202", PW["202"]).start()
    assert call(tmp_path / "c1", serve.sip, "205", "202", 486, password=PW["205"])
    sec.stop()
    assert not sec.was_rung()
    off = admin.post("/api/pbx/users/sec", json={"dnd": False}, headers={"X-CSRF-Token": token})
    assert off.status_code == 200 and off.json()["dnd"] is False
    sec = Phone(tmp_path / "p2", serve.sip, "202", PW["202"]).start()
    assert call(tmp_path / "c2", serve.sip, "205", "202", 200, password=PW["205"])
    assert sec.wait() == 0 and sec.was_rung()


def test_refused_api_changes_say_why_and_change_nothing(serve: Serve, admin: httpx.Client) -> None:
    token = _token(admin.get("/phones").text)
    before = admin.get("/api/pbx/users").json()
    headers = {"X-CSRF-Token": token}
    nobody = admin.post("/api/pbx/users/nobody", json={"dnd": True}, headers=headers)
    assert nobody.status_code == 404 and "nobody" in nobody.json()["error"]
    bad = admin.post("/api/pbx/users/sec", json={"dnd": "yes"}, headers=headers)
    assert bad.status_code == 400 and "dnd" in bad.json()["error"]
    kind = admin.post(
        "/api/pbx/users/sec", json={"redirects": {"sometimes": "205"}}, headers=headers
    )
    assert kind.status_code == 400 and "sometimes" in kind.json()["error"]
    number = admin.post(
        "/api/pbx/users/sec", json={"redirects": {"always": "20x5"}}, headers=headers
    )
    assert number.status_code == 400 and "20x5" in number.json()["error"]
    no_csrf = admin.post("/api/pbx/users/sec", json={"dnd": True})
    assert no_csrf.status_code == 403
    assert admin.get("/api/pbx/users").json() == before


def test_a_redirect_set_with_the_cli_takes_effect_on_the_next_call(
    serve: Serve, tmp_path: Path
) -> None:
    code, out, err = run_sfm("--data", serve.data, "pbx", "user", "sec", "--redirect", "always=270")
    assert code == 0, err
    assert "always -> 270" in out
    gina = Phone(tmp_path / "g", serve.sip, "270", PW["270"]).start()
    assert call(tmp_path / "c", serve.sip, "205", "202", 200, password=PW["205"])
    assert gina.wait() == 0 and gina.was_rung()
    assert '"Erika Sekretariat"' in (gina.header("Diversion") or "")
    code, out, err = run_sfm("--data", serve.data, "pbx", "user", "sec", "--redirect", "always=off")
    assert code == 0, err
    sec = Phone(tmp_path / "s", serve.sip, "202", PW["202"]).start()
    assert call(tmp_path / "c2", serve.sip, "205", "202", 200, password=PW["205"])
    assert sec.wait() == 0 and sec.was_rung()


def test_the_call_tester_says_when_a_number_has_no_registered_phone(
    serve: Serve, admin: httpx.Client
) -> None:
    registered = {r["aor"] for r in admin.get("/api/sip").json()["registrations"]}
    assert "205" not in registered  # the lead's phone never registered
    page = admin.get("/call")
    answer = admin.post("/call", data={"csrf_token": _token(page.text), "from": "202", "to": "205"})
    assert answer.status_code == 200
    assert 'id="no-phone"' in answer.text and "lead" in answer.text


def test_the_phones_page_form_switches_dnd(serve: Serve, admin: httpx.Client) -> None:
    page = admin.get("/phones")
    assert page.status_code == 200 and 'id="user-gina"' in page.text
    token = _token(page.text)
    on = admin.post("/phones/gina", data={"csrf_token": token, "dnd": "on", "always": ""})
    assert on.status_code == 303
    gina = next(u for u in admin.get("/api/pbx/users").json() if u["id"] == "gina")
    assert gina["dnd"] is True and gina["redirects"]["always"]["enabled"] is False
    bad = admin.post("/phones/gina", data={"csrf_token": token, "always": "2x0"})
    assert bad.status_code == 400 and "2x0" in bad.text
    off = admin.post("/phones/gina", data={"csrf_token": token, "always": ""})
    assert off.status_code == 303
    gina = next(u for u in admin.get("/api/pbx/users").json() if u["id"] == "gina")
    assert gina["dnd"] is False


def test_an_answered_call_is_listed_while_it_lasts(
    serve: Serve, admin: httpx.Client, tmp_path: Path
) -> None:
    sec = Phone(tmp_path / "p", serve.sip, "202", PW["202"]).start()
    result: dict[str, bool] = {}

    def place() -> None:
        result["ok"] = call(
            tmp_path / "c", serve.sip, "205", "202", 200, password=PW["205"], hold_ms=4000
        )

    caller = threading.Thread(target=place)
    caller.start()
    calls: list[dict[str, object]] = []
    until = time.monotonic() + 10
    while not calls and time.monotonic() < until:
        calls = admin.get("/api/sip").json()["calls"]
        time.sleep(0.2)
    assert len(calls) == 1
    assert calls[0]["caller"] == "205" and calls[0]["called"] == "202"
    assert sorted(calls[0]["users"]) == ["lead", "sec"]  # type: ignore[call-overload]
    assert 'id="calls"' in admin.get("/phones").text
    caller.join(20)
    assert result.get("ok") is True and sec.wait() == 0
    until = time.monotonic() + 5
    while admin.get("/api/sip").json()["calls"] and time.monotonic() < until:
        time.sleep(0.2)
    assert admin.get("/api/sip").json()["calls"] == []
