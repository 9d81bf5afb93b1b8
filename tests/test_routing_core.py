"""Real calls through the Java routing core (on its worker threads) and Python hooks.

Every expected outcome is the rule of DESIGN.md ("Call routing semantics") that the test
names; the hooks here answer fixed overrides, so each test isolates one PBX rule. Rules that
depend on which caller matches are tested with the real BreakthroughHook in
test_routing_breakthrough.py.

Over 500 lines on purpose: one file per seam, here the core's whole call path (the PBX's rules,
the hooks' overrides, routing around failing hooks), on the one set of directory builders below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from breakthrough.hook import HookAnswer
from runtime.errors import Refused
from runtime.pbx_directory import PbxDirectory, parse_directory
from runtime.routing_host import RoutingHost
from tests.test_routing_property import PLAN

OUTSIDE = "0049301234567"  # Berlin: no user of any test PBX
OUTSIDE_CALLER = "00492515906850"

# Tests that are not about the time budget give hooks plenty, so a loaded CI machine cannot
# turn a slow scheduler into a "hook did not answer" failure.
RELAXED_BUDGET_MS = 5000.0


def user(
    uid: str,
    *numbers: str,
    name: str | None = None,
    dnd: bool = False,
    call_waiting: bool = False,
    busy: bool = False,
    always: str | None = None,
    on_busy: str | None = None,
    timeout: str | None = None,
) -> dict[str, Any]:
    redirects: dict[str, Any] = {}
    if always is not None:
        redirects["always"] = {"enabled": True, "destination": always}
    if on_busy is not None:
        redirects["busy"] = {"enabled": True, "destination": on_busy}
    if timeout is not None:
        redirects["timeout"] = {"enabled": True, "destination": timeout, "seconds": 15}
    return {
        "id": uid,
        "name": uid.title() if name is None else name,
        "numbers": list(numbers),
        "dnd": dnd,
        "call_waiting": call_waiting,
        "busy": busy,
        "redirects": redirects,
    }


def directory(*users: dict[str, Any], groups: tuple[dict[str, Any], ...] = ()) -> PbxDirectory:
    return parse_directory(
        {"pbx": dict(PLAN), "users": list(users), "groups": list(groups)}, "test directory"
    )


class FixedHook:
    """Answers every call with the same overrides and records each call it got."""

    def __init__(self, instance: str = "Test", **flags: bool) -> None:
        effects = tuple(name for name, on in flags.items() if on)
        self.answer = HookAnswer(**flags, applied=((instance, effects),))
        self.calls: list[tuple[str, str | None]] = []

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        self.calls.append((called, caller))
        return self.answer


@pytest.fixture
def host(jvm: None) -> Iterator[RoutingHost]:
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    yield h
    h.close()


def route(h: RoutingHost, d: PbxDirectory, caller: str | None, called: str) -> dict[str, Any]:
    h.load_directory(d)
    return h.route(caller, called)


# ---- the PBX without the module --------------------------------------------------------------


def test_idle_user_rings(host: RoutingHost) -> None:
    # "Otherwise the user's phones ring".
    r = route(host, directory(user("anna", "201")), OUTSIDE_CALLER, "201")
    assert r == {
        "outcome": "ring",
        "rings": ["anna"],
        "forwarded_to": [],
        "originally_called": None,
        "applied": [],
        "module_errors": [],
        "changed": [],
    }


@pytest.mark.parametrize("signalled", ["00492515906201", "+492515906201", "02515906201"])
def test_called_number_in_any_form_reaches_the_user(host: RoutingHost, signalled: str) -> None:
    # "00492515906850, +492515906850, 02515906850 ... are forms of one number".
    d = directory(user("anna", "201", "00492515906201"))
    assert route(host, d, OUTSIDE_CALLER, signalled)["rings"] == ["anna"]


def test_always_forwards_at_once_and_keeps_the_original_called_party(host: RoutingHost) -> None:
    # "ALWAYS redirect on -> forward at once"; "every forward keeps the originally called
    # party": the forward target's display shows the called user's name.
    d = directory(
        user("boss", "201", name="Max Mustermann", always="202"),
        user("secretary", "202", name="Erika Musterfrau"),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert r["outcome"] == "ring"
    assert r["rings"] == ["secretary"]
    assert r["forwarded_to"] == ["202"]
    assert r["originally_called"] == "Max Mustermann"


def test_original_called_party_without_a_name_shows_the_number(host: RoutingHost) -> None:
    # "the name stored for that number, else the number".
    d = directory(user("boss", "201", name="", always="202"), user("secretary", "202"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert r["originally_called"] == "201"


def test_always_goes_before_dnd(host: RoutingHost) -> None:
    # Order: "ALWAYS redirect on -> forward at once" comes before "DND on".
    d = directory(user("boss", "201", dnd=True, always="202"), user("secretary", "202"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["secretary"], ["202"])


def test_dnd_without_timeout_gives_busy(host: RoutingHost) -> None:
    # "DND on -> the call is not signalled; ... else the caller hears busy".
    r = route(host, directory(user("anna", "201", dnd=True)), OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("busy", [], [])


def test_dnd_fires_the_timeout_redirect_at_once(host: RoutingHost) -> None:
    # "DND on -> ... a TIMEOUT redirect fires at once"; to a number outside the PBX the
    # chain ends there with outcome "forward".
    d = directory(user("anna", "201", dnd=True, timeout=OUTSIDE))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("forward", [], [OUTSIDE])
    assert r["originally_called"] == "Anna"


def test_timeout_redirect_waits_while_the_phones_ring(host: RoutingHost) -> None:
    # "Otherwise the user's phones ring, and a TIMEOUT redirect takes over after its seconds":
    # at the moment of the call, the user rings.
    d = directory(user("anna", "201", timeout="202"), user("bert", "202"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["anna"], [])


def test_busy_with_call_waiting_is_offered_as_waiting_call_not_busy_redirect(
    host: RoutingHost,
) -> None:
    # "User busy -> call waiting on: offered as a waiting call (and a BUSY redirect is not
    # used)"; "a waiting call counts" in rings.
    d = directory(user("anna", "201", busy=True, call_waiting=True, on_busy="voicemail"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("waiting", ["anna"], [])


def test_busy_without_call_waiting_uses_the_busy_redirect(host: RoutingHost) -> None:
    # "off: BUSY redirect if on".
    d = directory(user("anna", "201", busy=True, on_busy="202"), user("bert", "202"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["bert"], ["202"])


def test_busy_redirect_to_voicemail(host: RoutingHost) -> None:
    # A redirect's destination may be the voicemail: outcome "voicemail".
    d = directory(user("anna", "201", busy=True, on_busy="voicemail"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"]) == ("voicemail", [])


def test_busy_without_call_waiting_or_redirect_gives_busy(host: RoutingHost) -> None:
    # "off: BUSY redirect if on, else busy".
    r = route(host, directory(user("anna", "201", busy=True)), OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"]) == ("busy", [])


def test_forward_chain_follows_every_hop_and_keeps_the_first_called(host: RoutingHost) -> None:
    # Forwarding chains: each forward is followed; the original called party is kept.
    d = directory(
        user("a", "201", name="Anna", always="202"),
        user("b", "202", always="+492515906203"),
        user("c", "203", "00492515906203"),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert r["outcome"] == "ring"
    assert r["rings"] == ["c"]
    assert r["forwarded_to"] == ["202", "+492515906203"]
    assert r["originally_called"] == "Anna"


def test_chain_through_dnd_timeout_and_busy_redirect(host: RoutingHost) -> None:
    # Each party of the chain follows the PBX rules: a's ALWAYS, b's DND fires its TIMEOUT
    # at once, c is busy without call waiting and forwards on busy to d, who rings.
    d = directory(
        user("a", "201", always="202"),
        user("b", "202", dnd=True, timeout="203"),
        user("c", "203", busy=True, on_busy="204"),
        user("d", "204"),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["d"], ["202", "203", "204"])


def test_loop_is_never_followed_and_the_closing_party_rings(host: RoutingHost) -> None:
    # "a forward back to a party already in the chain is a loop, never followed: the party
    # where the loop would close is treated as if that forward were off (its phones ring)".
    d = directory(user("a", "201", always="202"), user("b", "202", always="201"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["b"], ["202"])


def test_loop_in_another_number_form_is_still_a_loop(host: RoutingHost) -> None:
    # The loop is about the party, whatever form its number is written in.
    d = directory(
        user("a", "201", "00492515906201", always="202"),
        user("b", "202", always="+492515906201"),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["b"], ["202"])


def test_loop_closing_party_with_that_forward_off_follows_its_other_rules(
    host: RoutingHost,
) -> None:
    # "treated as if that forward were off": c's ALWAYS back to a is off for this call, so
    # c's DND applies, with no TIMEOUT redirect the caller hears busy.
    d = directory(
        user("a", "201", always="202"),
        user("b", "202", always="203"),
        user("c", "203", dnd=True, always="201"),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("busy", [], ["202", "203"])


def test_self_forward_is_a_loop(host: RoutingHost) -> None:
    # A user forwarding to their own number: a loop at once; their phones ring.
    r = route(host, directory(user("a", "201", always="201")), OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["a"], [])


def test_hop_limit_stops_a_long_chain(jvm: None) -> None:
    # "forwarding chains stop at a hop limit": with limit 3, the party reached after three
    # forwards does not forward again; it is treated as if its forward were off and rings.
    users = [user(f"u{i}", str(200 + i), always=str(201 + i)) for i in range(10)]
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, hop_limit=3)
    try:
        r = route(h, directory(*users), OUTSIDE_CALLER, "200")
    finally:
        h.close()
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["u3"], ["201", "202", "203"])


def test_forward_to_an_outside_number_ends_the_chain(host: RoutingHost) -> None:
    # "A forward to a number outside the PBX ends the chain there" (outcome "forward").
    d = directory(user("a", "201", always="202"), user("b", "202", always="030 1234567"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("forward", [], ["202", "0301234567"])


def test_group_rings_members_and_skips_dnd(host: RoutingHost) -> None:
    # "group target: the group rings its members by its strategy; members in DND are skipped".
    d = directory(
        user("a", "201"),
        user("b", "202", dnd=True),
        user("c", "203"),
        groups=(
            {"id": "support", "name": "Support", "numbers": ["300"], "members": ["a", "b", "c"]},
        ),
    )
    r = route(host, d, OUTSIDE_CALLER, "300")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["a", "c"], [])


def test_forward_to_a_group_number_rings_the_group(host: RoutingHost) -> None:
    # A forward to a group's number leads to the group, which rings its members (DND skipped).
    d = directory(
        user("a", "201", always="00492515906300"),
        user("b", "202"),
        user("c", "203", dnd=True),
        groups=(
            {"id": "g", "name": "G", "numbers": ["300", "00492515906300"], "members": ["c", "b"]},
        ),
    )
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["b"], ["00492515906300"])
    assert r["originally_called"] == "A"


def test_group_with_every_member_in_dnd_gives_busy(host: RoutingHost) -> None:
    d = directory(
        user("a", "201", dnd=True),
        groups=({"id": "g", "name": "G", "numbers": ["300"], "members": ["a"]},),
    )
    assert route(host, d, OUTSIDE_CALLER, "300")["outcome"] == "busy"


def test_unknown_called_number_is_refused(host: RoutingHost) -> None:
    host.load_directory(directory(user("a", "201")))
    with pytest.raises(Refused, match="999"):
        host.route(OUTSIDE_CALLER, "999")


def test_malformed_number_is_refused(host: RoutingHost) -> None:
    host.load_directory(directory(user("a", "201")))
    with pytest.raises(Refused, match="caller number"):
        host.route("20x1", "201")


# ---- hooks: overrides --------------------------------------------------------------------------


def test_ignore_dnd_lets_the_phone_ring(host: RoutingHost) -> None:
    # "Ruhe umgehen": DND is ignored -> the phones ring.
    hook = FixedHook(ignore_dnd=True)
    host.register_in_process_hook("bt", hook)
    r = route(host, directory(user("anna", "201", dnd=True)), OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"]) == ("ring", ["anna"])
    assert r["applied"] == [{"instance": "Test", "effects": ["ignore_dnd"]}]
    assert hook.calls == [("201", OUTSIDE_CALLER)]


def test_ignore_dnd_under_dnd_with_timeout_rings_instead(host: RoutingHost) -> None:
    # DND ignored: the user is treated as not in DND, so the phones ring (the TIMEOUT
    # redirect would only take over after its seconds).
    host.register_in_process_hook("bt", FixedHook(ignore_dnd=True))
    d = directory(user("anna", "201", dnd=True, timeout=OUTSIDE))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("ring", ["anna"], [])


def test_ignore_redirects_alone_under_dnd_gives_busy(host: RoutingHost) -> None:
    # "Anrufumleitungen umgehen" ignores the TIMEOUT redirect, but DND still holds: not
    # signalled, no TIMEOUT to fire -> busy.
    host.register_in_process_hook("bt", FixedHook(ignore_redirects=True))
    d = directory(user("anna", "201", dnd=True, timeout=OUTSIDE))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["forwarded_to"]) == ("busy", [])


def test_ignore_redirects_skips_always(host: RoutingHost) -> None:
    # "the user's redirects (ALWAYS, BUSY, TIMEOUT) are ignored".
    host.register_in_process_hook("bt", FixedHook(ignore_redirects=True))
    d = directory(user("boss", "201", always="202"), user("secretary", "202"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"], r["originally_called"]) == (
        "ring",
        ["boss"],
        [],
        None,
    )


def test_ignore_redirects_skips_busy_redirect(host: RoutingHost) -> None:
    # Busy, call waiting off, BUSY redirect ignored -> "else busy".
    host.register_in_process_hook("bt", FixedHook(ignore_redirects=True))
    d = directory(user("anna", "201", busy=True, on_busy="voicemail"))
    assert route(host, d, OUTSIDE_CALLER, "201")["outcome"] == "busy"


def test_forced_call_waiting_on_a_busy_user(host: RoutingHost) -> None:
    # "Anklopfen erzwingen": call waiting counts as on, so a busy user gets the call as a
    # waiting call (and the BUSY redirect is not used).
    host.register_in_process_hook("bt", FixedHook(force_call_waiting=True))
    d = directory(user("anna", "201", busy=True, on_busy="voicemail"))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"], r["forwarded_to"]) == ("waiting", ["anna"], [])


def test_redirects_to_caller_only_narrows(host: RoutingHost) -> None:
    # "Anrufumleitungen auf sich selbst umgehen": a redirect is ignored only where its
    # destination is the caller. The secretary (202) calls the boss who forwards to her: the
    # boss rings. A customer calls: the forward to the secretary still applies.
    host.register_in_process_hook("bt", FixedHook(ignore_redirects_to_caller=True))
    d = directory(user("boss", "201", always="202"), user("secretary", "202", "00492515906202"))
    assert route(host, d, "202", "201")["rings"] == ["boss"]
    # the secretary signalled in another form is still the caller
    assert route(host, d, "+492515906202", "201")["rings"] == ["boss"]
    other = route(host, d, OUTSIDE_CALLER, "201")
    assert (other["rings"], other["forwarded_to"]) == (["secretary"], ["202"])


def test_redirect_to_an_outside_caller_is_recognised_in_any_form(host: RoutingHost) -> None:
    # The boss forwards to a mobile number; the call from that mobile (signalled in another
    # form) is "the caller" of the self-redirect rule.
    host.register_in_process_hook("bt", FixedHook(ignore_redirects_to_caller=True))
    d = directory(user("boss", "201", always="01701234567"))
    assert route(host, d, "+491701234567", "201")["rings"] == ["boss"]
    assert route(host, d, OUTSIDE_CALLER, "201")["forwarded_to"] == ["01701234567"]


def test_group_targets_are_left_to_the_pbx(host: RoutingHost) -> None:
    # "Only user targets: for a group target the module does nothing": the hook is not
    # called, applied stays empty, DND members are still skipped.
    hook = FixedHook(ignore_dnd=True)
    host.register_in_process_hook("bt", hook)
    d = directory(
        user("a", "201", dnd=True),
        user("b", "202"),
        groups=({"id": "g", "name": "G", "numbers": ["300"], "members": ["a", "b"]},),
    )
    r = route(host, d, OUTSIDE_CALLER, "300")
    assert (r["outcome"], r["rings"], r["applied"]) == ("ring", ["b"], [])
    assert hook.calls == []


def test_hooks_of_several_modules_add_up(host: RoutingHost) -> None:
    # "Several instances may match one call: their effects add up". DND ignored by one,
    # call waiting forced by the other: a user in DND and busy gets a waiting call.
    host.register_in_process_hook("one", FixedHook("Teamleiter", ignore_dnd=True))
    host.register_in_process_hook("two", FixedHook("Anklopfen", force_call_waiting=True))
    d = directory(user("anna", "201", dnd=True, busy=True))
    r = route(host, d, OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["rings"]) == ("waiting", ["anna"])
    assert [a["instance"] for a in r["applied"]] == ["Teamleiter", "Anklopfen"]


def test_hook_is_called_once_per_call(host: RoutingHost) -> None:
    # One hook call per call per module, even when the call is forwarded along a chain.
    hook = FixedHook()
    host.register_in_process_hook("bt", hook)
    d = directory(user("a", "201", always="202"), user("b", "202", always="203"), user("c", "203"))
    for _ in range(5):
        route(host, d, OUTSIDE_CALLER, "201")
    assert hook.calls == [("201", OUTSIDE_CALLER)] * 5


def test_withheld_caller_reaches_the_hook_as_none(host: RoutingHost) -> None:
    hook = FixedHook()
    host.register_in_process_hook("bt", hook)
    route(host, directory(user("a", "201")), "anonymous", "201")
    assert hook.calls == [("201", None)]


def test_applied_lists_a_match_even_when_nothing_changes(host: RoutingHost) -> None:
    # applied: "one for every active instance whose rule matched the call, whether or not its
    # effects changed the outcome".
    host.register_in_process_hook("bt", FixedHook(ignore_dnd=True))
    r = route(host, directory(user("a", "201")), OUTSIDE_CALLER, "201")
    assert (r["outcome"], r["applied"]) == (
        "ring",
        [{"instance": "Test", "effects": ["ignore_dnd"]}],
    )


# ---- hooks: fail-open --------------------------------------------------------------------------


class ThrowingHook:
    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        raise KeyError("no rule for " + called)


class HangingHook:
    """Blocks until released (a hook stuck on something)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        self.release.wait(10)
        return HookAnswer(ignore_dnd=True, applied=(("Late", ("bypass_dnd",)),))


