"""The hook decides all instances at once (one index per side): the same answers as deciding
each instance alone with `rules.decide`, and the same log lines."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakthrough import automata, pattern_index
from breakthrough.config import InstanceConfig, Settings
from breakthrough.errors import ConfigError
from breakthrough.hook import NO_CHANGE, BreakthroughHook, HookAnswer
from breakthrough.index import InstanceIndex
from breakthrough.numbers import NumberPlan
from breakthrough.rules import CompiledInstance, compile_instance, decide

GERMAN = NumberPlan()
US = NumberPlan(country_code="1", area_code="415", international_prefix="011", national_prefix="1")
LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")


class Recorder:
    """A log sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def __call__(self, instance: str, level: str, message: str) -> None:
        self.lines.append((instance, level, message))


def expected_answer(
    instances: list[CompiledInstance], called: str, caller: str | None
) -> tuple[HookAnswer, list[tuple[str, str, str]]]:
    """What the hook must answer and log: every instance decided alone by rules.decide.

    The effects map as DESIGN.md says: "Anrufumleitungen umgehen" ignores every redirect,
    unless "... auf sich selbst umgehen" narrows it to redirects to the caller.
    """
    decisions = []
    for compiled in instances:
        if not compiled.active:
            continue
        try:
            decisions.append((compiled, decide(compiled, called, caller)))
        except ConfigError as refused:  # a number that is not a number: call left alone
            warned = [
                (c.name, "WARN", f"call left alone: {refused}")
                for c in instances
                if c.active and c.log_level in ("WARN", "INFO", "DEBUG", "TRACE")
            ]
            return NO_CHANGE, warned
    logged = []
    for compiled, decision in decisions:
        if decision.match and compiled.log_level in ("INFO", "DEBUG", "TRACE"):
            effects = ", ".join(decision.effects)
            logged.append(
                (compiled.name, "INFO", f"breakthrough: caller {caller} to {called}: {effects}")
            )
        if decision.match and compiled.log_level in ("DEBUG", "TRACE"):
            logged.append((compiled.name, "DEBUG", decision.explanation))
        elif not decision.match and compiled.log_level == "TRACE":
            logged.append((compiled.name, "TRACE", decision.explanation))
    matched = [c.config.settings for c, d in decisions if d.match]
    if not matched:
        return NO_CHANGE, logged
    answer = HookAnswer(
        ignore_dnd=any(s.bypass_dnd for s in matched),
        ignore_redirects=any(
            s.bypass_redirects and not s.bypass_self_redirects_only for s in matched
        ),
        ignore_redirects_to_caller=any(s.bypass_self_redirects_only for s in matched),
        force_call_waiting=any(s.force_call_waiting for s in matched),
        applied=tuple((c.name, d.effects) for c, d in decisions if d.match),
    )
    return answer, logged


# Small alphabets make matches, prefix sharing and overlaps frequent; `?` and `*` anywhere.
pattern_text = st.builds(
    lambda plus, body: plus + body,
    st.sampled_from(["", "", "", "+"]),
    st.text(alphabet="0149?*", min_size=1, max_size=7),
)
pattern_lists = st.lists(pattern_text, max_size=5).map(tuple)
number_text = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["", "0", "00", "+", "+49", "0049", "1", "011", "+1"]),
    st.text(alphabet="0149", min_size=1, max_size=9),
)
caller_text = st.one_of(
    number_text,
    st.sampled_from([None, "", "anonymous", " Unknown ", "+49 251 (1449)", "14x9", "1+4"]),
)
called_text = st.one_of(number_text, st.sampled_from(["0049 (251) 149", "20x", "+"]))


@st.composite
def switches(draw: st.DrawFn) -> Settings:
    redirects = draw(st.booleans())
    return Settings(
        bypass_dnd=draw(st.booleans()),
        bypass_redirects=redirects,
        bypass_self_redirects_only=redirects and draw(st.booleans()),
        force_call_waiting=draw(st.booleans()),
    )


@st.composite
def instance_sets(draw: st.DrawFn) -> list[CompiledInstance]:
    count = draw(st.integers(min_value=0, max_value=5))
    plans = draw(st.sampled_from([[GERMAN], [US], [GERMAN, US]]))
    result = []
    for position in range(count):
        cfg = InstanceConfig(
            name=f"Instanz {position}",
            log_level=draw(st.sampled_from(LEVELS)),
            active=draw(st.booleans()) or draw(st.booleans()),
            called_active=draw(st.one_of(pattern_lists, st.just(("*",)))),
            called_exceptions=draw(pattern_lists),
            caller_active=draw(pattern_lists),
            caller_exceptions=draw(pattern_lists),
            settings=draw(switches()),
        )
        result.append(compile_instance(cfg, draw(st.sampled_from(plans))))
    return result


