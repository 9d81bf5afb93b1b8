"""The shim's seams: the PBX directory loader, the number plan, the JPype bridge itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jpype
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from breakthrough.hook import HookAnswer
from runtime.errors import Refused
from runtime.pbx_directory import (
    load_directory,
    load_stored_directory,
    parse_directory_text,
    store_directory,
    stored_path,
)
from runtime.pbx_number_plan import PbxNumberPlan, is_withheld, normalise
from runtime.routing_host import RoutingHost, direct_proxy

OFFICE = Path(__file__).parent / "data" / "pbx" / "office.toml"
PLAN = PbxNumberPlan("49", "251", "00", "0")
PBX_TABLE = (
    '[pbx]\nversion = "8.1.0.4"\ncountry_code = "49"\narea_code = "251"\n'
    'international_prefix = "00"\nnational_prefix = "0"\n'
)

# Tests that are not about the time budget give hooks plenty, so a loaded CI machine cannot
# turn a slow scheduler into a "hook did not answer" failure.
RELAXED_BUDGET_MS = 5000.0


# ---- number plan ------------------------------------------------------------------------------


def test_forms_of_a_national_number() -> None:
    # DESIGN: 00492515906850, +492515906850 and 02515906850 are forms of one number.
    assert set(PLAN.forms("02515906850")) == {"00492515906850", "+492515906850", "02515906850"}
    assert PLAN.forms("+492515906850")[0] == "+492515906850"


def test_foreign_number_has_no_national_form() -> None:
    assert set(PLAN.forms("0041441234567")) == {"0041441234567", "+41441234567"}


def test_extension_has_one_form() -> None:
    # "A number without a prefix is an internal extension and has one form."
    assert PLAN.forms("201") == ("201",)


def test_formatting_is_dropped_and_junk_refused() -> None:
    assert normalise("(0251) 5906-850 / 1") == "025159068501"
    with pytest.raises(Refused, match="'x'"):
        normalise("0251x")
    with pytest.raises(Refused, match="no digits"):
        normalise("+")


def test_withheld_words() -> None:
    assert is_withheld(None) and is_withheld("") and is_withheld(" Anonymous ")
    assert not is_withheld("201")


# No deadline: on a shared machine a first example can take long (a rule of the house: no
# timed tests).
@settings(deadline=None)
@given(st.from_regex(r"\A(\+|00|0)?[1-9][0-9]{2,12}\Z"))
@example("+490")  # its national form would be "00", an international prefix
@example("004901234")
def test_forms_are_one_equivalence_class(number: str) -> None:
    # Every form of a number has exactly the same forms: "forms of one number".
    forms = set(PLAN.forms(number))
    assert number in forms
    for f in forms:
        assert set(PLAN.forms(f)) == forms


US_PLAN = PbxNumberPlan(
    country_code="1", area_code="212", international_prefix="011", national_prefix="1"
)


@settings(deadline=None)
@given(st.from_regex(r"\A(\+|011|1)?[0-9]{1,12}\Z"))
@example("11")  # the trunk prefix twice: an extension, not the national number "1"
def test_forms_are_one_equivalence_class_under_a_us_plan(number: str) -> None:
    forms = set(US_PLAN.forms(number))
    assert number in forms
    for f in forms:
        assert set(US_PLAN.forms(f)) == forms


# ---- PBX directory ---------------------------------------------------------------------------


def test_office_directory_loads() -> None:
    d = load_directory(OFFICE)
    assert [u.id for u in d.users] == ["boss", "secretary", "lead", "dev"]
    assert d.version == "8.1.0.4"
    boss = d.users[0]
    assert boss.redirect("always").enabled and boss.redirect("always").destination == "202"
    assert boss.redirect("timeout").seconds == 20
    # every form of every number leads to its party
    assert d.number_owner["+492515906201"] == "boss"
    assert d.number_owner["02515906201"] == "boss"
    assert d.number_owner["203"] == "lead" and d.number_owner["02515906203"] == "lead"
    assert d.number_owner["300"] == "support"


def refusal(text: str) -> str:
    with pytest.raises(Refused) as info:
        parse_directory_text(text.encode(), "dir.toml")
    return str(info.value)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ('[[users]]\nid = "a"\nnumbers = ["2x1"]\n', ["dir.toml", "users[0]", "numbers[0]", "'x'"]),
        ('[[users]]\nid = "a"\ndnd = "yes"\n', ["dir.toml", "users[0]", "dnd"]),
        (
            '[[users]]\nid = "a"\nredirects.always = { enabled = true }\n',
            ["users[0]", "redirects.always.destination"],
        ),
        (
            '[[users]]\nid = "a"\nredirects.timeout = { enabled = true, destination = "202", '
            "seconds = 0 }\n",
            ["redirects.timeout.seconds"],
        ),
        (
            '[[users]]\nid = "a"\nredirects.sometimes = { enabled = false }\n',
            ["redirects.sometimes", "unknown field"],
        ),
        (
            '[[users]]\nid = "a"\nnumbers = ["201"]\n[[users]]\nid = "b"\nnumbers = ["201"]\n',
            ["users[1]", "numbers[0]", "'a'"],
        ),
        (
            '[[users]]\nid = "a"\nnumbers = ["00492515906201"]\n[[users]]\nid = "b"\n'
            'numbers = ["0251 5906201"]\n',
            ["users[1]", "numbers[0]"],
        ),
        ('[[users]]\nid = "a"\n[[users]]\nid = "a"\n', ["users[1]", "id", "already used"]),
        ('[[groups]]\nid = "g"\nmembers = ["nobody"]\n', ["groups[0]", "members[0]", "nobody"]),
        ('[[groups]]\nid = "g"\nstrategy = "random"\n', ["groups[0]", "strategy"]),
        ('[[users]]\nid = "a"\ndnd_on = true\n', ["users[0]", "dnd_on", "unknown field"]),
    ],
)
def test_bad_directories_are_refused_naming_file_and_field(body: str, names: list[str]) -> None:
    message = refusal(PBX_TABLE + body)
    for name in names:
        assert name in message, (name, message)


def test_pbx_table_is_required_and_checked() -> None:
    assert "[pbx]" in refusal('[[users]]\nid = "a"\n')
    assert "pbx.version" in refusal(PBX_TABLE.replace('"8.1.0.4"', '"latest"'))
    assert "pbx.country_code" in refusal(PBX_TABLE.replace('country_code = "49"', ""))
    assert "pbx.national_prefix" in refusal(
        PBX_TABLE.replace('national_prefix = "0"', 'national_prefix = "00"')
    )


def test_invalid_toml_is_refused_with_its_position() -> None:
    message = refusal("[pbx\n")
    assert "dir.toml" in message and "line 1" in message


def test_store_replaces_atomically_and_keeps_the_old_on_refusal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store_directory(OFFICE, data)
    assert stored_path(data).read_bytes() == OFFICE.read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text(PBX_TABLE + '[[users]]\nid = "a"\nbusy = 1\n')
    with pytest.raises(Refused, match="busy"):
        store_directory(bad, data)
    assert stored_path(data).read_bytes() == OFFICE.read_bytes()
    assert sorted(p.name for p in data.iterdir()) == ["pbx.toml"]
    assert [u.id for u in load_stored_directory(data).users][0] == "boss"


def test_no_stored_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="sfm pbx load"):
        load_stored_directory(tmp_path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="no such"):
        load_directory(tmp_path / "nope.toml")


# ---- the bridge --------------------------------------------------------------------------------


class Fixed:
    """A hook that answers what it was given, whatever the call."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def on_call(self, called: str, caller: str | None) -> Any:
        return self.answer