def test_throwing_hook_is_skipped_and_reported(jvm: None) -> None:
    # "A module hook never stops a call: an exception ... means the PBX routes the call as if
    # the module were absent, and the log says why."
    errors: list[tuple[str, str]] = []
    h = RoutingHost(
        hook_budget_ms=RELAXED_BUDGET_MS,
        on_module_error=lambda module, text: errors.append((module, text)),
    )
    try:
        h.register_in_process_hook("bt", ThrowingHook())
        r = route(h, directory(user("anna", "201", dnd=True)), OUTSIDE_CALLER, "201")
        h.flush_log()
    finally:
        h.close()
    assert (r["outcome"], r["applied"]) == ("busy", [])
    assert len(r["module_errors"]) == 1
    assert "bt" in r["module_errors"][0] and "no rule for 201" in r["module_errors"][0]
    assert len(errors) == 1 and errors[0][0] == "bt"
    # the module log gets the Python traceback
    assert "Traceback" in errors[0][1] and "KeyError" in errors[0][1]


def test_hanging_hook_is_left_behind_within_the_budget(jvm: None) -> None:
    # "... or a slow hook means the PBX routes the call as if the module were absent".
    # Another module that answers in time still applies.
    errors: list[tuple[str, str]] = []
    h = RoutingHost(
        hook_budget_ms=300, on_module_error=lambda module, text: errors.append((module, text))
    )
    hanging = HangingHook()
    try:
        h.register_in_process_hook("slow", hanging)
        h.register_in_process_hook("fast", FixedHook("Anklopfen", force_call_waiting=True))
        d = directory(user("anna", "201", dnd=True, busy=True))
        started = time.monotonic()
        r = route(h, d, OUTSIDE_CALLER, "201")
        took = time.monotonic() - started
        h.flush_log()
    finally:
        hanging.release.set()
        h.close()
    # Without "slow"'s bypass_dnd the user stays in DND: busy. "fast"'s answer still counts.
    assert r["outcome"] == "busy"
    assert [a["instance"] for a in r["applied"]] == ["Anklopfen"]
    assert len(r["module_errors"]) == 1
    assert r["module_errors"][0].startswith("slow:")
    assert "300 ms" in r["module_errors"][0]
    assert took < 2.0
    assert [m for m, _ in errors] == ["slow"]


