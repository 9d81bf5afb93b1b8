"""The hook decides all instances at once (one index per side): the answers of DESIGN.md's rule
for each instance alone, by a reference matcher, and a log line per instance and level."""

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
from breakthrough.rules import CompiledInstance, compile_instance
from tests.number_reference import GERMAN, REGION, US, pattern_texts, reference_first, well_formed

LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")


class Recorder:
    """A log sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def __call__(self, instance: str, level: str, message: str) -> None:
        self.lines.append((instance, level, message))


SWITCHES = ("bypass_dnd", "bypass_redirects", "bypass_self_redirects_only", "force_call_waiting")
WITHHELD = (None, "", "anonymous", " Unknown ")


def readable(number: str) -> bool:
    """A number as DESIGN.md reads it: digits with an optional leading +, formatting aside."""
    return re.fullmatch(r"\+?[0-9]+", re.sub(r"[ ()/-]", "", number)) is not None


def reference_in(patterns: tuple[str, ...], number: str, compiled: CompiledInstance) -> bool:
    return reference_first(patterns, number, REGION[compiled.plan]) is not None


def reference_match(compiled: CompiledInstance, called: str, caller: str | None) -> bool:
    """DESIGN.md's rule for one instance, with the reference matcher of number_reference."""
    cfg = compiled.config
    if caller in WITHHELD:
        return False
    assert caller is not None
    return (
        reference_in(cfg.called_active, called, compiled)
        and not reference_in(cfg.called_exceptions, called, compiled)
        and reference_in(cfg.caller_active, caller, compiled)
        and not reference_in(cfg.caller_exceptions, caller, compiled)
    )


def spoken_for(instances: list[CompiledInstance], *numbers: str | None) -> bool:
    """Whether the reference speaks for these numbers under every plan in use."""
    return all(
        number is None or not readable(number) or well_formed(number, REGION[c.plan])
        for c in instances
        for number in numbers
    )


def expected_answer(
    instances: list[CompiledInstance], called: str, caller: str | None
) -> tuple[HookAnswer, list[tuple[str, str]]]:
    """What the hook must answer, and which instance logs at which level.

    The effects map as DESIGN.md says: "Anrufumleitungen umgehen" ignores every redirect,
    unless "... auf sich selbst umgehen" narrows it to redirects to the caller. A number that
    is not a number leaves the call alone, with a warning in the log of every instance that
    logs warnings; a match logs at INFO (and its explanation at DEBUG), a miss at TRACE.
    """
    active = [c for c in instances if c.active]
    if not readable(called) or (caller not in WITHHELD and not readable(caller or "")):
        warned = [(c.name, "WARN") for c in active if c.log_level != "ERROR"]
        return NO_CHANGE, warned
    matched = [c for c in active if reference_match(c, called, caller)]
    logged = []
    for compiled in active:
        level = compiled.log_level
        if compiled in matched:
            logged += [(compiled.name, "INFO")] if level in ("INFO", "DEBUG", "TRACE") else []
            logged += [(compiled.name, "DEBUG")] if level in ("DEBUG", "TRACE") else []
        elif level == "TRACE":
            logged.append((compiled.name, "TRACE"))
    if not matched:
        return NO_CHANGE, logged
    chosen = [c.config.settings for c in matched]
    answer = HookAnswer(
        ignore_dnd=any(s.bypass_dnd for s in chosen),
        ignore_redirects=any(
            s.bypass_redirects and not s.bypass_self_redirects_only for s in chosen
        ),
        ignore_redirects_to_caller=any(s.bypass_self_redirects_only for s in chosen),
        force_call_waiting=any(s.force_call_waiting for s in chosen),
        applied=tuple(
            (c.name, tuple(name for name in SWITCHES if getattr(c.config.settings, name)))
            for c in matched
        ),
    )
    return answer, logged


# Small alphabets make matches, prefix sharing and overlaps frequent; `?` and `*` anywhere.
pattern_text = pattern_texts()
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
        if not spoken_for(instances, called, caller):
            continue
        log.lines.clear()
        expected, expected_log = expected_answer(instances, called, caller)
        assert hook.on_call(called, caller) == expected, (called, caller)
        assert [(name, level) for name, level, _ in log.lines] == expected_log, (called, caller)
        for _, level, message in log.lines:
            if level == "WARN":  # names the number it could not read
                assert repr(called) in message or repr(caller) in message
            if level == "INFO":
                assert f"{caller}" in message and f"{called}" in message


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
