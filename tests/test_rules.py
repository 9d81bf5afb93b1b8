"""One instance's rule: the semantics of DESIGN.md and the product text, decision by decision."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breakthrough.config import InstanceConfig, Settings
from breakthrough.errors import ConfigError
from breakthrough.number_forms import NumberPlan, is_withheld
from breakthrough.rules import Decision, compile_instance, decide
from tests.number_reference import pattern_texts, reference_first, well_formed

GERMAN = NumberPlan()
EVERY_SETTING = (
    "bypass_dnd",
    "bypass_redirects",
    "bypass_self_redirects_only",
    "force_call_waiting",
)
FORMS_OF_THE_PRODUCT_NUMBER = ("00492515906850", "+492515906850", "02515906850")


def rule(
    called_active: tuple[str, ...] = ("*",),
    called_exceptions: tuple[str, ...] = (),
    caller_active: tuple[str, ...] = ("*",),
    caller_exceptions: tuple[str, ...] = (),
    active: bool = True,
    **switches: bool,
) -> InstanceConfig:
    return InstanceConfig(
        name="Test",
        active=active,
        called_active=called_active,
        called_exceptions=called_exceptions,
        caller_active=caller_active,
        caller_exceptions=caller_exceptions,
        settings=Settings(**switches) if switches else Settings(bypass_dnd=True),
    )


def check(cfg: InstanceConfig, called: str, caller: str | None) -> Decision:
    return decide(compile_instance(cfg, GERMAN), called, caller)


class TestProductText:
    @pytest.mark.parametrize("caller", FORMS_OF_THE_PRODUCT_NUMBER)
    def test_recommended_wildcard_catches_every_signalled_form(self, caller: str) -> None:
        # "Daher empfehlen wir ... Wildcards bei der Quellrufnummer, also zum Beispiel
        # *2515906850."
        assert check(rule(caller_active=("*2515906850",)), "201", caller).match

    @pytest.mark.parametrize("caller", FORMS_OF_THE_PRODUCT_NUMBER)
    @pytest.mark.parametrize(
        "pattern",
        ["00492515906850", "+49251*", "0251*", "+492515906850", "02515906850", "0049251590685?"],
    )
    def test_an_entry_in_any_form_catches_every_form(self, pattern: str, caller: str) -> None:
        # DESIGN.md: `00492515906850`, `+49251*` and `0251*` in a list all catch a call
        # signalled as `+492515906850` (and, the forms being one number, the others too).
        assert check(rule(caller_active=(pattern,)), "201", caller).match

    @pytest.mark.parametrize("caller", FORMS_OF_THE_PRODUCT_NUMBER)
    @pytest.mark.parametrize("pattern", ["?2515906850", "?251*", "0?51*", "*51590685?", "0*850"])
    def test_wildcards_may_stand_for_a_prefix_digit(self, pattern: str, caller: str) -> None:
        # Each of these matches only the national form 02515906850, so it works for the other
        # forms only through the number-form rule.
        assert check(rule(caller_active=(pattern,)), "201", caller).match

    @pytest.mark.parametrize("pattern", ["0251*", "00492515906850", "*2515906850"])
    def test_a_number_of_another_area_is_not_caught(self, pattern: str) -> None:
        assert not check(rule(caller_active=(pattern,)), "201", "+493015906850").match

    def test_question_mark_is_exactly_one_digit(self) -> None:
        cfg = rule(called_active=("2?1",))
        assert check(cfg, "201", "1").match
        assert check(cfg, "291", "1").match
        assert not check(cfg, "21", "1").match
        assert not check(cfg, "2001", "1").match

    def test_star_is_zero_one_or_more_digits(self) -> None:
        cfg = rule(called_active=("20*",))
        for called in ("20", "201", "2012345"):
            assert check(cfg, called, "1").match
        assert not check(cfg, "2", "1").match

    def test_the_whole_number_must_match(self) -> None:
        cfg = rule(called_active=("201",))
        assert not check(cfg, "2010", "1").match
        assert not check(cfg, "1201", "1").match

    def test_an_extension_is_only_itself(self) -> None:
        # 201 is an extension, not a local number of area 251.
        cfg = rule(caller_active=("*2515906201",))
        assert not check(cfg, "300", "201").match


class TestLists:
    def test_exception_wins_over_active(self) -> None:
        cfg = rule(called_active=("2*",), called_exceptions=("299",))
        assert check(cfg, "201", "1").match
        decision = check(cfg, "299", "1")
        assert not decision.match and decision.effects == ()
        assert "'Ausnahmen' pattern '299'" in decision.explanation

    def test_caller_exception_in_another_form_wins(self) -> None:
        cfg = rule(caller_active=("*",), caller_exceptions=("02515906850",))
        for caller in FORMS_OF_THE_PRODUCT_NUMBER:
            assert not check(cfg, "201", caller).match
        assert check(cfg, "201", "02515906851").match

    def test_and_valid_called_with_invalid_caller_is_ignored(self) -> None:
        # "Ist die angerufene Nummer valide, die Anrufernummer jedoch nicht, wird der Anruf
        # vom Modul ignoriert."
        cfg = rule(called_active=("201",), caller_active=("202",))
        assert check(cfg, "201", "202").match
        assert not check(cfg, "201", "203").match
        assert not check(cfg, "200", "202").match

    @pytest.mark.parametrize("side", ["called", "caller"])
    def test_empty_active_matches_nothing(self, side: str) -> None:
        cfg = rule(**{f"{side}_active": ()})  # type: ignore[arg-type]
        for number in ("201", "00492515906850", "0"):
            decision = check(cfg, number, number)
            assert not decision.match
            assert "'Aktiv für' is empty" in decision.explanation

    def test_star_matches_every_number(self) -> None:
        cfg = rule(called_active=("*",), caller_active=("*",))
        for number in ("1", "201", "+14155550100", "00492515906850", "02515906850", "0"):
            assert check(cfg, number, number).match


class TestWithheldAndInactive:
    @pytest.mark.parametrize("caller", [None, "", "anonymous", "Anonymous", "unknown"])
    def test_withheld_caller_matches_not_even_star(self, caller: str | None) -> None:
        decision = check(rule(caller_active=("*",)), "201", caller)
        assert decision == Decision(False, (), decision.explanation)
        assert "withheld" in decision.explanation

    def test_inactive_instance_never_matches(self) -> None:
        decision = check(rule(active=False), "201", "202")
        assert not decision.match and decision.effects == ()
        assert "inactive" in decision.explanation


class TestEffects:
    @pytest.mark.parametrize(
        "switches",
        [
            {},
            {"bypass_dnd": True},
            {"force_call_waiting": True},
            {"bypass_redirects": True},
            {"bypass_redirects": True, "bypass_self_redirects_only": True},
            dict.fromkeys(EVERY_SETTING, True),
        ],
    )
    def test_effects_are_the_switched_on_settings_in_form_order(
        self, switches: dict[str, bool]
    ) -> None:
        cfg = InstanceConfig(
            name="x", called_active=("*",), caller_active=("*",), settings=Settings(**switches)
        )
        decision = decide(compile_instance(cfg, GERMAN), "201", "202")
        assert decision.match
        assert decision.effects == tuple(name for name in EVERY_SETTING if switches.get(name))

    def test_no_match_has_no_effects(self) -> None:
        cfg = rule(caller_active=("202",), **dict.fromkeys(EVERY_SETTING, True))
        assert check(cfg, "201", "203").effects == ()


class TestExplanation:
    def test_names_the_list_and_pattern_that_decided(self) -> None:
        cfg = rule(called_active=("1*", "2*"), caller_active=("201", "*2515906850"))
        decision = check(cfg, "201", "00492515906850")
        assert decision.match
        assert (
            "called 201 matched 'Aktiv für' pattern '2*' and no 'Ausnahmen'; "
            "caller 00492515906850 matched 'Aktiv für' pattern '*2515906850' and no 'Ausnahmen'"
        ) in decision.explanation

    def test_names_the_form_that_matched_when_it_is_not_the_signalled_one(self) -> None:
        decision = check(rule(caller_active=("0251*",)), "201", "+492515906850")
        assert "pattern '0251*' (as 02515906850)" in decision.explanation

    def test_says_why_not(self) -> None:
        assert (
            "called 300 matched no 'Aktiv für' pattern"
            in check(rule(called_active=("2*",)), "300", "1").explanation
        )
        assert (
            "caller 5 matched no 'Aktiv für' pattern"
            in check(rule(caller_active=("4",)), "300", "5").explanation
        )


class TestRefusals:
    @pytest.mark.parametrize(
        "called, caller, culprit",
        [
            ("2o1", "202", "called number '2o1'"),
            ("201", "0251-59x", "caller number '0251-59x'"),
            ("", "202", "called number ''"),
        ],
    )
    def test_malformed_number_is_refused_naming_it(
        self, called: str, caller: str, culprit: str
    ) -> None:
        with pytest.raises(ConfigError, match=re.escape(culprit)):
            check(rule(), called, caller)

    def test_a_bad_pattern_is_refused_when_compiling(self) -> None:
        cfg = rule(caller_active=("201", "20l"))
        with pytest.raises(ConfigError, match=r"numbers\.caller\.active line 2: '20l' has 'l'"):
            compile_instance(cfg, GERMAN)


# --- the whole rule against a reference written from DESIGN.md, with regexes -----------------


def reference_in(patterns: tuple[str, ...], number: str) -> bool:
    return reference_first(patterns, number, "DE") is not None


def reference_match(cfg: InstanceConfig, called: str, caller: str | None) -> bool:
    if not cfg.active or is_withheld(caller):
        return False
    assert caller is not None
    return (
        reference_in(cfg.called_active, called)
        and not reference_in(cfg.called_exceptions, called)
        and reference_in(cfg.caller_active, caller)
        and not reference_in(cfg.caller_exceptions, caller)
    )


pattern_lists = st.lists(pattern_texts("0259?*", 6), max_size=4).map(tuple)
numbers = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["", "0", "00", "+", "+49", "0049"]),
    st.text(alphabet="0259", min_size=1, max_size=7),
).filter(lambda number: well_formed(number, "DE"))


@settings(max_examples=300, deadline=None)
@given(
    pattern_lists,
    pattern_lists,
    pattern_lists,
    pattern_lists,
    st.booleans(),
    st.lists(st.tuples(numbers, st.one_of(numbers, st.just("anonymous"))), min_size=1, max_size=5),
)
def test_decisions_agree_with_the_reference_rule(
    called_active: tuple[str, ...],
    called_exceptions: tuple[str, ...],
    caller_active: tuple[str, ...],
    caller_exceptions: tuple[str, ...],
    active: bool,
    calls: list[tuple[str, str]],
) -> None:
    cfg = rule(
        called_active,
        called_exceptions,
        caller_active,
        caller_exceptions,
        active=active,
        bypass_dnd=True,
        force_call_waiting=True,
    )
    compiled = compile_instance(cfg, GERMAN)
    for called, caller in calls:
        decision = decide(compiled, called, caller)
        expected = reference_match(cfg, called, caller)
        assert decision.match is expected, (called, caller)
        assert decision.effects == (("bypass_dnd", "force_call_waiting") if expected else ())


# --- the benchmark ------------------------------------------------------------------------------


def test_benchmark_prints_only_the_json_of_the_issue() -> None:
    bench = Path(__file__).resolve().parents[1] / "bench" / "rules.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--seconds", "0.01", "--hook-instances", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    document = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert set(document) == {"ns_per_decision", "naive_ns_per_decision", "hook_ns_per_call"}
    assert (
        isinstance(document["hook_ns_per_call"], int | float) and document["hook_ns_per_call"] > 0
    )
    for key in ("ns_per_decision", "naive_ns_per_decision"):
        assert set(document[key]) == {"1", "100", "10000"}
        assert all(isinstance(v, int | float) and v > 0 for v in document[key].values())
    ours, naive = document["ns_per_decision"], document["naive_ns_per_decision"]
    # A loose bound only (the machine is shared): the compiled lists must beat the loop by
    # far at 10,000 patterns. The targets themselves are in the report of `bench/rules.py`.
    assert naive["10000"] > 10 * ours["10000"]
