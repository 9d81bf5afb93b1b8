"""The Java decision service (de.sfhost.sip) without Kamailio: its answer line for each rule of
DESIGN.md that the SIP front carries out, the busy state from call events, the live state, its
HTTP face, and its number rules held to runtime/pbx_number_plan.py (the reference) with hypothesis.

The PBX and the Breakthrough instances are tests/sip/pbx.py's (the same as the real SIP calls
of test_sip_calls.py); every expected answer is written down from DESIGN.md and the answer
line's keys in runtime/sip/decision.py.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import jpype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breakthrough.hook import HookAnswer
from runtime.errors import Refused
from runtime.host import Host, open_host
from runtime.pbx_directory import RedirectSetting
from runtime.pbx_live import UserChange, set_user_state
from runtime.pbx_number_plan import WITHHELD, is_withheld, normalise
from runtime.sip.decision import DecisionServer
from runtime.sip.front import SipFront
from runtime.sip.kamailio import SipAddress, free_udp_port
from tests.data.sfm_crafted import sfm_files
from tests.dev_environment import development_environment
from tests.sip.pbx import make_data

__all__ = ["sfm_files"]

KEYS = ("act", "aors", "users", "to", "div", "dname", "cname",
        "tsec", "tact", "taors", "tto", "bact", "baors", "bto")  # fmt: skip


class Service:
    def __init__(self, data: Path, host: Host, front: SipFront) -> None:
        self.data = data
        self.host = host
        self.front = front

    def decide(self, caller: str, called: str) -> dict[str, str]:
        """The answer line as {key: value}, keys in order, "-" left out."""
        line = self.front.decider.decide(caller, called)
        pairs = [p.split("=", 1) for p in line.split(";")]
        assert [k for k, _ in pairs] == list(KEYS), line
        return {k: v for k, v in pairs if v != "-"}


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, sfm_files: dict[str, Path], jvm: None
) -> Iterator[Service]:
    with development_environment(tmp_path_factory):
        folder = tmp_path_factory.mktemp("sip-decider")
        data = make_data(folder, sfm_files["current"], free_udp_port())
        host = open_host(data)
        for _ in range(3):  # the first calls pay one-time costs (the hook's budget is 50 ms)
            host.route("205", "210")
        # Not started: the decider answers without Kamailio.
        front = SipFront(host, data, SipAddress("127.0.0.1", free_udp_port()))
        yield Service(data, host, front)
        front.decider.close()
        host.close()


def test_a_plain_call_rings_the_called_users_phone(service: Service) -> None:
    assert service.decide("205", "202") == {
        "act": "ring", "aors": "202", "users": "sec", "cname": "Erika%20Sekretariat",
    }  # fmt: skip


def test_dnd_with_a_matching_caller_rings(service: Service) -> None:
    # Teamleiter: 205 bypasses DND for 210.
    assert service.decide("205", "210") == {
        "act": "ring", "aors": "210", "users": "dora", "cname": "Dora%20Ruhe",
    }  # fmt: skip


def test_dnd_without_a_matching_caller_is_busy(service: Service) -> None:
    assert service.decide("202", "210") == {"act": "busy", "cname": "Dora%20Ruhe"}


def test_a_withheld_caller_matches_no_rule(service: Service) -> None:
    for withheld in ("anonymous", "", " Unknown "):
        assert service.decide(withheld, "210") == {"act": "busy", "cname": "Dora%20Ruhe"}


def test_always_redirect_forwards_with_the_originally_called_party(service: Service) -> None:
    assert service.decide("205", "201") == {
        "act": "ring", "aors": "202", "users": "sec", "div": "201",
        "dname": "Max%20Mustermann", "cname": "Max%20Mustermann",
    }  # fmt: skip


def test_self_redirect_narrowing_rings_the_boss_for_the_secretary(service: Service) -> None:
    assert service.decide("202", "201") == {
        "act": "ring", "aors": "201", "users": "boss", "cname": "Max%20Mustermann",
    }  # fmt: skip


def test_forward_to_an_outside_number(service: Service) -> None:
    assert service.decide("205", "220") == {
        "act": "forward", "to": "0049301234567", "div": "220", "dname": "Fritz%20Fern",
        "cname": "Fritz%20Fern",
    }  # fmt: skip


def test_timeout_and_busy_redirects_come_with_the_ringing(service: Service) -> None:
    assert service.decide("205", "230") == {
        "act": "ring", "aors": "230", "users": "tim", "cname": "Tim%20Zeit",
        "tsec": "2", "tact": "ring", "taors": "202",
    }  # fmt: skip
    assert service.decide("205", "240") == {
        "act": "ring", "aors": "240", "users": "bea", "cname": "Bea%20Besetzt",
        "bact": "ring", "baors": "202",
    }  # fmt: skip


def test_a_group_rings_its_members_untouched_by_the_module(service: Service) -> None:
    assert service.decide("205", "300") == {
        "act": "ring", "aors": "202.270", "users": "sec,gina", "cname": "Support",
    }  # fmt: skip


def test_a_user_in_a_call_is_busy_and_forced_call_waiting_rings(service: Service) -> None:
    decider = service.front.decider
    decider.event({"kind": "start", "callid": "c-1", "users": "<null>", "callee": "carl",
                   "caller": "0301234", "called": "250"})  # fmt: skip
    try:
        assert service.front.calls.busy_users() == {"carl"}
        [call] = service.front.calls.snapshot()
        assert (call.call_id, call.caller, call.called, call.users) == (
            "c-1",
            "0301234",
            "250",
            ("carl",),
        )
        # call waiting off: busy; Teamleiter (205) forces call waiting: the phone rings.
        assert service.decide("270", "250") == {"act": "busy", "cname": "Carl%20Gespraech"}
        assert service.decide("205", "250") == {
            "act": "ring", "aors": "250", "users": "carl", "cname": "Carl%20Gespraech",
        }  # fmt: skip
    finally:
        decider.event({"kind": "end", "callid": "c-1"})
    assert service.front.calls.busy_users() == frozenset()
    assert service.decide("270", "250")["act"] == "ring"


def test_a_group_ringing_makes_nobody_busy(service: Service) -> None:
    service.front.decider.event(
        {"kind": "start", "callid": "g-1", "users": "lead", "callee": "sec,gina"}
    )
    try:
        assert service.front.calls.busy_users() == {"lead"}
    finally:
        service.front.decider.event({"kind": "end", "callid": "g-1"})


def test_the_live_state_is_followed_on_the_next_call(service: Service) -> None:
    assert service.decide("202", "205")["act"] == "ring"
    set_user_state(service.data, "lead", UserChange(dnd=True))  # touches the live stamp
    try:
        assert service.decide("202", "205") == {"act": "busy", "cname": "Lena%20Lead"}
        redirect = RedirectSetting("always", True, "270")
        set_user_state(service.data, "lead", UserChange(dnd=False, redirects=(redirect,)))
        assert service.decide("202", "205") == {
            "act": "ring", "aors": "270", "users": "gina", "div": "205",
            "dname": "Lena%20Lead", "cname": "Lena%20Lead",
        }  # fmt: skip
    finally:
        set_user_state(
            service.data, "lead", UserChange(dnd=False, redirects=(RedirectSetting("always"),))
        )
    assert service.decide("202", "205")["act"] == "ring"
    assert service.decide("202", "205")["aors"] == "205"


@pytest.mark.parametrize(
    ("caller", "called", "why"),
    [
        ("205", "20x1", "the called number '20x1' is no number"),
        ("2+05", "202", "the caller number '2+05' is no number"),
        ("205", "999", "no user or group of the PBX directory has the number 999"),
    ],
)
def test_a_number_it_cannot_route_rings_plainly_and_says_why(
    service: Service, caller: str, called: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = service.front.decider.fallbacks
    with caplog.at_level(logging.WARNING, logger="sfm.sip"):
        assert service.decide(caller, called) == {"act": "plain"}
        until = time.monotonic() + 5  # the log line is written off the call path
        while why not in caplog.text and time.monotonic() < until:
            time.sleep(0.02)
    assert why in caplog.text and "rings plainly" in caplog.text
    assert service.front.decider.fallbacks == before + 1


def test_the_http_face_answers_decide_event_and_health(service: Service) -> None:
    server = DecisionServer(service.front.decider)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        answers = []
        for path in (
            "/decide?caller=205&called=201&callid=x",
            "/event?kind=start&callid=h-1&users=lead&callee=%3Cnull%3E&caller=205&called=0301",
            "/health",
        ):
            conn.request("GET", path)  # one kept-alive connection, as a Kamailio worker's
            response = conn.getresponse()
            answers.append((response.status, response.read().decode()))
        assert answers[0][0] == 200 and answers[0][1].startswith("act=ring;aors=202;users=sec;")
        assert answers[1:] == [(200, "ok"), (200, "ok")]
        assert service.front.calls.busy_users() == {"lead"}
        conn.request("GET", "/event?kind=end&callid=h-1")
        assert conn.getresponse().read() == b"ok"
        assert service.front.calls.busy_users() == frozenset()
        conn.request("GET", "/nothing")
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        server.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=2).request("GET", "/health")


def test_a_hook_that_hangs_is_answered_for_and_the_connection_goes_on(service: Service) -> None:
    # "The call always goes through": the service routes each call on its connection's own
    # thread; a module hook that overruns its budget (50 ms here) is routed around, Kamailio
    # gets its answer then (not when the hook returns; it would ring plainly after 1 s), and
    # its kept-alive connection answers the next query while the first hook still hangs.
    release = threading.Event()
    asked: list[str] = []

    class Hanging:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            asked.append(called)
            release.wait(20)
            return HookAnswer(ignore_dnd=True, applied=(("Late", ("bypass_dnd",)),))

    path = "/decide?caller=205&called=201&callid=x"
    server = DecisionServer(service.front.decider)
    server.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path)
        without_it = conn.getresponse().read().decode()
        service.host.routing.register_in_process_hook("hanging", Hanging())
        answers, took = [], []
        for _ in range(2):
            started = time.monotonic()
            conn.request("GET", path)  # the same connection
            response = conn.getresponse()
            answers.append((response.status, response.read().decode()))
            took.append(time.monotonic() - started)
    finally:
        release.set()
        service.host.routing.unregister_hook("hanging")
        conn.close()
        server.stop()
    # Lead (201) forwards to the secretary (202) for caller 205: Breakthrough's answer, as if
    # the hanging module were absent.
    assert without_it.startswith("act=ring;aors=202;users=sec;")
    assert answers == [(200, without_it), (200, without_it)]
    assert asked == ["201", "201"]  # each call asked it and left it behind
    assert max(took) < 0.9, took


# ---- the Java number rules against runtime/pbx_number_plan.py ---------------------------------

NUMBERISH = st.text(alphabet=st.sampled_from("0123456789+ -/()\t\u00a0x#*"), max_size=14)
ANY_TEXT = st.text(max_size=14)
WITHHELDISH = st.sampled_from(sorted(WITHHELD)).flatmap(
    lambda w: st.tuples(st.sampled_from(["", " ", "\t", "\u2003", "\x85"]), st.just(w)).map(
        lambda p: p[0] + p[1].upper() + p[0]
    )
)


def _java() -> jpype.JClass:
    return jpype.JClass("de.sfhost.sip.SipNumbers")


@settings(max_examples=400, deadline=None)
@given(st.one_of(NUMBERISH, ANY_TEXT))
def test_java_normalise_agrees_with_numbering(jvm: None, number: str) -> None:
    try:
        expected: str | None = normalise(number)
    except Refused:
        expected = None
    got = _java().normalise(number)
    assert (None if got is None else str(got)) == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(WITHHELDISH, NUMBERISH, ANY_TEXT))
def test_java_withheld_agrees_with_numbering(jvm: None, caller: str) -> None:
    assert bool(_java().isWithheld(caller)) == is_withheld(caller)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_a_display_name_is_kept_readable_for_kamailio(jvm: None, name: str) -> None:
    # The reference: drop " \ CR LF ; (they would break the Diversion header), keep 64
    # characters, percent-encode the UTF-8 (what Kamailio's s.unescape.param reads back).
    kept = "".join(ch for ch in name if ch not in '"\\\r\n;')[:64]
    assert str(_java().display(name)) == quote(kept, safe="")


def test_a_user_in_two_calls_stays_busy_until_both_ended(service: Service) -> None:
    decider, calls = service.front.decider, service.front.calls
    decider.event({"kind": "start", "callid": "t-1", "users": "lead", "callee": "sec"})
    decider.event({"kind": "start", "callid": "t-2", "users": "lead", "callee": "gina"})
    assert calls.busy_users() == {"lead", "sec", "gina"}
    decider.event({"kind": "end", "callid": "t-1"})
    assert calls.busy_users() == {"lead", "gina"}
    # still in a call, call waiting off (the default), no BUSY redirect: busy
    assert service.decide("202", "205") == {"act": "busy", "cname": "Lena%20Lead"}
    decider.event({"kind": "end", "callid": "t-2"})
    decider.event({"kind": "end", "callid": "t-2"})  # Kamailio may tell twice: no harm
    assert calls.busy_users() == frozenset()
