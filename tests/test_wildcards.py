"""STARFACE patterns: reading them, and compiled lists against a simple reference matcher."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakthrough import automata, pattern_index
from breakthrough.errors import ConfigError
from breakthrough.number_forms import NumberPlan
from breakthrough.pattern_index import PatternIndex, PatternList
from breakthrough.wildcards import parse_pattern, parse_patterns, pattern_matches
from tests.number_reference import (
    GERMAN,
    REGION,
    US,
    pattern_texts,
    reference_first,
    reference_forms,
    reference_regex,
    well_formed,
)

pattern_text = pattern_texts()
number_text = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["", "0", "00", "+", "+49", "0049", "1", "011", "+1"]),
    st.text(alphabet="0149", min_size=1, max_size=9),
)


def spoken_for(numbers: list[str], plan: NumberPlan) -> list[str]:
    """The numbers the reference speaks for under `plan` (see tests/number_reference.py)."""
    return [number for number in numbers if well_formed(number, REGION[plan])]


def tagged_by_list(lists: list[list[str]]) -> list[tuple[int, str]]:
    """Every pattern read, tagged with the bit of its list's position."""
    return [
        (1 << position, parse_pattern(pattern, "list"))
        for position, patterns in enumerate(lists)
        for pattern in patterns
    ]


def reference_bits(lists: list[list[str]], number: str, plan: NumberPlan) -> int:
    """The bits of the lists holding a pattern that matches a form of `number` (reference)."""
    return sum(
        1 << position
        for position, patterns in enumerate(lists)
        if reference_first(patterns, number, REGION[plan]) is not None
    )


