"""Reference number forms and pattern matching for the rule engine's tests, written without
the engine's code: the prefixes come from phonenumbers' metadata for the plan's region, the
country code and national digits from `phonenumbers.parse`, and patterns are matched by regex.

DESIGN.md's rule: a number with a prefix (`+`, the international or the national prefix) has
its `+` form, its international form and, in the plan's own country, its national form; a
number without a prefix is an internal extension with one form. Numbers whose national digits
start with the national prefix are where phonenumbers and the product part ways (phonenumbers
strips the prefix again, the product keeps the digits): `well_formed` says which numbers the
reference speaks for; the tests write the others' answers down.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from hypothesis import strategies as st

from breakthrough.number_forms import NumberPlan

GERMAN = NumberPlan()
# A second plan with longer, different prefixes, so that nothing is German by accident.
US = NumberPlan(country_code="1", area_code="415", international_prefix="011", national_prefix="1")
REGION = {GERMAN: "DE", US: "US"}


@cache
def prefixes(region: str) -> tuple[str, str, str]:
    """(country code, international prefix, national prefix) of `region`, from phonenumbers."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None and metadata.national_prefix is not None
    code = str(phonenumbers.country_code_for_region(region))
    return code, str(metadata.international_prefix), metadata.national_prefix


def _split(number: str, region: str) -> tuple[str, str] | None:
    """(country code, national digits) of a number with a prefix, as phonenumbers reads it and
    as its digits say (None where the two differ, or phonenumbers cannot read it)."""
    number = unformatted(number)
    code, intl, national = prefixes(region)
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    cc = str(parsed.country_code)
    digits = "0" * (parsed.number_of_leading_zeros or 0) if parsed.italian_leading_zero else ""
    digits += str(parsed.national_number)
    if number.startswith("+"):
        written = number[1:]
    elif number.startswith(intl):
        written = number[len(intl) :]
    else:
        written = code + number[len(national) :]
    if written != cc + digits or digits.startswith(national):
        return None
    return cc, digits


def unformatted(number: str) -> str:
    """`number` without the spaces, dashes, slashes and parentheses people paste."""
    return re.sub("[ \t\u00a0()/-]", "", number)


def has_prefix(number: str, region: str) -> bool:
    _, intl, national = prefixes(region)
    return unformatted(number).startswith(("+", intl, national))


def well_formed(number: str, region: str) -> bool:
    """Whether the reference speaks for `number`: an extension, or a number phonenumbers
    reads as the product does."""
    return not has_prefix(number, region) or _split(number, region) is not None


def reference_forms(number: str, region: str) -> set[str]:
    """Every form of a `well_formed` number under the plan of `region`."""
    number = unformatted(number)
    if not has_prefix(number, region):
        return {number}
    split = _split(number, region)
    assert split is not None, f"{number!r} is not well formed for {region}"
    cc, digits = split
    code, intl, national = prefixes(region)
    forms = {"+" + cc + digits, intl + cc + digits}
    if cc == code:
        forms.add(national + digits)
    return forms


def reference_regex(pattern: str) -> re.Pattern[str]:
    """The pattern semantics written as a regex: ? one digit, * any digits, rest literal."""
    kept = "".join(ch for ch in pattern if ch not in " -/()")
    body = "".join(
        "[0-9]" if ch == "?" else "[0-9]*" if ch == "*" else re.escape(ch) for ch in kept
    )
    return re.compile(body)


def reference_first(patterns: list[str] | tuple[str, ...], number: str, region: str) -> int | None:
    """Index of the first pattern that fully matches any form of `number`: a plain loop."""
    forms = reference_forms(number, region)
    for index, pattern in enumerate(patterns):
        regex = reference_regex(pattern)
        if any(regex.fullmatch(form) for form in forms):
            return index
    return None


def _readable(plus: str, body: str) -> str:
    """A pattern as a user may write it: no `**` (refused as doubtful), no `+0`."""
    body = re.sub(r"\*+", "*", body)
    return body if plus and body.startswith("0") else plus + body


def pattern_texts(alphabet: str = "0149?*", max_size: int = 7) -> st.SearchStrategy[str]:
    """Patterns over a small alphabet (matches, prefix sharing and overlaps are frequent)."""
    return st.builds(
        _readable,
        st.sampled_from(["", "", "", "+"]),
        st.text(alphabet=alphabet, min_size=1, max_size=max_size),
    )


def number_texts(
    region: str, prefixes_: tuple[str, ...], alphabet: str = "0149", max_size: int = 9
) -> st.SearchStrategy[str]:
    """Numbers with one of `prefixes_`, limited to those the reference speaks for."""
    return st.builds(
        lambda prefix, body: prefix + body,
        st.sampled_from(prefixes_),
        st.text(alphabet=alphabet, min_size=1, max_size=max_size),
    ).filter(lambda number: well_formed(number, region))
