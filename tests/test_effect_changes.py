"""`changed` of a routed call: only the effects that made a difference, by the routing itself.

Written-down cases on a small PBX, then a property test against the Python reference router of
`test_routing_property` (DESIGN.md's routing rules written out), with "changed" spelt out as
the issue asks: an effect changed the call when routing without it (and without others whose
absence alone changes nothing) gives another outcome, other ringing phones or other forwards.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from breakthrough.hook import HookAnswer
from runtime.pbx_directory import parse_directory
from runtime.routing_host import RoutingHost
from tests import test_routing_property
from tests.test_routing_property import PLAN, Pbx, SwitchableHook, pbx, reference

EFFECTS = ("bypass_dnd", "bypass_redirects", "bypass_self_redirects_only", "force_call_waiting")


def answer(*instances: tuple[str, tuple[str, ...]]) -> HookAnswer:
    asked = {e for _, effects in instances for e in effects}
    return HookAnswer(
        ignore_dnd="bypass_dnd" in asked,
        ignore_redirects="bypass_redirects" in asked,
        ignore_redirects_to_caller="bypass_self_redirects_only" in asked,
        force_call_waiting="force_call_waiting" in asked,
        applied=tuple(instances),
    )


# The property test's host (its hop limit, a relaxed budget) and switchable hook.
hosted = test_routing_property.hosted


def load(
    host: RoutingHost, users: list[dict[str, Any]], groups: list[dict[str, Any]] | None = None
) -> None:
    host.load_directory(
        parse_directory({"pbx": PLAN, "users": users, "groups": groups or []}, "test directory")
    )


# The sample's people: 201 forwards always to 202; 203 is in DND; 204 is busy without call
# waiting and forwards on busy to the voicemail; 205 is busy and forwards on busy to 201.
SAMPLE = [
    {"id": "boss", "name": "Boss", "numbers": ["201"],
     "redirects": {"always": {"enabled": True, "destination": "202"}}},
    {"id": "secretary", "name": "Secretary", "numbers": ["202"]},
    {"id": "dev", "name": "Dev", "numbers": ["203"], "dnd": True},
    {"id": "support", "name": "Support", "numbers": ["204"], "busy": True,
     "redirects": {"busy": {"enabled": True, "destination": "voicemail"}}},
    {"id": "back", "name": "Back", "numbers": ["205"], "busy": True,
     "redirects": {"busy": {"enabled": True, "destination": "201"}}},
]  # fmt: skip


@pytest.mark.parametrize(
    ("caller", "called", "instances", "changed"),
    [
        # 202 is neither in DND nor forwarding: matching changes nothing.
        ("210", "202", [("T", ("bypass_dnd", "bypass_redirects"))], []),
        # 203's DND is bypassed: it rings instead of busy; the redirect bypass did nothing.
        ("210", "203", [("T", ("bypass_dnd", "bypass_redirects"))], [("T", ["bypass_dnd"])]),
        # 201's forward to 202 is bypassed: 201 rings.
        ("210", "201", [("T", ("bypass_dnd", "bypass_redirects"))],
         [("T", ["bypass_redirects"])]),
        # Forced call waiting makes 204 take the call; the busy-redirect bypass is then moot.
        ("210", "204", [("T", ("bypass_redirects",)), ("W", ("force_call_waiting",))],
         [("W", ["force_call_waiting"])]),
        # Without call waiting, bypassing 204's busy redirect turns voicemail into busy.
        ("210", "204", [("T", ("bypass_redirects",))], [("T", ["bypass_redirects"])]),
        # 205 forwards on busy to the caller 201: both bypasses undo it, each would alone.
        ("201", "205", [("A", ("bypass_redirects",)), ("S", ("bypass_self_redirects_only",))],
         [("A", ["bypass_redirects"]), ("S", ["bypass_self_redirects_only"])]),
        # Two instances asking the same effect that changed the call are both named.
        ("210", "203", [("A", ("bypass_dnd",)), ("B", ("bypass_dnd", "force_call_waiting"))],
         [("A", ["bypass_dnd"]), ("B", ["bypass_dnd"])]),
        # A match without effects changes nothing.
        ("210", "203", [("N", ())], []),
    ],
)
def test_changed_names_only_the_effects_that_made_a_difference(
    hosted: tuple[RoutingHost, SwitchableHook],
    caller: str,
    called: str,
    instances: list[tuple[str, tuple[str, ...]]],
    changed: list[tuple[str, list[str]]],
) -> None:
    host, hook = hosted
    load(host, [*SAMPLE, {"id": "lead", "name": "Lead", "numbers": ["210"]}])
    hook.answer = answer(*instances)
    result = host.route(caller, called)
    assert result["applied"] == [{"instance": n, "effects": list(e)} for n, e in instances]
    assert result["changed"] == [{"instance": n, "effects": e} for n, e in changed]


def test_a_group_call_and_a_call_without_hooks_changed_nothing(
    hosted: tuple[RoutingHost, SwitchableHook],
) -> None:
    host, hook = hosted
    load(host, SAMPLE, [{"id": "g", "name": "G", "numbers": ["300"], "members": ["dev"]}])
    hook.answer = answer(("T", ("bypass_dnd",)))
    assert host.route("210", "300")["changed"] == []
    bare = RoutingHost()
    try:
        bare.load_directory(parse_directory({"pbx": PLAN, "users": SAMPLE}, "test directory"))
        assert bare.route("210", "203")["changed"] == []
    finally:
        bare.close()


def test_a_forward_to_a_round_robin_group_is_not_changed_by_an_unused_effect(
    hosted: tuple[RoutingHost, SwitchableHook],
) -> None:
    host, hook = hosted
    load(
        host,
        [
            {"id": "a", "name": "A", "numbers": ["201"],
             "redirects": {"always": {"enabled": True, "destination": "300"}}},
            {"id": "b", "name": "B", "numbers": ["202"]},
            {"id": "c", "name": "C", "numbers": ["203"]},
            {"id": "d", "name": "D", "numbers": ["204"]},
        ],
        [{"id": "g", "name": "G", "numbers": ["300"], "members": ["b", "c", "d"],
          "strategy": "round_robin"}],
    )  # fmt: skip
    # Nobody is in DND: ignoring DND changes nothing, whichever member the rotation starts at.
    hook.answer = answer(("T", ("bypass_dnd",)))
    for _ in range(4):
        assert host.route("0049301234567", "201")["changed"] == []
    # The replays behind `changed` (two per call here) moved no rotation: three calls in a
    # row are offered first to three different members, each one further on.
    firsts = [host.route("0049301234567", "201")["rings"][0] for _ in range(3)]
    order = ["b", "c", "d"]
    start = order.index(firsts[0])
    assert firsts == [order[(start + i) % 3] for i in range(3)]


def key(result: dict[str, Any]) -> tuple[Any, ...]:
    return result["outcome"], tuple(result["rings"]), tuple(result["forwarded_to"])


def reference_changed(p: Pbx, called: str, caller: str, asked: set[str]) -> set[str]:
    """The spec, over the reference router: effect e changed the call when some set W of the
    other asked effects can be left out without changing the result, and leaving out e as
    well does change it."""

    def routed(effects: set[str]) -> tuple[Any, ...]:
        return key(reference(p, called, caller, answer(("P", tuple(sorted(effects))))))

    actual = routed(asked)
    changed = set()
    for e in asked:
        others = sorted(asked - {e})
        for size in range(len(others) + 1):
            for w in itertools.combinations(others, size):
                kept = asked - set(w)
                if routed(kept) == actual and routed(kept - {e}) != actual:
                    changed.add(e)
    return changed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pbx())
def test_changed_matches_the_reference(
    hosted: tuple[RoutingHost, SwitchableHook], case: tuple[Pbx, str, str, HookAnswer]
) -> None:
    host, hook = hosted
    p, called, caller, drawn = case
    flags = (
        drawn.ignore_dnd,
        drawn.ignore_redirects,
        drawn.ignore_redirects_to_caller,
        drawn.force_call_waiting,
    )
    asked = {effect for effect, on in zip(EFFECTS, flags, strict=True) if on}
    host.load_directory(parse_directory(p.directory(), "property directory"))
    hook.answer = answer(("P", tuple(sorted(asked))))
    got = host.route(caller, called)
    want = reference_changed(p, called, caller, asked)
    assert got["changed"] == ([{"instance": "P", "effects": sorted(want)}] if want else [])
