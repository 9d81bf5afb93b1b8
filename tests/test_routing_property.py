"""Property test: the Java core against a small Python reference of DESIGN.md's routing rules.

Hypothesis draws a PBX of a few users with random DND, call waiting, busy and redirects
(to other users, the voicemail, or outside), a caller (outside or one of the users) and the
overrides a hook answers; the reference below is DESIGN.md's "PBX behaviour without the
module", the module's effects and the forwarding-chain rules, written out directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakthrough.hook import HookAnswer
from runtime.pbx_directory import parse_directory
from runtime.routing_host import RoutingHost

HOP_LIMIT = 3
OUTSIDE = ("0049301234567", "0041441234567")
KINDS = ("always", "busy", "timeout")

# Tests that are not about the time budget give hooks plenty, so a loaded CI machine cannot
# turn a slow scheduler into a "hook did not answer" failure.
RELAXED_BUDGET_MS = 5000.0


@dataclass(frozen=True)
class U:
    id: str
    number: str
    dnd: bool
    call_waiting: bool
    busy: bool
    redirects: tuple[tuple[str, str], ...]  # (kind, destination) of the enabled ones


class SwitchableHook:
    def __init__(self) -> None:
        self.answer = HookAnswer()

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        return self.answer


@st.composite
def pbx(draw: Any) -> tuple[list[U], str, str, HookAnswer]:
    n = draw(st.integers(2, 5))
    numbers = [str(201 + i) for i in range(n)]
    destinations = st.sampled_from([*numbers, "voicemail", *OUTSIDE])
    users = []
    for i in range(n):
        redirects = tuple((kind, draw(destinations)) for kind in KINDS if draw(st.booleans()))
        users.append(
            U(
                f"u{i}",
                numbers[i],
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.booleans()),
                redirects,
            )
        )
    called = draw(st.sampled_from(numbers))
    caller = draw(st.sampled_from([*numbers, *OUTSIDE]))
    flags = [draw(st.booleans()) for _ in range(4)]
    answer = HookAnswer(
        ignore_dnd=flags[0],
        ignore_redirects=flags[1],
        ignore_redirects_to_caller=flags[2],
        force_call_waiting=flags[3],
        applied=(("P", ()),) if any(flags) else (),
    )
    return users, called, caller, answer


def reference(users: list[U], called: str, caller: str, ov: HookAnswer) -> dict[str, Any]:
    by_number = {u.number: u for u in users}
    caller_user = by_number.get(caller)
    target = by_number[called]
    chain = {target.id}
    forwarded: list[str] = []
    current, overrides, hops = target, ov, 0
    outcome: str
    rings: list[str]

    def redirect(u: U, kind: str, o: HookAnswer | None, off: set[str]) -> str | None:
        dest = dict(u.redirects).get(kind)
        if dest is None or kind in off:
            return None
        if o is not None:
            to_caller = dest == caller or (
                caller_user is not None and by_number.get(dest) is caller_user
            )
            if o.ignore_redirects or (o.ignore_redirects_to_caller and to_caller):
                return None
        return dest

    def decide(u: U, o: HookAnswer | None, off: set[str]) -> tuple[str, str | None, str | None]:
        # ALWAYS -> DND (TIMEOUT at once, else busy) -> busy (waiting / BUSY / busy) -> ring
        dest = redirect(u, "always", o, off)
        if dest is not None:
            return "forward", "always", dest
        if u.dnd and not (o is not None and o.ignore_dnd):
            dest = redirect(u, "timeout", o, off)
            return ("forward", "timeout", dest) if dest else ("busy", None, None)
        if u.busy:
            if u.call_waiting or (o is not None and o.force_call_waiting):
                return "waiting", None, None
            dest = redirect(u, "busy", o, off)
            return ("forward", "busy", dest) if dest else ("busy", None, None)
        return "ring", None, None

    while True:
        off: set[str] = set()
        while True:
            step, kind, dest = decide(current, overrides, off)
            if step != "forward" or dest == "voicemail" or dest not in by_number:
                break
            if by_number[dest].id in chain or hops >= HOP_LIMIT:
                off.add(str(kind))  # a loop / one hop too many: as if that forward were off
                continue
            break
        if step == "forward":
            if dest == "voicemail":
                outcome, rings = "voicemail", []
                break
            forwarded.append(str(dest))
            if dest not in by_number:
                outcome, rings = "forward", []
                break
            current = by_number[str(dest)]
            chain.add(current.id)
            hops += 1
            overrides = None  # the module acts on the determined target only
            continue
        outcome, rings = step, ([] if step == "busy" else [current.id])
        break
    return {
        "outcome": outcome,
        "rings": rings,
        "forwarded_to": forwarded,
        "originally_called": target.id if forwarded else None,
    }


@pytest.fixture(scope="module")
def hosted(jvm: None) -> Iterator[tuple[RoutingHost, SwitchableHook]]:
    hook = SwitchableHook()
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, hop_limit=HOP_LIMIT)
    h.register_in_process_hook("p", hook)
    yield h, hook
    h.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pbx())
def test_core_matches_the_reference(
    hosted: tuple[RoutingHost, SwitchableHook], case: tuple[list[U], str, str, HookAnswer]
) -> None:
    host, hook = hosted
    users, called, caller, answer = case
    directory = parse_directory(
        {
            "pbx": {
                "version": "8.1.0.4",
                "country_code": "49",
                "area_code": "251",
                "international_prefix": "00",
                "national_prefix": "0",
            },
            "users": [
                {
                    "id": u.id,
                    "name": u.id,
                    "numbers": [u.number],
                    "dnd": u.dnd,
                    "call_waiting": u.call_waiting,
                    "busy": u.busy,
                    "redirects": {
                        kind: {"enabled": True, "destination": dest} for kind, dest in u.redirects
                    },
                }
                for u in users
            ],
        },
        "property directory",
    )
    host.load_directory(directory)
    hook.answer = answer
    got = host.route(caller, called)
    want = reference(users, called, caller, answer)
    assert {k: got[k] for k in want} == want
    assert got["module_errors"] == []
    assert len(got["applied"]) == len(answer.applied)
