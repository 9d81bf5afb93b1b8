"""STARFACE number patterns: reading one as written, and what it matches.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or more
digits), and is matched against the whole number. Spaces, `-`, `/` and parentheses that people
paste are dropped; any other character, and what a user cannot have meant, is refused with a
message naming the line (docs/RULE_ENGINE.md, "Patterns").
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Sequence

from .errors import ConfigError
from .number_forms import FORMATTING_CHARACTERS, strip_formatting

DIGITS = "0123456789"
_PATTERN_CHARACTERS = frozenset(DIGITS + "+?*")

# Limits that keep compiling a configuration within bounded time and memory, far above what
# real lists need (docs/RULE_ENGINE.md, "Limits"): characters of a pattern as written (a
# number with every prefix and formatting is under 30), `*` in one pattern, patterns in a list
# (the size bench/rules.py measures).
MAX_PATTERN_LENGTH = 64
MAX_STARS = 4
MAX_PATTERNS_PER_LIST = 10_000
# A number of at most this many digits (and `?`) without a `+` is as short as an extension:
# formatting between its digits is refused ("20 1" is more likely two numbers than 201).
SHORT_NUMBER_DIGITS = 6

_SEPARATORS = re.escape("".join(sorted(FORMATTING_CHARACTERS)))
# Formatting between two digits (or `?`): where a doubt can arise.
_SEPARATED_DIGITS = re.compile(f"[0-9?][{_SEPARATORS}]+[0-9?]")
# Two groups of digits parted by a dash, as a range is written ("200-299", "200 - 299").
_RANGE = re.compile(r"([0-9]+)\s*-\s*([0-9]+)")


def parse_patterns(texts: Sequence[object], where: str) -> tuple[str, ...]:
    """The patterns of one list in canonical form, or ConfigError naming `where` and the line.

    Line n is the n-th entry, counted from 1, as in the form's one-pattern-per-line list. A
    list of more than MAX_PATTERNS_PER_LIST is refused before any pattern is read.
    """
    if len(texts) > MAX_PATTERNS_PER_LIST:
        raise ConfigError(
            f"{where}: {len(texts):,} patterns; a list holds at most "
            f"{MAX_PATTERNS_PER_LIST:,}. Join numbers into blocks ('02515906??') or prefixes "
            "('0251*')."
        )
    return tuple(
        parse_pattern(text, f"{where} line {line}") for line, text in enumerate(texts, start=1)
    )


def parse_pattern(text: object, where: str) -> str:
    """The pattern `text` in canonical form (formatting dropped), or ConfigError.

    `where` names the place for the message, e.g. "teamleiter.toml: numbers.caller.active
    line 3"; the message then names the pattern and what is wrong with it, and where a user
    probably meant something else, what to write. Refused besides characters that are not
    digits, `+`, `?`, `*` or formatting: patterns longer than MAX_PATTERN_LENGTH characters,
    more than MAX_STARS `*`, `**`, `+0`, a range (`200-299`), and formatting between the
    digits of a number as short as an extension (`20 1`). The rules: docs/RULE_ENGINE.md.
    """
    if not isinstance(text, str):
        shown = reprlib.repr(text)
        raise ConfigError(f"{where}: {shown} is not a pattern; write it in quotes, as text.")
    if len(text) > MAX_PATTERN_LENGTH:
        raise ConfigError(
            f"{where}: the pattern {text[:20]!r}... is {len(text):,} characters long; a pattern "
            f"has at most {MAX_PATTERN_LENGTH}."
        )
    stripped = text.strip()
    clean = strip_formatting(stripped)
    if not clean:
        raise ConfigError(f"{where}: the pattern {text!r} is empty.")
    for position, ch in enumerate(clean):
        if ch not in _PATTERN_CHARACTERS:
            raise ConfigError(f"{where}: {text!r} has {ch!r}, which is not a digit, +, ? or *.")
        if ch == "+" and position > 0:
            raise ConfigError(
                f"{where}: {text!r} has '+' after the start; + may only be the first character."
            )
    if clean == "+":
        raise ConfigError(f"{where}: the pattern {text!r} is a lone '+'.")
    _refuse_doubtful(text, stripped, clean, where)
    return clean


def _refuse_doubtful(text: str, stripped: str, clean: str, where: str) -> None:
    """ConfigError for a well-formed pattern that a user cannot have meant as it reads."""
    if "**" in clean:
        single = re.sub(r"\*+", "*", clean)
        raise ConfigError(
            f"{where}: {text!r} has '**'; one '*' already stands for any number of digits, "
            f"so write {single!r}."
        )
    stars = clean.count("*")
    if stars > MAX_STARS:
        raise ConfigError(f"{where}: {text!r} has {stars} '*'; a pattern has at most {MAX_STARS}.")
    if clean.startswith("+0"):
        raise ConfigError(
            f"{where}: {text!r}: after '+' comes a country code, and none starts with 0; "
            f"write {'+' + clean[1:].lstrip('0')!r} or {clean[1:]!r}."
        )
    separated = _SEPARATED_DIGITS.search(stripped)
    if separated is None:
        return
    as_range = _RANGE.fullmatch(stripped)
    if as_range and len(as_range[1]) == len(as_range[2]) and as_range[1] < as_range[2]:
        low, high = as_range[1], as_range[2]
        raise ConfigError(
            f"{where}: {text!r} reads as the one number {clean!r}, not as a range; "
            f"{_range_advice(low, high)}"
        )
    positions = sum(ch != "*" for ch in clean)
    if not clean.startswith("+") and positions <= SHORT_NUMBER_DIGITS:
        raise ConfigError(
            f"{where}: {text!r} has {separated[0][1:-1]!r} between digits of a number as short "
            f"as an extension, where it more likely parts two numbers; write {clean!r} for "
            "one number, or each number on a line of its own."
        )


def _range_advice(low: str, high: str) -> str:
    """What to write for the numbers `low` to `high` (digit strings of one length)."""
    common = 0
    while low[common] == high[common]:
        common += 1
    holes = len(low) - common
    if low[common:] == "0" * holes and high[common:] == "9" * holes:
        return f"for {low} to {high} write {low[:common] + '?' * holes!r}."
    block = low[:common] + "?" * holes
    return (
        f"write each number on a line of its own, or a block: {block!r} is "
        f"{low[:common] + '0' * holes} to {low[:common] + '9' * holes}."
    )


def pattern_matches(pattern: str, number: str) -> bool:
    """Whether the canonical `pattern` matches the whole `number` (a direct, slow matcher).

    The reference semantics for one pattern: used for explanations and tests, never in a loop
    over a list on the call path.
    """
    # Classic wildcard matching with backtracking to the last `*`; digits only for ? and *.
    p = n = 0
    star_p = star_n = -1
    while n < len(number):
        ch = number[n]
        if p < len(pattern) and (pattern[p] == ch or (pattern[p] == "?" and ch in DIGITS)):
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p, star_n = p, n
            p += 1
        elif star_p >= 0 and number[star_n] in DIGITS:
            star_n += 1
            p, n = star_p + 1, star_n
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
