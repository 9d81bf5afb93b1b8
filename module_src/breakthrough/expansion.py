"""Expanding a pattern into patterns on a number's one canonical form.

A number matches a pattern when any of its forms does (`NumberPlan.forms`); `expand` rewrites
the pattern so that matching the canonical (international) form alone gives the same answer,
and a compiled list needs one lookup per number, not one per form.
"""

from __future__ import annotations

from .number_forms import NumberPlan
from .wildcards import DIGITS, pattern_matches

# How an entry of a compiled list was derived from the pattern as written (see PatternList).
DIRECT, PLUS, NATIONAL = 0, 1, 2
KINDS = 3


def left_quotient(pattern: str, prefix: str) -> set[str]:
    """Patterns Q such that `pattern` matches `prefix` + s exactly when some Q matches s.

    `prefix` is digits. E.g. "0251*" by "0" gives {"251*"}; "?251*" too; "*51" gives {"*51"}.
    """
    rests = {pattern}
    for ch in prefix:
        following: set[str] = set()
        for rest in rests | {r[1:] for r in rests if r.startswith("*")}:
            if not rest:
                continue
            token = rest[0]
            if token == "*":
                following.add(rest)  # the star takes this digit and may take more
            elif token == "?" or token == ch:
                following.add(rest[1:])
        rests = following
    return rests


def _non_empty(pattern: str) -> str | None:
    """`pattern` restricted to non-empty numbers: None for "", "?*" for "*"."""
    if pattern == "":
        return None
    return "?*" if pattern == "*" else pattern


def expand(pattern: str, plan: NumberPlan) -> list[tuple[int, str]]:
    """(kind, pattern) pairs that match a number's canonical form where `pattern` matches a form.

    `plan.canonical` gives one form per number: the international form (`0049...`) of a
    number with a prefix, an extension as it is. A pattern matches some form of a number
    exactly when one of these matches its canonical form:
    - DIRECT: the pattern itself (on the international form, or on an extension);
    - PLUS: for `+R`, the international prefix and R (R on the digits after the '+');
    - NATIONAL: for each Q of the pattern's left quotient by the national prefix, the
      international prefix, country code and Q (Q on the national digits), Q narrowed to
      national digits that do not start with the national prefix (`+490…` has no national
      form, see `NumberPlan.forms`; with an empty national prefix no number has one).
    A NATIONAL `*R` from a pattern that is itself `*R` is left out: the DIRECT one matches
    every number it would. Q and R must match at least one digit, as a form always has one.
    """
    intl = plan.international_prefix
    if pattern.startswith("+"):
        rest = _non_empty(pattern[1:])
        return [(PLUS, intl + rest)] if rest is not None else []
    result = [(DIRECT, pattern)]
    national = plan.national_prefix
    rests: set[str] = set()
    for quotient in left_quotient(pattern, national):
        if pattern.startswith("*") and quotient == pattern:
            continue
        rests |= _not_led_by(quotient, national)
    head = intl + plan.country_code
    result.extend((NATIONAL, head + rest) for rest in sorted(rests))
    return result


def _not_led_by(pattern: str, lead: str) -> set[str]:
    """Patterns matching exactly the non-empty numbers `pattern` matches that do not start
    with `lead` (none if `lead` is empty).

    Such a number differs from `lead` first at some position j (digit d, not lead[j]) or is
    a proper prefix of it: so the union over j and d of lead[:j] + d + the left quotient of
    `pattern` by lead[:j] + d, and the proper prefixes of `lead` that `pattern` matches.
    """
    if not lead:
        return set()
    # Shortcuts for a pattern led by a digit (most are): "251*" by "0" is itself, "049*" none.
    if pattern and pattern[0] in DIGITS:
        if pattern[0] != lead[0]:
            return {pattern}
        if len(lead) == 1:
            return set()
    out: set[str] = set()
    for j, own in enumerate(lead):
        for digit in DIGITS:
            if digit != own:
                start = lead[:j] + digit
                out.update(start + rest for rest in left_quotient(pattern, start))
    out.update(lead[:j] for j in range(1, len(lead)) if pattern_matches(pattern, lead[:j]))
    return out