def test_budget_is_configurable(jvm: None) -> None:
    # A hook taking 30 ms answers in time under a 2 s budget.
    class SlowHook(FixedHook):
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            time.sleep(0.03)
            return super().on_call(called, caller)

    h = RoutingHost(hook_budget_ms=2000)
    try:
        h.register_in_process_hook("bt", SlowHook(ignore_dnd=True))
        r = route(h, directory(user("anna", "201", dnd=True)), OUTSIDE_CALLER, "201")
    finally:
        h.close()
    assert (r["outcome"], r["module_errors"]) == ("ring", [])


def test_calls_after_a_hang_are_served_again(jvm: None) -> None:
    # A hook that hung once does not spoil later calls once it answers again.
    class OnceHanging:
        def __init__(self) -> None:
            self.first = True
            self.release = threading.Event()

        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            if self.first:
                self.first = False
                self.release.wait(5)
            return HookAnswer(ignore_dnd=True, applied=(("X", ("bypass_dnd",)),))

    hook = OnceHanging()
    h = RoutingHost(hook_budget_ms=200)
    try:
        h.register_in_process_hook("bt", hook)
        d = directory(user("anna", "201", dnd=True))
        first = route(h, d, OUTSIDE_CALLER, "201")
        hook.release.set()
        second = h.route(OUTSIDE_CALLER, "201")
    finally:
        h.close()
    assert first["outcome"] == "busy" and first["module_errors"]
    assert second["outcome"] == "ring" and second["module_errors"] == []


