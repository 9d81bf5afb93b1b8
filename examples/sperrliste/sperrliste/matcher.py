"""STARFACE wildcard patterns against phone numbers in any of their forms.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or
more digits); spaces, `-`, `/`, `.` and parentheses are dropped. With the PBX's plan, a number
or pattern written as `0049…`, `+49…` or `0…` (national) stands for all three forms, so
`+49 40 222 333`, `004940222333` and `040222333` are one entry. A number without a prefix is
an internal extension with one form. A withheld caller matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_DROPPED = re.compile(r"[\s\-/.()]")
_PATTERN = re.compile(r"^\+?[0-9?*]+$")
WITHHELD = {"", "anonymous", "unknown", "withheld", "restricted"}


class PatternError(ValueError):
    """A pattern that is not a STARFACE wildcard; the message names it and the character."""


@dataclass(frozen=True)
class Plan:
    country_code: str = "49"
    international_prefix: str = "00"
    national_prefix: str = "0"

    @classmethod
    def of(cls, plan: Mapping[str, str] | None) -> Plan:
        plan = plan or {}
        return cls(
            country_code=str(plan.get("country_code", "49")),
            international_prefix=str(plan.get("international_prefix", "00")),
            national_prefix=str(plan.get("national_prefix", "0")),
        )

    def forms(self, text: str) -> tuple[str, ...]:
        """`text` (a number or a pattern, cleaned) in each form it stands for."""
        if text.startswith("+"):
            international = text[1:]
        elif text.startswith(self.international_prefix):
            international = text[len(self.international_prefix) :]
        elif self.national_prefix and text.startswith(self.national_prefix):
            international = self.country_code + text[len(self.national_prefix) :]
        else:
            return (text,)  # an internal extension, or a pattern that starts with a wildcard
        forms = {"+" + international, self.international_prefix + international}
        if international.startswith(self.country_code):
            forms.add(self.national_prefix + international[len(self.country_code) :])
        return tuple(sorted(forms))


def clean(pattern: str) -> str:
    """The pattern without formatting; PatternError naming the first bad character."""
    if not isinstance(pattern, str):
        raise PatternError(f"{pattern!r} is not text")
    stripped = _DROPPED.sub("", pattern)
    if not stripped:
        raise PatternError(f"{pattern!r} is empty")
    if not _PATTERN.match(stripped):
        bad = next(
            (
                c
                for i, c in enumerate(stripped)
                if not (c.isdigit() or c in "?*" or (c == "+" and i == 0))
            ),
            stripped[0],
        )
        raise PatternError(f"{pattern!r} has {bad!r}, which is not a digit, a leading +, ? or *")
    return stripped


def _regex(form: str) -> str:
    out = []
    for char in form:
        if char == "?":
            out.append("[0-9]")
        elif char == "*":
            out.append("[0-9]*")
        else:
            out.append(re.escape(char))
    return "".join(out)


class CallerList:
    """A compiled list of patterns: `matches(number)` is True when any form of the number
    matches any form of a pattern."""

    def __init__(self, patterns: list[str], plan: Plan) -> None:
        self.plan = plan
        forms = sorted({f for p in patterns for f in plan.forms(clean(p))})
        self._regex = re.compile("|".join(f"(?:{_regex(f)})" for f in forms)) if forms else None

    def first_match(self, number: str | None, patterns: list[str]) -> str | None:
        """The first pattern of `patterns` that matches `number` (for explanations)."""
        for pattern in patterns:
            if CallerList([pattern], self.plan).matches(number):
                return pattern
        return None

    def matches(self, number: str | None) -> bool:
        if number is None or self._regex is None:
            return False
        text = _DROPPED.sub("", number)
        if text.lower() in WITHHELD or not re.fullmatch(r"\+?[0-9]+", text):
            return False
        return any(self._regex.fullmatch(form) for form in self.plan.forms(text))