class TestParsePattern:
    def test_formatting_people_paste_is_dropped(self) -> None:
        assert parse_pattern("+49 (251) 5906-850", "f") == "+492515906850"
        assert parse_pattern("0251/5906 85?", "f") == "0251590685?"

    @pytest.mark.parametrize(
        ("written", "read"),
        [
            ("+49 40 222 333", "+4940222333"),  # a number with a prefix, grouped
            ("040 / 222-333", "040222333"),
            ("555-1234", "5551234"),  # seven digits: longer than an extension
            ("(0251) 5906 85??", "0251590685??"),
            ("+1 2*", "+12*"),  # `+` is never an extension
            ("0251 *", "0251*"),  # formatting next to a `*` parts no digits
            ("20 *", "20*"),
            ("  201  ", "201"),
        ],
    )
    def test_formatting_between_groups_of_a_long_number_is_dropped(
        self, written: str, read: str
    ) -> None:
        assert parse_pattern(written, "f") == read

    @pytest.mark.parametrize(
        ("written", "message"),
        [
            (
                "02**5*",
                "'02**5*' has '**'; one '*' already stands for any number of digits, "
                "so write '02*5*'.",
            ),
            (
                "***",
                "'***' has '**'; one '*' already stands for any number of digits, so write '*'.",
            ),
            (
                "20 1",
                "'20 1' has ' ' between digits of a number as short as an extension, where "
                "it more likely parts two numbers; write '201' for one number, or each number on "
                "a line of its own.",
            ),
            ("(0251) 59*", "'(0251) 59*' has ') ' between digits"),
            ("201 ???", "'201 ???' has ' ' between digits"),
            ("12/34", "'12/34' has '/' between digits"),
            (
                "200-299",
                "'200-299' reads as the one number '200299', not as a range; for 200 "
                "to 299 write '2??'.",
            ),
            ("2000 - 2999", "for 2000 to 2999 write '2???'."),
            (
                "1234-1299",
                "'1234-1299' reads as the one number '12341299', not as a range; "
                "write each number on a line of its own, or a block: '12??' is 1200 to 1299.",
            ),
            (
                "+0049 251",
                "'+0049 251': after '+' comes a country code, and none starts with "
                "0; write '+49251' or '0049251'.",
            ),
            ("*1*2*3*4*5", "'*1*2*3*4*5' has 5 '*'; a pattern has at most 4."),
        ],
    )
    def test_what_a_user_cannot_have_meant_is_refused_with_a_suggestion(
        self, written: str, message: str
    ) -> None:
        with pytest.raises(ConfigError) as refused:
            parse_pattern(written, "f.toml: numbers.called.active line 7")
        assert str(refused.value).startswith("f.toml: numbers.called.active line 7: ")
        assert message in str(refused.value)

    def test_a_pattern_of_more_than_64_characters_is_refused_without_echoing_it(self) -> None:
        assert parse_pattern("0" * 64, "f") == "0" * 64
        with pytest.raises(ConfigError) as refused:
            parse_pattern("*?" * 524288, "f line 1")
        assert str(refused.value) == (
            "f line 1: the pattern '*?*?*?*?*?*?*?*?*?*?'... is 1,048,576 characters long; "
            "a pattern has at most 64."
        )

    def test_a_list_of_more_than_ten_thousand_patterns_is_refused_before_reading_them(
        self,
    ) -> None:
        assert len(parse_patterns(["201"] * 10_000, "f")) == 10_000
        with pytest.raises(ConfigError) as refused:
            parse_patterns(["201"] * 10_000 + ["2x"], "f: numbers.caller.active")
        assert str(refused.value).startswith(
            "f: numbers.caller.active: 10,001 patterns; a list holds at most 10,000."
        )

    def test_letter_is_refused_naming_place_pattern_and_character(self) -> None:
        with pytest.raises(ConfigError) as refused:
            parse_pattern("12a4", "teamleiter.toml: numbers.caller.active line 3")
        assert str(refused.value) == (
            "teamleiter.toml: numbers.caller.active line 3: '12a4' has 'a', "
            "which is not a digit, +, ? or *."
        )

    @pytest.mark.parametrize("pattern, culprit", [("02.51", "'.'"), ("0251#", "'#'"), ("x", "'x'")])
    def test_other_characters_are_refused(self, pattern: str, culprit: str) -> None:
        with pytest.raises(ConfigError, match=re.escape(culprit)):
            parse_pattern(pattern, "here line 1")

    def test_plus_after_the_start_is_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"here line 2: '0\+49' has '\+' after the start"):
            parse_pattern("0+49", "here line 2")

    @pytest.mark.parametrize("pattern", ["", "   ", " - ", "+"])
    def test_empty_pattern_is_refused(self, pattern: str) -> None:
        with pytest.raises(ConfigError, match="here line 1"):
            parse_pattern(pattern, "here line 1")

    def test_a_number_that_is_not_text_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="in quotes"):
            parse_pattern(201, "here line 1")  # type: ignore[arg-type]


class TestPatternMatches:
    @pytest.mark.parametrize(
        "pattern, number, expected",
        [
            ("*2515906850", "00492515906850", True),
            ("*2515906850", "02515906850", True),
            ("*2515906850", "+492515906850", False),  # * stands for digits, not '+'
            ("2?1", "201", True),
            ("2?1", "21", False),  # ? is exactly one digit
            ("2*1", "21", True),  # * may be no digit at all
            ("201", "2010", False),  # the whole number
            ("*", "", True),
            ("?", "+", False),
            ("+49*", "+49", True),
        ],
    )
    def test_examples(self, pattern: str, number: str, expected: bool) -> None:
        assert pattern_matches(pattern, number) is expected

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet="01?*", min_size=1, max_size=8), st.text(alphabet="01+", max_size=9))
    def test_agrees_with_the_regex_reference(self, pattern: str, number: str) -> None:
        canonical = pattern.replace("**", "*").replace("**", "*")
        expected = reference_regex(pattern).fullmatch(number) is not None
        assert pattern_matches(canonical, number) is expected