def test_hanging_hook_does_not_use_up_the_worker_threads(jvm: None) -> None:
    # Each call left behind in a hanging hook holds one worker thread; the core starts a new
    # worker in its place, so with 2 workers and both stuck, calls still route, and the other
    # module's answer still counts. Once as many calls as there are workers are stuck in the
    # hook, it is skipped at once (not waited for) until it returns again.
    hanging = HangingHook()
    fast = FixedHook("Anklopfen", force_call_waiting=True)
    h = RoutingHost(hook_budget_ms=200, workers=2)
    try:
        h.register_in_process_hook("slow", hanging)
        h.register_in_process_hook("fast", fast)
        h.load_directory(directory(user("anna", "201", dnd=True, busy=True)))
        results = []
        took = []
        for _ in range(4):
            started = time.monotonic()
            results.append(h.route(OUTSIDE_CALLER, "201"))
            took.append(time.monotonic() - started)
        hanging.release.set()
        deadline = time.monotonic() + 5
        after = h.route(OUTSIDE_CALLER, "201")
        while after["module_errors"] and time.monotonic() < deadline:
            time.sleep(0.05)  # the stuck calls are still returning from the hook
            after = h.route(OUTSIDE_CALLER, "201")
    finally:
        hanging.release.set()
        h.close()
    for r in results:
        assert [a["instance"] for a in r["applied"]] == ["Anklopfen"]
        assert len(r["module_errors"]) == 1 and r["module_errors"][0].startswith("slow:")
    assert all("within 200 ms" in r["module_errors"][0] for r in results[:2])
    assert all("still waiting" in r["module_errors"][0] for r in results[2:])
    assert all(t >= 0.19 for t in took[:2])
    assert all(t < 0.19 for t in took[2:])
    assert len(fast.calls) >= 5
    assert [a["instance"] for a in after["applied"]] == ["Late", "Anklopfen"]
    assert after["module_errors"] == []


