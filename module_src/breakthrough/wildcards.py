"""STARFACE number patterns: reading one as written, and what it matches.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or more
digits), and is matched against the whole number. Spaces, `-`, `/` and parentheses that people
paste are dropped; any other character, and what a user cannot have meant, is refused with a
message naming the line (docs/RULE_ENGINE.md, "Patterns").
"""

from __future__ import annotations

from .errors import ConfigError
from .numbers import strip_formatting

DIGITS = "0123456789"
_PATTERN_CHARACTERS = frozenset(DIGITS + "+?*")


def parse_pattern(text: str, where: str) -> str:
    """The pattern `text` in canonical form (formatting dropped, `**` as `*`), or ConfigError.

    `where` names the place for the message, e.g. "teamleiter.toml: numbers.caller.active
    line 3"; the message then names the pattern and the offending character.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{where}: {text!r} is not a pattern; write it in quotes, as text.")
    clean = strip_formatting(text.strip())
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
    while "**" in clean:
        clean = clean.replace("**", "*")
    return clean


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
