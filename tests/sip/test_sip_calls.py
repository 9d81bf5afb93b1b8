"""Real SIP calls on loopback through Kamailio, decided by the routing core with Breakthrough.

One host and one Kamailio for the module; every phone is a sipp UAS that registers with its
digest password and is rung (or not); callers are sipp UACs (phones with credentials, or the
trunk from its address). Each test states the rule of DESIGN.md it makes a real call for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime.host import Host, open_host
from runtime.sip.front import SipFront
from runtime.sip.kamailio import SipAddress, free_udp_port
from tests.data.sfm_crafted import sfm_files
from tests.dev_environment import development_environment
from tests.sip.pbx import PASSWORDS, make_data
from tests.sip.scheduling import group_policies
from tests.sip.sipp import Phone, SipTarget, call

__all__ = ["sfm_files"]


class Pbx:
    def __init__(self, folder: Path, host: Host, front: SipFront, trunk_port: int) -> None:
        self.folder = folder
        self.host = host
        self.front = front
        self.trunk_port = trunk_port
        self.target = SipTarget(front.address.host, front.address.port)
        self.n = 0

    def phone(self, number: str, behaviour: str = "answer", *, calls: int = 1) -> Phone:
        self.n += 1
        return Phone(
            self.folder / f"p{self.n}", self.target, number, PASSWORDS[number], behaviour,
            calls=calls,
        ).start()  # fmt: skip

    def call(self, caller: str, called: str, expect: int, **kw: object) -> bool:
        self.n += 1
        return call(
            self.folder / f"c{self.n}", self.target, caller, called, expect,
            password=PASSWORDS.get(caller), **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    def from_trunk(self, caller: str, called: str, expect: int, **kw: object) -> bool:
        self.n += 1
        return call(
            self.folder / f"t{self.n}", self.target, caller, called, expect,
            password=None, from_port=self.trunk_port, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    def kamailio_log(self) -> str:
        assert self.front.kamailio is not None
        return self.front.kamailio.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_pbx(
    tmp_path_factory: pytest.TempPathFactory,
    sfm: Path,
    more: Callable[[Path, Path], None] = lambda folder, data: None,
) -> Iterator[Pbx]:
    """A host with Kamailio on the SIP tests' data folder (tests/sip/pbx.py), `more(folder,
    data)` done to the folder before the host starts; stopped at the end."""
    with development_environment(tmp_path_factory):
        folder = tmp_path_factory.mktemp("sip")
        trunk_port = free_udp_port()
        data = make_data(folder, sfm, trunk_port)
        more(folder, data)
        host = open_host(data)
        front = SipFront(host, data, SipAddress("127.0.0.1", free_udp_port()), children=4)
        front.start()
        try:
            yield Pbx(folder, host, front, trunk_port)
        finally:
            front.stop()
            host.close()


@pytest.fixture(scope="module")
def pbx(
    tmp_path_factory: pytest.TempPathFactory, sfm_files: dict[str, Path], jvm: None
) -> Iterator[Pbx]:
    with running_pbx(tmp_path_factory, sfm_files["current"]) as running:
        yield running


def test_a_registered_phone_is_rung_and_answers(pbx: Pbx) -> None:
    sec = pbx.phone("202")
    assert [r.aor for r in pbx.front.registrations() if r.aor == "202"] == ["202"]
    assert pbx.call("205", "202", 200)
    assert sec.wait() == 0 and sec.was_rung()
    assert sec.header("From") is not None and "205@" in (sec.header("From") or "")


def test_dnd_with_a_matching_caller_rings_through(pbx: Pbx) -> None:
    dora = pbx.phone("210")
    assert pbx.call("205", "210", 200)  # Teamleiter: 205 bypasses DND for 210
    assert dora.wait() == 0 and dora.was_rung()


def test_dnd_without_a_matching_caller_is_busy_and_not_signalled(pbx: Pbx) -> None:
    dora = pbx.phone("210")
    assert pbx.call("202", "210", 486)
    dora.stop()
    assert not dora.was_rung()


def test_always_redirect_forwards_with_diversion_naming_the_called(pbx: Pbx) -> None:
    boss = pbx.phone("201")
    sec = pbx.phone("202")
    assert pbx.call("205", "201", 200)  # the boss forwards everything to 202
    assert sec.wait() == 0 and sec.was_rung()
    boss.stop()
    assert not boss.was_rung()
    diversion = sec.header("Diversion") or ""
    assert '"Max Mustermann"' in diversion and "sip:201@" in diversion


def test_self_redirect_narrowing_lets_the_secretary_reach_the_boss(pbx: Pbx) -> None:
    boss = pbx.phone("201")
    assert pbx.call("202", "201", 200)  # Sekretariat: the forward to the caller is ignored
    assert boss.wait() == 0 and boss.was_rung()
    assert boss.header("Diversion") is None


def test_forward_to_an_outside_number_leaves_through_the_trunk(pbx: Pbx) -> None:
    carrier = Phone(pbx.folder / "carrier", pbx.target, "carrier", None, "answer",
                    port=pbx.trunk_port).start(register_it=False)  # fmt: skip
    fritz = pbx.phone("220")
    assert pbx.call("205", "220", 200)
    assert carrier.wait() == 0
    assert "INVITE sip:0049301234567@127.0.0.1:" in carrier.messages()
    assert "sip:220@" in (carrier.header("Diversion") or "")
    assert '"Fritz Fern"' in (carrier.header("Diversion") or "")
    fritz.stop()
    assert not fritz.was_rung()


def test_timeout_redirect_takes_over_after_its_seconds(pbx: Pbx) -> None:
    tim = pbx.phone("230", "ringout")
    sec = pbx.phone("202")
    assert pbx.call("205", "230", 200)
    assert tim.wait() == 0 and tim.was_rung()  # rang, was cancelled after 2 s
    assert sec.wait() == 0 and sec.was_rung()
    assert "sip:230@" in (sec.header("Diversion") or "")


def test_busy_redirect_on_486_from_the_phone(pbx: Pbx) -> None:
    bea = pbx.phone("240", "busy")
    sec = pbx.phone("202")
    assert pbx.call("205", "240", 200)
    assert bea.wait() == 0 and bea.was_rung()
    assert sec.wait() == 0 and sec.was_rung()


def test_groups_ring_every_member_and_the_module_leaves_them_alone(pbx: Pbx) -> None:
    sec = pbx.phone("202", "ringout")
    gina = pbx.phone("270")
    assert pbx.call("205", "300", 200)  # 205 matches Teamleiter for 300, a group: untouched
    assert gina.wait() == 0 and gina.was_rung()
    sec.wait()
    assert sec.was_rung()


def test_a_user_in_a_call_is_busy_and_forced_call_waiting_rings_anyway(pbx: Pbx) -> None:
    import threading

    carl = pbx.phone("250", calls=2)
    results: dict[str, bool] = {}
    first = threading.Thread(
        target=lambda: results.setdefault("first", pbx.call("202", "250", 200, hold_ms=6000))
    )
    first.start()
    import time

    until = time.monotonic() + 5
    while "carl" not in pbx.front.calls.busy_users() and time.monotonic() < until:
        time.sleep(0.05)
    assert "carl" in pbx.front.calls.busy_users(), "the answered call did not make carl busy"
    assert pbx.call("270", "250", 486)  # call waiting off: busy, the phone is not rung
    assert pbx.call("205", "250", 200)  # Teamleiter forces call waiting: the phone rings
    first.join(20)
    assert results.get("first") is True
    assert carl.wait() == 0
    assert carl.messages().count("INVITE sip:") == 2


def test_refusals_give_a_sip_error_a_log_line_and_change_nothing(pbx: Pbx) -> None:
    from tests.sip.sipp import register

    folder = pbx.folder / "refusals"
    before = {(r.aor, r.contact) for r in pbx.front.registrations()}
    # a wrong password
    assert register(folder, pbx.target, "205", "not-the-password", free_udp_port(), expect=403)
    # a REGISTER for a user with no sip_password
    assert register(folder, pbx.target, "260", None, free_udp_port(), expect=403)
    # an INVITE from an unknown source (no trunk's address, no phone's number)
    assert call(folder, pbx.target, "0301234", "202", 403, password=None)
    # an INVITE from a phone with a wrong password
    assert call(folder, pbx.target, "205", "202", 403, password="wrong-password")
    assert {(r.aor, r.contact) for r in pbx.front.registrations()} == before
    log = pbx.kamailio_log()
    assert "refused REGISTER for 205" in log and "wrong password" in log
    assert "refused REGISTER for 260" in log and "no user with a sip_password" in log
    assert "refused INVITE from 0301234" in log and "unknown source" in log
    assert "refused INVITE from 205" in log


def test_a_malformed_invite_is_answered_400_and_logged(pbx: Pbx) -> None:
    import socket

    bad = (
        "INVITE sip:202@breakthrough.pbx SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbad1\r\n"
        "From: <sip:205@breakthrough.pbx>;tag=bad\r\n"
        "To: <sip:202@breakthrough.pbx>\r\n"
        "Call-ID: malformed-1\r\n"
        "CSeq: 1 NOTIFY\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        message = bad.replace("{port}", str(s.getsockname()[1]))
        s.sendto(message.encode(), (pbx.target.host, pbx.target.port))
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("SIP/2.0 400"), answer
    import time

    until = time.monotonic() + 5  # the worker writes its line after the answer
    while "refused a malformed INVITE" not in pbx.kamailio_log() and time.monotonic() < until:
        time.sleep(0.05)
    assert "refused a malformed INVITE from 127.0.0.1" in pbx.kamailio_log()


def test_the_call_rings_when_the_decision_path_is_stopped(pbx: Pbx) -> None:
    boss = pbx.phone("201")
    pbx.front.stop_decisions()
    try:
        # The core would forward 205 -> 201 to the secretary; without it the boss is rung plainly.
        assert pbx.call("205", "201", 200)
        assert boss.wait() == 0 and boss.was_rung()
        assert "did not decide the call" in pbx.kamailio_log()
    finally:
        pbx.front.resume_decisions()
    sec = pbx.phone("202")
    assert pbx.call("205", "201", 200)  # decided again: forwarded
    assert sec.wait() == 0 and sec.was_rung()


def test_kamailio_runs_at_normal_priority_when_the_host_does(pbx: Pbx) -> None:
    # This host was opened without a real-time placement (runtime/realtime.py).
    assert pbx.front.kamailio is not None and pbx.front.kamailio.pid is not None
    assert group_policies(pbx.front.kamailio.pid) == {(os.SCHED_OTHER, 0)}


def test_kamailio_killed_is_started_again_by_the_host(
    pbx: Pbx, caplog: pytest.LogCaptureFixture
) -> None:
    import signal
    import time

    kamailio = pbx.front.kamailio
    assert kamailio is not None and kamailio.pid is not None
    old_pid, restarts = kamailio.pid, kamailio.restarts
    os.kill(old_pid, signal.SIGKILL)
    until = time.monotonic() + 20
    while kamailio.restarts == restarts and time.monotonic() < until:
        time.sleep(0.1)
    assert kamailio.restarts == restarts + 1 and kamailio.pid != old_pid
    assert "Kamailio exited" in caplog.text
    sec = pbx.phone("202")  # registrations were in the old process: the phone registers again
    assert pbx.call("205", "202", 200)
    assert sec.wait() == 0 and sec.was_rung()


@pytest.mark.parametrize("fault", ["nonsense", "silence"])
def test_a_decision_service_that_answers_nonsense_or_nothing_still_rings(
    pbx: Pbx, fault: str
) -> None:
    import http.server
    import threading
    import time

    class Faulty(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            if fault == "silence":
                time.sleep(3)  # longer than Kamailio's budget (1 s)
            body = b"<html>500 things went wrong</html>"
            # Kamailio's workers keep their connections: this stand-in closes each one, so no
            # worker still asks it after the test has put the real service back.
            self.close_connection = True
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # Kamailio gave up waiting (the silent case)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    boss = pbx.phone("201")
    port = pbx.front.decision_port
    assert port is not None
    pbx.front.stop_decisions()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Faulty)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Decided, 205 -> 201 would be forwarded to 202; the boss is rung plainly instead.
        assert pbx.call("205", "201", 200)
        assert boss.wait() == 0 and boss.was_rung()
        expected = "made no sense" if fault == "nonsense" else "did not decide the call"
        assert expected in pbx.kamailio_log()
    finally:
        server.shutdown()
        server.server_close()
        pbx.front.resume_decisions()