def check_calls(instances: list[CompiledInstance], calls: list[tuple[str, str | None]]) -> None:
    log = Recorder()
    hook = BreakthroughHook(instances, log)
    for called, caller in calls * 2:  # twice: the answer cache and the automata's kept states
        log.lines.clear()
        expected, expected_log = expected_answer(instances, called, caller)
        assert hook.on_call(called, caller) == expected, (called, caller)
        assert log.lines == expected_log, (called, caller)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance_sets(), st.lists(st.tuples(called_text, caller_text), min_size=1, max_size=6))
def test_the_combined_hook_answers_as_each_instance_alone(
    instances: list[CompiledInstance], calls: list[tuple[str, str | None]]
) -> None:
    check_calls(instances, calls)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance_sets(), st.lists(st.tuples(number_text, number_text), min_size=1, max_size=6))
def test_it_is_right_past_the_automaton_budget_and_cache_cap(
    instances: list[CompiledInstance], calls: list[tuple[str, str | None]]
) -> None:
    # Force the lazily built and the uncached automaton states, which real lists rarely need.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(automata, "EAGER_DFA_STATES", 2)
        patch.setattr(automata, "MAX_DFA_STATES", 4)
        patch.setattr(pattern_index, "LOOPING_DFA_STATES", 0)  # a `*` inside: bit-parallel NFA
        check_calls(instances, calls)


def rule(name: str, *, log_level: str = "INFO", **lists: tuple[str, ...]) -> CompiledInstance:
    return compile_instance(
        InstanceConfig(name=name, log_level=log_level, settings=Settings(bypass_dnd=True), **lists),
        GERMAN,
    )


class TestExamples:
    def test_an_exception_of_one_instance_does_not_touch_another(self) -> None:
        hook = BreakthroughHook(
            [
                rule("Alle", called_active=("*",), caller_active=("*",)),
                rule(
                    "Ohne Chef",
                    called_active=("*",),
                    caller_active=("*",),
                    caller_exceptions=("*2515906850",),
                ),
            ]
        )
        answer = hook.on_call("201", "+492515906850")
        assert [name for name, _ in answer.applied] == ["Alle"]

    def test_the_called_side_of_one_and_the_caller_side_of_another_do_not_combine(self) -> None:
        hook = BreakthroughHook(
            [
                rule("A", called_active=("201",), caller_active=("999",)),
                rule("B", called_active=("999",), caller_active=("202",)),
            ]
        )
        assert hook.on_call("201", "202") == NO_CHANGE

    def test_seventy_instances_each_decide_alone(self) -> None:
        # More instances than bits in a machine word.
        instances = [
            rule(f"I{n}", called_active=(f"{n}*",), caller_active=("*",)) for n in range(70)
        ]
        hook = BreakthroughHook(instances)
        answer = hook.on_call("69", "202")
        assert [name for name, _ in answer.applied] == ["I6", "I69"]

    def test_many_patterns_per_list_still_name_the_deciding_pattern(self) -> None:
        many = tuple(f"0049251{i:07d}" for i in range(2000)) + ("0251590?85?",)
        log = Recorder()
        hook = BreakthroughHook(
            [
                rule("Viele", called_active=("*",), caller_active=many),
                rule("Erklärt", log_level="DEBUG", called_active=("*",), caller_active=many),
            ],
            log,
        )
        answer = hook.on_call("201", "+492515906850")
        assert [name for name, _ in answer.applied] == ["Viele", "Erklärt"]
        explained = [line for line in log.lines if line[1] == "DEBUG"]
        assert len(explained) == 1
        assert explained[0][0] == "Erklärt"
        assert re.search(r"'Aktiv für' pattern '0251590\?85\?' \(as 02515906850\)", explained[0][2])


class TestInstanceIndex:
    def test_bits_are_instance_positions(self) -> None:
        index = InstanceIndex(
            [
                rule("A", called_active=("*",), caller_active=("202",)),
                rule("B", called_active=("*",), caller_active=("203",)),
                rule("C", called_active=("*",), caller_active=("20?",)),
            ]
        )
        assert index.matching("201", "202") == 0b101
        assert index.matching("201", "203") == 0b110
        assert index.matching("201", "anonymous") == 0

    def test_a_number_it_cannot_read_is_refused_naming_it(self) -> None:
        index = InstanceIndex([rule("A", called_active=("*",), caller_active=("*",))])
        with pytest.raises(ConfigError, match="caller number 'sip:x'"):
            index.matching("201", "sip:x")
        with pytest.raises(ConfigError, match="called number '2o1'"):
            index.matching("2o1", None)  # the called number is read even for a withheld caller