def test_a_slow_hook_call_does_not_hold_up_other_calls(jvm: None) -> None:
    # Python hooks are entered one at a time (for the GIL's sake), but a call whose hook
    # waits on something (here: an event, 3 s budget) must not make the other calls wait.
    release = threading.Event()

    class WaitsForCallerEndingIn1:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            if caller is not None and caller.endswith("1"):
                release.wait(5)
            return HookAnswer(ignore_dnd=True, applied=(("X", ("bypass_dnd",)),))

    h = RoutingHost(hook_budget_ms=3000)
    slow: dict[str, Any] = {}
    try:
        h.register_in_process_hook("bt", WaitsForCallerEndingIn1())
        h.load_directory(directory(user("anna", "201", dnd=True)))
        waiting = threading.Thread(target=lambda: slow.update(h.route("00493012345671", "201")))
        waiting.start()
        time.sleep(0.2)  # the first call is now inside its hook
        started = time.monotonic()
        fast = h.route("00493012345672", "201")
        took = time.monotonic() - started
        release.set()
        waiting.join(10)
    finally:
        release.set()
        h.close()
    assert (fast["outcome"], fast["module_errors"]) == ("ring", [])
    assert took < 1.0
    assert (slow["outcome"], slow["module_errors"]) == ("ring", [])