def routed(hook: Any, called: str = "203", times: int = 1) -> list[dict[str, Any]]:
    """The results of routing an outside call to `called` (the lead, in DND) with `hook`."""
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        h.load_directory(load_directory(OFFICE))
        h.register_in_process_hook("m", hook)
        return [h.route("0049301234567", called) for _ in range(times)]
    finally:
        h.close()


def test_the_hooks_effects_and_applied_list_reach_the_call_result(jvm: None) -> None:
    # Names as admins write them, with the characters a wire format might trip on.
    applied = (("Ä Team; 1|2", ("bypass_dnd",)), ('B "x" = y', ("force_call_waiting",)))
    answer = HookAnswer(ignore_dnd=True, force_call_waiting=True, applied=applied)
    (r,) = routed(Fixed(answer))
    assert (r["outcome"], r["rings"]) == ("ring", ["lead"])
    assert r["applied"] == [
        {"instance": "Ä Team; 1|2", "effects": ["bypass_dnd"]},
        {"instance": 'B "x" = y', "effects": ["force_call_waiting"]},
    ]
    (r,) = routed(Fixed(HookAnswer()))
    assert (r["outcome"], r["applied"]) == ("busy", [])


def test_a_mutable_answer_object_is_read_afresh_on_every_call(jvm: None) -> None:
    class Mutable:
        def __init__(self) -> None:
            self.ignore_dnd = self.ignore_redirects = False
            self.ignore_redirects_to_caller = self.force_call_waiting = False
            self.applied: list[tuple[str, tuple[str, ...]]] = []

    answer = Mutable()

    class Changing:
        calls = 0

        def on_call(self, called: str, caller: str | None) -> Any:
            self.calls += 1
            if self.calls == 2:  # the second call finds the object changed
                answer.ignore_dnd = True
                answer.applied.append(("A", ("bypass_dnd",)))
            return answer

    first, second = routed(Changing(), times=2)
    assert (first["outcome"], first["applied"]) == ("busy", [])
    assert (second["outcome"], second["applied"]) == (
        "ring",
        [{"instance": "A", "effects": ["bypass_dnd"]}],
    )


