"""Phone numbers as a PBX signals them: their equivalent forms, and withheld callers.

STARFACE mostly signals `00492515906850`, sometimes `+492515906850` or `02515906850`. Given
the PBX's number plan these are forms of one number, and the rule engine matches a pattern
against every form. A number without any prefix is an internal extension and has one form.

The host has its own number plan (`runtime/pbx_number_plan.py`) for its directory: the module
ships inside the .sfm and imports nothing of the host, so the two cannot be one file.

This module is on the call path: `NumberPlan.forms` is plain string work. phonenumbers is
used where it fits without costing call time: to check, once, that a plan's country code
exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from .errors import ConfigError

# What people and PBXs put between digits; dropped before a number or pattern is read.
FORMATTING_CHARACTERS = frozenset(" \t\u00a0-/()")

# Caller ids that mean "no number" (CLIR). Compared case-insensitively, after stripping.
WITHHELD_WORDS = frozenset(
    {"", "anonymous", "unknown", "withheld", "restricted", "private", "unavailable"}
)

_DIGITS = frozenset("0123456789")


def strip_formatting(text: str) -> str:
    """`text` without the spaces, dashes, slashes and parentheses people paste into numbers."""
    if FORMATTING_CHARACTERS.isdisjoint(text):
        return text
    return "".join(ch for ch in text if ch not in FORMATTING_CHARACTERS)


def is_withheld(number: str | None) -> bool:
    """True when a caller id means "no number": None, "", "anonymous", "unknown", ...

    A withheld caller matches no pattern, not even `*`; that is a normal answer.
    """
    return number is None or number.strip().lower() in WITHHELD_WORDS


def check_number(number: str, what: str = "number") -> str:
    """The signalled `number` without formatting characters, or ConfigError naming it.

    A number is digits with an optional leading `+`; `what` names it in the message
    (e.g. "called number").
    """
    clean = strip_formatting(number.strip())
    body = clean[1:] if clean.startswith("+") else clean
    if body.isascii() and body.isdigit():
        return clean
    if not body:
        raise ConfigError(f"{what} {number!r} has no digits.")
    for ch in body:
        if ch not in _DIGITS:
            if ch == "+":
                raise ConfigError(
                    f"{what} {number!r} has '+' after the start; "
                    "a number is digits with an optional leading +."
                )
            raise ConfigError(
                f"{what} {number!r} has {ch!r}, which is not a digit; "
                "a number is digits with an optional leading +."
            )
    return clean


def _check_plan_part(value: str, name: str, *, may_be_empty: bool) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"number plan: {name} must be a string of digits, not {value!r}.")
    if not value and may_be_empty:
        return
    if not value or any(ch not in _DIGITS for ch in value):
        raise ConfigError(f"number plan: {name} {value!r} must be digits only.")


@dataclass(frozen=True)
class NumberPlan:
    """The PBX's country code, area code and dialling prefixes (default: Münster, Germany).

    `area_code` is part of the plan as the PBX directory states it; forms do not need it,
    because a number without a prefix is an internal extension, never a local number.
    """

    country_code: str = "49"
    area_code: str = "251"
    international_prefix: str = "00"
    national_prefix: str = "0"

    def __post_init__(self) -> None:
        _check_plan_part(self.country_code, "country_code", may_be_empty=False)
        _check_plan_part(self.area_code, "area_code", may_be_empty=True)
        _check_plan_part(self.international_prefix, "international_prefix", may_be_empty=False)
        _check_plan_part(self.national_prefix, "national_prefix", may_be_empty=False)
        if not phonenumbers.region_codes_for_country_code(int(self.country_code)):
            raise ConfigError(
                f"number plan: country_code {self.country_code!r} is no country's calling code."
            )
        if self.international_prefix == self.national_prefix:
            raise ConfigError(
                "number plan: international_prefix and national_prefix are both "
                f"{self.national_prefix!r}; they must differ."
            )
        if self.national_prefix.startswith(self.international_prefix):
            # Reading a number tries the international prefix first, so a national prefix
            # that starts with it could never be recognised.
            raise ConfigError(
                f"number plan: national_prefix {self.national_prefix!r} starts with "
                f"international_prefix {self.international_prefix!r}."
            )

    @classmethod
    def from_mapping(cls, table: Any, source: str) -> NumberPlan:
        """The plan in a PBX directory's `[pbx]` table; ConfigError naming `source` and the key.

        All four keys must be there, as strings of digits (area_code may be "").
        """
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: has no [pbx] table with the number plan.")
        values: dict[str, str] = {}
        for key in ("country_code", "area_code", "international_prefix", "national_prefix"):
            if key not in table:
                raise ConfigError(f"{source}: [pbx] has no {key}.")
            value = table[key]
            if not isinstance(value, str):
                raise ConfigError(
                    f"{source}: [pbx] {key} must be a quoted string of digits, not {value!r}."
                )
            values[key] = value
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: [pbx] {exc}") from None

    def forms(self, number: str, what: str = "number") -> tuple[str, ...]:
        """Every form of the signalled `number`, the signalled one (without formatting) first.

        `+492515906850`, `00492515906850` and `02515906850` each give all three; a foreign
        number gives its `+` and international form; an internal extension (no prefix) gives
        itself. A malformed number raises ConfigError naming it (`what` says which, e.g.
        "caller number").
        """
        clean = check_number(number, what)
        intl = self.international_prefix
        if clean.startswith("+"):
            e164 = clean[1:]
        elif clean.startswith(intl):
            e164 = clean[len(intl) :]
        elif self._is_national(clean):
            e164 = self.country_code + clean[len(self.national_prefix) :]
        else:
            return (clean,)
        if not e164 or clean in (intl, self.national_prefix):
            # A bare prefix (a PBX may signal "0" for an operator) is taken as it is.
            return (clean,)
        forms = ["+" + e164, intl + e164]
        national, rest = self.national_prefix, e164[len(self.country_code) :]
        # A national number never starts with the trunk prefix: `+490…` has no national form
        # (`00…` would read back as an international number).
        if e164.startswith(self.country_code) and rest and not rest.startswith(national):
            forms.append(national + rest)
        if clean in forms:
            forms.remove(clean)
        return (clean, *forms)

    def canonical(self, number: str, what: str = "number") -> str:
        """The one form that compiled pattern lists are matched against.

        The international form (`00492515906850`) of a number with a prefix; an internal
        extension (or a bare prefix such as "0") as it is. Raises ConfigError like `forms`.
        """
        return self.canonical_of_checked(check_number(number, what))

    def canonical_of_checked(self, clean: str) -> str:
        """`canonical` of a number that `check_number` already returned."""
        intl = self.international_prefix
        if clean.startswith("+"):
            return intl + clean[1:]
        national = self.national_prefix
        if clean.startswith(intl) or not self._is_national(clean):
            return clean
        return intl + self.country_code + clean[len(national) :]

    def _is_national(self, clean: str) -> bool:
        """Whether `clean` (no `+`, not international) is a number in national form.

        A national number has digits after the trunk prefix, and they never start with the
        trunk prefix again (`11…` under a US plan is no national number: read so, its forms
        would not be closed, since `+11…` has no national form).
        """
        national = self.national_prefix
        rest = clean[len(national) :]
        return clean.startswith(national) and rest != "" and not rest.startswith(national)


DEFAULT_PLAN = NumberPlan()
