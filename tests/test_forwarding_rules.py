"""The PBX's forwarding rules with the modules' overrides, on the test's own thread.

`de.sfhost.core.ForwardingRules` is pure (no workers, no hooks, no watchdog): each case is one
directory, one call and the overrides the modules asked for, with the outcome DESIGN.md
states written down.
"""

from __future__ import annotations

import threading
from typing import Any

import jpype
import pytest

from runtime.java_directory import java_directory
from tests.test_routing_core import OUTSIDE_CALLER, directory, user


def rules_route(d: Any, caller: str | None, called: str, **overrides: bool) -> dict[str, Any]:
    """Route with ForwardingRules(8) and these overrides (CallOverrides setter names)."""
    wishes = jpype.JClass("de.sfhost.module.api.CallOverrides")()
    for name, on in overrides.items():
        getattr(wishes, "set" + name[0].upper() + name[1:])(on)
    rules = jpype.JClass("de.sfhost.core.ForwardingRules")(8)
    result = rules.route(java_directory(d), caller, called, wishes if overrides else None)
    return {
        "outcome": str(result.getOutcome()),
        "rings": [str(r) for r in result.getRings()],
        "forwarded_to": [str(n) for n in result.getForwardedTo()],
    }


def test_the_rules_run_on_the_calling_thread(jvm: None) -> None:
    d = directory(user("anna", "201"))
    before = {t.name for t in threading.enumerate()}
    assert rules_route(d, OUTSIDE_CALLER, "201")["outcome"] == "ring"
    assert {t.name for t in threading.enumerate()} == before


def test_dnd_gives_busy_and_ignoring_it_rings(jvm: None) -> None:
    d = directory(user("lead", "203", dnd=True))
    assert rules_route(d, OUTSIDE_CALLER, "203")["outcome"] == "busy"
    assert rules_route(d, OUTSIDE_CALLER, "203", ignoreDnd=True) == {
        "outcome": "ring",
        "rings": ["lead"],
        "forwarded_to": [],
    }


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({"answerBusy": True}, "busy"),
        ({"answerVoicemail": True}, "voicemail"),
        ({"answerBusy": True, "answerVoicemail": True}, "busy"),  # busy wins
        # an answer ends the call, whatever else another module asked for
        ({"answerVoicemail": True, "ignoreDnd": True, "ignoreRedirects": True}, "voicemail"),
    ],
)
def test_an_answer_ends_the_call_so(jvm: None, overrides: dict[str, bool], outcome: str) -> None:
    d = directory(user("anna", "201"), user("boss", "202", always="201"))
    for called in ("201", "202"):  # an idle user, and one who forwards everything
        result = rules_route(d, OUTSIDE_CALLER, called, **overrides)
        assert result == {"outcome": outcome, "rings": [], "forwarded_to": []}


def test_redirects_to_the_caller_only_are_ignored_when_asked(jvm: None) -> None:
    d = directory(user("boss", "201", always="202"), user("sec", "202"), user("other", "203"))
    # the secretary calls the boss, who forwards to her: that redirect is ignored
    assert rules_route(d, "202", "201", ignoreRedirectsToCaller=True)["rings"] == ["boss"]
    # someone else calling: the forward applies
    assert rules_route(d, "203", "201", ignoreRedirectsToCaller=True) == {
        "outcome": "ring",
        "rings": ["sec"],
        "forwarded_to": ["202"],
    }
    assert rules_route(d, "203", "201", ignoreRedirects=True)["rings"] == ["boss"]


def test_forced_call_waiting_offers_the_call_to_a_busy_user(jvm: None) -> None:
    d = directory(user("anna", "201", busy=True, on_busy="202"), user("sec", "202"))
    assert rules_route(d, OUTSIDE_CALLER, "201")["forwarded_to"] == ["202"]
    assert rules_route(d, OUTSIDE_CALLER, "201", forceCallWaiting=True) == {
        "outcome": "waiting",
        "rings": ["anna"],
        "forwarded_to": [],
    }


def test_overrides_act_on_the_first_target_only(jvm: None) -> None:
    # The boss forwards to the secretary, who is in DND: ignoring DND (for the boss) does not
    # reach her, so the call ends busy at her.
    d = directory(user("boss", "201", always="202"), user("sec", "202", dnd=True))
    assert rules_route(d, OUTSIDE_CALLER, "201", ignoreDnd=True) == {
        "outcome": "busy",
        "rings": [],
        "forwarded_to": ["202"],
    }


def test_a_group_rings_its_members_whatever_the_overrides(jvm: None) -> None:
    d = directory(
        user("anna", "201"),
        user("bob", "202", dnd=True),
        groups=(
            {"id": "support", "name": "Support", "numbers": ["300"], "members": ["anna", "bob"]},
        ),
    )
    assert rules_route(d, OUTSIDE_CALLER, "300", answerBusy=True, ignoreDnd=True) == {
        "outcome": "ring",
        "rings": ["anna"],
        "forwarded_to": [],
    }