def test_a_failing_hooks_message_reaches_the_call_result(jvm: None) -> None:
    class Boom:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            raise ValueError(f"cannot decide {called} for {caller}")

    (r,) = routed(Boom())
    assert (r["outcome"], r["applied"]) == ("busy", [])  # routed as if the hook were absent
    assert len(r["module_errors"]) == 1
    assert "ValueError: cannot decide 203 for 0049301234567" in r["module_errors"][0]


def test_route_without_directory_is_refused(jvm: None) -> None:
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        with pytest.raises(Refused, match="no PBX directory"):
            h.route("201", "202")
    finally:
        h.close()


def test_direct_proxy_hands_java_the_python_message(jvm: None) -> None:
    # "A Python exception raised inside a JProxy reaches Java with no message": the proxy
    # turns it into a Java HookFailure carrying the text and the traceback.
    class Boom:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            raise ValueError(f"cannot decide {called}")

    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        h.load_directory(load_directory(OFFICE))
        ctx = bench.contextFor(h.core, "202", "201")
        with pytest.raises(jpype.JClass("de.sfhost.core.HookFailure")) as info:
            bench.callHookHere(direct_proxy(Boom()), ctx, 1)
        assert "ValueError: cannot decide 201" in str(info.value.getMessage())
        assert "Traceback" in str(info.value.getDetail())
    finally:
        h.close()


def test_direct_proxy_registered_as_java_hook_still_routes(jvm: None) -> None:
    # The core accepts any KernelHook; a plain JProxy works (slowly) through it too.
    class Dnd:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            return HookAnswer(ignore_dnd=True, applied=(("X", ("bypass_dnd",)),))

    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        h.load_directory(load_directory(OFFICE))
        h.core.register("direct", "PostTargetDeterminationIncoming", direct_proxy(Dnd()))
        r = h.route("0049301234567", "203")
    finally:
        h.close()
    assert (r["outcome"], r["applied"]) == ("ring", [{"instance": "X", "effects": ["bypass_dnd"]}])


def test_registering_again_replaces_the_hook(jvm: None) -> None:
    calls: list[str] = []

    class Named:
        def __init__(self, name: str, dnd: bool) -> None:
            self.name, self.dnd = name, dnd

        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            calls.append(self.name)
            return HookAnswer(ignore_dnd=self.dnd)

    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        h.load_directory(load_directory(OFFICE))
        h.register_in_process_hook("m", Named("first", True))
        assert h.route("0049301234567", "203")["outcome"] == "ring"
        h.register_in_process_hook("m", Named("second", False))
        assert h.route("0049301234567", "203")["outcome"] == "busy"
    finally:
        h.close()
    assert calls == ["first", "second"]