class TestPatternList:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(pattern_text, max_size=8),
        st.lists(number_text, min_size=1, max_size=6),
        st.sampled_from([GERMAN, US]),
    )
    def test_first_match_agrees_with_a_loop_over_regexes_on_every_form(
        self, patterns: list[str], numbers: list[str], plan: NumberPlan
    ) -> None:
        compiled = PatternList(patterns, "list", plan)
        for number in spoken_for(numbers, plan):
            expected = reference_first(patterns, number, REGION[plan])
            found = compiled.first_match(plan.canonical(number))
            assert (found.index if found else None) == expected, (patterns, number)
            if found is not None:
                assert found.pattern == patterns[expected]  # type: ignore[index]
                # The form it reports is a form of the number, and the pattern matches it.
                form = found.form(plan, number)
                assert form in reference_forms(number, REGION[plan])
                assert reference_regex(found.pattern).fullmatch(form)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(pattern_text, min_size=1, max_size=12), st.lists(number_text, max_size=8))
    def test_the_automaton_is_right_past_its_eager_budget_and_its_cache_cap(
        self, patterns: list[str], numbers: list[str]
    ) -> None:
        # Force the lazy and the uncached paths of the DFA, which real lists rarely reach.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(automata, "EAGER_DFA_STATES", 2)
            patch.setattr(automata, "MAX_DFA_STATES", 4)
            patch.setattr(pattern_index, "LOOPING_DFA_STATES", 0)  # a `*` inside: bit-parallel NFA
            compiled = PatternList(patterns, "list", GERMAN)
            for number in (
                spoken_for(numbers, GERMAN) * 2
            ):  # twice: once building, once from what was kept
                found = compiled.first_match(GERMAN.canonical(number))
                expected = reference_first(patterns, number, REGION[GERMAN])
                assert (found.index if found else None) == expected

    @pytest.mark.parametrize("pattern", ["1*4", "1?94", "14*", "*94", "+14*", "0111494"])
    @pytest.mark.parametrize("number", ["1494", "+1494", "0111494"])
    def test_a_plan_whose_prefixes_differ_in_their_first_digit(
        self, pattern: str, number: str
    ) -> None:
        # Under the US plan (011 / 1) no international form starts like a national one, so
        # the national form is reached only through the number-form rule.
        found = PatternList([pattern], "list", US).first_match(US.canonical(number))
        assert found is not None and found.pattern == pattern

    def test_first_pattern_in_list_order_wins(self) -> None:
        compiled = PatternList(["0251*", "*6850", "02515906850", "*"], "list", GERMAN)
        found = compiled.first_match(GERMAN.canonical("+492515906850"))
        assert found is not None and found.pattern == "0251*"
        found = compiled.first_match(GERMAN.canonical("00493012346850"))
        assert found is not None and found.pattern == "*6850"
        found = compiled.first_match(GERMAN.canonical("201"))
        assert found is not None and found.pattern == "*"

    def test_empty_list_matches_nothing(self) -> None:
        compiled = PatternList([], "list", GERMAN)
        assert compiled.first_match(GERMAN.canonical("201")) is None
        assert compiled.first_match(GERMAN.canonical("00492515906850")) is None

    def test_refusal_names_the_line_counted_from_one(self) -> None:
        with pytest.raises(ConfigError, match=r"^f: numbers\.called\.active line 2: '2b' has 'b'"):
            PatternList(["201", "2b"], "f: numbers.called.active", GERMAN)

    def test_ten_thousand_patterns_compile_and_answer(self) -> None:
        patterns = [f"0049251{i:07d}" for i in range(5000)]
        patterns += [f"*{i:06d}0" for i in range(3000)]
        patterns += [f"0251{i:04d}*" for i in range(1900)]
        patterns += [f"02515{i:02d}???" for i in range(100)]
        compiled = PatternList(patterns, "list", GERMAN)

        def first(number: str) -> str | None:
            found = compiled.first_match(GERMAN.canonical(number))
            return found.pattern if found else None

        # Exact (index 4999) beats the later prefix "02510004*" that matches too.
        assert first("02510004999") == "00492510004999"
        assert first("+49251000077712") == "02510000*"
        assert first("0251550123") == "0251550???"
        assert first("+493010012340") == "*0012340"
        assert first("0301234567") is None

    @pytest.mark.parametrize(
        "pattern, number, expected",
        [("?", "4", True), ("??", "41", True), ("??", "4", False), ("1??", "14", False)],
    )
    def test_question_marks_alone_are_that_many_digits(
        self, pattern: str, number: str, expected: bool
    ) -> None:
        found = PatternList([pattern], "list", GERMAN).first_match(GERMAN.canonical(number))
        assert (found is not None) is expected
        bits = PatternIndex([(1, pattern)], GERMAN).bits(GERMAN.canonical(number))
        assert bits == (1 if expected else 0)

    def test_lookups_build_the_list_or_build_does(self) -> None:
        built = PatternList(["0251*"], "list", GERMAN)
        built.build()
        lazy = PatternList(["0251*"], "list", GERMAN)
        for compiled in (built, lazy):
            found = compiled.first_match(GERMAN.canonical("+492515906850"))
            assert found is not None and found.pattern == "0251*"