@pytest.mark.parametrize("attempt", range(3))
def test_as_many_calls_at_once_as_workers_all_get_a_worker(jvm: None, attempt: int) -> None:
    # A PBX's calls may all be in their hooks at the same moment: with 8 workers, 8 calls at
    # once each get a worker of their own (their hooks meet at a barrier, which breaks if one
    # call is left waiting for a worker), also right after the core started.
    meet = threading.Barrier(8, timeout=5)

    class Meets:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            meet.wait()
            return HookAnswer(ignore_dnd=True, applied=(("X", ("bypass_dnd",)),))

    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, workers=8)
    results: list[dict[str, Any]] = []

    def one_call() -> None:
        results.append(h.route(OUTSIDE_CALLER, "201"))

    try:
        h.register_in_process_hook("bt", Meets())
        h.load_directory(directory(user("anna", "201", dnd=True)))
        callers = [threading.Thread(target=one_call) for _ in range(8)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(10)
    finally:
        meet.abort()
        h.close()
    assert [(r["outcome"], r["module_errors"]) for r in results] == [("ring", [])] * 8


def test_disabled_module_is_not_called(jvm: None) -> None:
    # "Without a valid trial or licence the instance stops changing calls; calls themselves
    # always go through": a disabled module is not called, the call routes as if it were
    # absent, applied is empty, and the reason shows in the module log.
    lines: list[tuple[str, str, str]] = []
    h = RoutingHost(
        hook_budget_ms=RELAXED_BUDGET_MS,
        on_module_log=lambda m, level, text: lines.append((m, level, text)),
    )
    hook = FixedHook(ignore_dnd=True)
    try:
        h.register_in_process_hook("bt", hook)
        h.set_module_enabled("bt", False, "trial expired on 2026-11-20")
        d = directory(user("anna", "201", dnd=True))
        off = route(h, d, OUTSIDE_CALLER, "201")
        h.set_module_enabled("bt", True, "licence verified")
        on = h.route(OUTSIDE_CALLER, "201")
        h.flush_log()
    finally:
        h.close()
    assert (off["outcome"], off["applied"], off["module_errors"]) == ("busy", [], [])
    assert on["outcome"] == "ring"
    assert len(hook.calls) == 1
    assert any(m == "bt" and "trial expired on 2026-11-20" in text for m, _, text in lines)


def test_unregistered_hook_is_no_longer_called(host: RoutingHost) -> None:
    hook = FixedHook(ignore_dnd=True)
    host.register_in_process_hook("bt", hook)
    host.unregister_hook("bt")
    r = route(host, directory(user("anna", "201", dnd=True)), OUTSIDE_CALLER, "201")
    assert (r["outcome"], hook.calls) == ("busy", [])


def test_many_calls_at_once_from_many_threads(host: RoutingHost) -> None:
    # Calls run on the core's worker threads; many at once each get their own answer.
    class EchoHook:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            # bypass DND only for callers ending in an even digit
            even = caller is not None and int(caller[-1]) % 2 == 0
            return HookAnswer(ignore_dnd=even, applied=((caller or "-", ()),) if even else ())

    host.register_in_process_hook("bt", EchoHook())
    host.load_directory(directory(user("anna", "201", dnd=True)))
    results: dict[str, str] = {}

    def caller_thread(n: int) -> None:
        for k in range(20):
            caller = f"0049301234{n:02d}{k % 10}"
            results[caller] = host.route(caller, "201")["outcome"]

    threads = [threading.Thread(target=caller_thread, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    for caller, outcome in results.items():
        assert outcome == ("ring" if int(caller[-1]) % 2 == 0 else "busy"), caller