def java_threads_alive_soon(names: set[str]) -> set[str]:
    """Which of the Java threads `names` are still alive after up to 5 s (a thread that left
    its work is gone a moment later)."""
    java_thread = jpype.JClass("java.lang.Thread")
    until = time.monotonic() + 5
    while True:
        alive = {str(t.getName()) for t in java_thread.getAllStackTraces().keySet()} & names
        if not alive or time.monotonic() > until:
            return alive
        time.sleep(0.01)


def test_an_in_process_hook_runs_on_the_cores_worker_threads(jvm: None) -> None:
    # Calls run on the core's own Java worker threads (as in a PBX), never on the caller's.
    java_thread = jpype.JClass("java.lang.Thread")
    seen: set[str] = set()
    counts: list[int] = []

    class Where:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            seen.add(str(java_thread.currentThread().getName()))
            counts.append(1)
            return HookAnswer()

    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, workers=4)
    try:
        h.load_directory(load_directory(OFFICE))
        h.register_in_process_hook("m", Where())
        for _ in range(200):
            h.route("0049301234567", "203")
    finally:
        h.close()
    assert 1 <= len(seen) <= 4
    assert all(name.startswith("sfhost-call-") for name in seen)
    assert len(counts) == 200


def test_close_ends_the_worker_threads(jvm: None) -> None:
    java_thread = jpype.JClass("java.lang.Thread")
    names: set[str] = set()

    class Noop:
        def on_call(self, called: str, caller: str | None) -> Any:
            names.add(str(java_thread.currentThread().getName()))
            return HookAnswer()

    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, workers=3)
    h.load_directory(load_directory(OFFICE))
    h.register_in_process_hook("closing", Noop())
    for _ in range(20):
        h.route("0049301234567", "203")
    h.close()
    assert names and not names & java_threads_alive_soon(names)


def test_close_stops_a_worker_stuck_in_a_python_loop(jvm: None) -> None:
    # A worker is a Java thread running Python; close() must not leave one executing Python
    # (at exit CPython would end it from under the JVM). A hook looping in Python code gets
    # SystemExit, and its worker thread ends.
    java_thread = jpype.JClass("java.lang.Thread")
    names: set[str] = set()

    class Loop:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            names.add(str(java_thread.currentThread().getName()))
            until = time.monotonic() + 30
            while time.monotonic() < until:
                pass
            return HookAnswer(ignore_dnd=True)

    h = RoutingHost(hook_budget_ms=100, workers=2)
    try:
        h.load_directory(load_directory(OFFICE))
        h.register_in_process_hook("m", Loop())
        r = h.route("0049301234567", "203")
    finally:
        started = time.monotonic()
        h.close()
        took = time.monotonic() - started
    assert r["outcome"] == "busy" and "within 100 ms" in r["module_errors"][0]
    assert names and not names & java_threads_alive_soon(names)
    assert took < 10


def test_java_hook_answers_a_synchronous_java_caller(jvm: None) -> None:
    # A module's Java entry class may wrap the bridge as a plain KernelHook and call onCall;
    # the answer of the Python hook arrives in the overrides it passes.
    class Dnd:
        def on_call(self, called: str, caller: str | None) -> HookAnswer:
            return HookAnswer(ignore_dnd=True, applied=(("X", ("bypass_dnd",)),))

    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        h.load_directory(load_directory(OFFICE))
        h.register_in_process_hook("m", Dnd())
        overrides = jpype.JClass("de.sfhost.module.api.CallOverrides")()
        h.java_hook("m").onCall(bench.contextFor(h.core, "202", "203"), overrides)
    finally:
        h.close()
    assert overrides.isIgnoreDnd() and not overrides.isForceCallWaiting()
    assert [list(map(str, a)) for a in overrides.getApplied()] == [["X", "bypass_dnd"]]