class TestPatternIndex:
    """Patterns of many lists, each tagged with a bit: a lookup gives the tags of all matches."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.lists(pattern_text, max_size=5), max_size=5),
        st.lists(number_text, min_size=1, max_size=6),
        st.sampled_from([GERMAN, US]),
    )
    def test_bits_are_the_lists_holding_a_pattern_that_matches_a_form(
        self, lists: list[list[str]], numbers: list[str], plan: NumberPlan
    ) -> None:
        tagged = tagged_by_list(lists)
        index = PatternIndex(tagged, plan)
        for number in spoken_for(numbers, plan):
            expected = reference_bits(lists, number, plan)
            assert index.bits(plan.canonical(number)) == expected, (lists, number)

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(st.lists(pattern_text, max_size=4), max_size=4), st.lists(number_text, max_size=8)
    )
    def test_bits_are_right_past_the_eager_budget_and_the_cache_cap(
        self, lists: list[list[str]], numbers: list[str]
    ) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(automata, "EAGER_DFA_STATES", 2)
            patch.setattr(automata, "MAX_DFA_STATES", 4)
            patch.setattr(pattern_index, "LOOPING_DFA_STATES", 0)  # a `*` inside: bit-parallel NFA
            tagged = tagged_by_list(lists)
            index = PatternIndex(tagged, GERMAN)
            for number in (
                spoken_for(numbers, GERMAN) * 2
            ):  # twice: once building, once from what was kept
                expected = reference_bits(lists, number, GERMAN)
                assert index.bits(GERMAN.canonical(number)) == expected

    def test_a_state_reached_again_later_is_built_too(self) -> None:
        # The start state covers every digit by a literal edge and also loops by `*`; the
        # state of the loop alone is first met there (unused) and reached again only later,
        # on "0" "5" "5": it must have been built like any other.
        patterns = ["*1?"] + [f"{d}?2" for d in range(10)]
        index = PatternIndex([(1 << n, p) for n, p in enumerate(patterns)], GERMAN)
        listed = PatternList(patterns, "list", GERMAN)
        for number in ("0555", "05551", "055512", "0552", "7"):
            expected = [n for n, p in enumerate(patterns) if pattern_matches(p, number)]
            assert index.bits(number) == sum(1 << n for n in expected), number
            found = listed.first_match(number)
            assert (found.index if found else None) == (expected[0] if expected else None)

    @pytest.mark.parametrize(
        ("number", "expected"),
        [("+4913", 0b1011), ("+49", 0b0011), ("+491", 0b0011), ("+4912", 0b1111)]
        + [("0049125", 0b1111), ("+4", 0b0001)],
    )
    def test_prefixes_ending_before_or_at_the_country_code_still_count(
        self, number: str, expected: int
    ) -> None:
        # Numbers that start with `0049` are looked up from the node after it; what prefixes
        # ending there or earlier matched must not be lost on the way. ("00491?*" needs a digit
        # after 00491: "+491" has none.)
        patterns = ["+4*", "+49*", "+4912*", "00491?*"]
        index = PatternIndex(
            [(1 << n, parse_pattern(p, "list")) for n, p in enumerate(patterns)], GERMAN
        )
        assert index.bits(GERMAN.canonical(number)) == expected

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.lists(pattern_text, max_size=6), max_size=4),
        st.lists(number_text, min_size=1, max_size=6),
        st.sampled_from([GERMAN, US]),
    )
    def test_lookups_by_length_equal_the_trie_walks(
        self, lists: list[list[str]], numbers: list[str], plan: NumberPlan
    ) -> None:
        # Prefixes and suffixes are looked up by length when they have few distinct lengths,
        # else walked in a trie: both must give the reference's answer for every number.
        tagged = tagged_by_list(lists)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pattern_index, "MAX_LENGTH_TABLES", 0)
            walked = PatternIndex(tagged, plan)
            patch.setattr(pattern_index, "MAX_LENGTH_TABLES", 99)
            by_length = PatternIndex(tagged, plan)
        for number in spoken_for(numbers, plan):
            canonical = plan.canonical(number)
            assert by_length.bits(canonical) == walked.bits(canonical), (lists, number)
            expected = reference_bits(lists, number, plan)
            assert walked.bits(canonical) == expected, (lists, number)

    def test_prefixes_and_suffixes_of_few_and_of_many_lengths_answer_alike(self) -> None:
        # Few lengths are looked up by length, more than MAX_LENGTH_TABLES walked in a trie:
        # the answers are what the patterns say either way.
        few = PatternIndex([(1, "0251*"), (2, "02515*"), (4, "*5906850"), (8, "*906850")], GERMAN)
        assert few.bits(GERMAN.canonical("02515906850")) == 0b1111
        assert few.bits(GERMAN.canonical("02519906850")) == 0b1001
        assert few.bits(GERMAN.canonical("+493015906850")) == 0b1100
        assert few.bits(GERMAN.canonical("0301")) == 0
        lengths = pattern_index.MAX_LENGTH_TABLES + 1
        many = PatternIndex([(1 << n, "0" * (n + 1) + "*") for n in range(lengths)], GERMAN)
        # "000": the patterns 0*, 00*, 000* (bits 0, 1, 2).
        assert many.bits("000") == 0b111
        assert many.bits("0" * lengths) == (1 << lengths) - 1
        suffixes = PatternIndex([(1 << n, "*" + "9" * (n + 1)) for n in range(lengths)], GERMAN)
        assert suffixes.bits("1999") == 0b111
        assert suffixes.bits("1998") == 0

    def test_blocks_of_question_marks_alone_count_only_their_length(self) -> None:
        # "???" has no number part to look up: numbers shorter than it must not match.
        index = PatternIndex([(1, "???"), (2, "1??")], GERMAN)
        assert [index.bits(n) for n in ("12", "1", "123", "1234", "923")] == [0, 0, 3, 0, 1]


class TestNationalForm:
    """A number whose national digits would start with the trunk prefix has no national form
    (`+490251` is not `00251`), so a pattern written in national form does not match it."""

    @pytest.mark.parametrize(
        ("patterns", "number", "plan", "expected"),
        [
            (["0?251"], "+490251", GERMAN, None),  # "00251" would read as international
            (["0?251"], "02251", GERMAN, 0),  # a national number: its national form matches
            (["0?251"], "+492251", GERMAN, 0),
            (["0*"], "+490251", GERMAN, 0),  # matches the international form "00490251"
            (["11"], "+11", US, None),
            (["12"], "+12", US, 0),
        ],
    )
    def test_a_national_pattern_matches_national_forms_only(
        self, patterns: list[str], number: str, plan: NumberPlan, expected: int | None
    ) -> None:
        if well_formed(number, REGION[plan]):  # (+490251 and +11: see number_reference.py)
            assert reference_first(patterns, number, REGION[plan]) == expected
        listed = PatternList(patterns, "list", plan).first_match(plan.canonical(number))
        assert (listed.index if listed else None) == expected
        index = PatternIndex([(1, parse_pattern(p, "list")) for p in patterns], plan)
        assert index.bits(plan.canonical(number)) == (0 if expected is None else 1)
