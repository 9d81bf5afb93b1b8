"""The PBX's own number plan: which signalled numbers are forms of one number.

The host needs this independently of any module: to map every form of a directory number to
its user or group, so the Java core finds a signalled number of any form with one exact
lookup. STARFACE signals `00492515906201`, `+492515906201` or `02515906201` for one number;
given country code and prefixes these are forms of each other. A number without a prefix is
an internal extension and has exactly one form (the host never guesses a local number).

A module that reads numbers has its own copy of such rules: the host imports no module code,
and uploaded code imports nothing of the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import Refused

# What people paste between digits; dropped before a number is read.
FORMATTING = frozenset(" \t\u00a0-/()")
# Caller ids that mean "no number" (CLIR), compared after strip() and lower().
WITHHELD = frozenset(
    {"", "anonymous", "unknown", "withheld", "restricted", "private", "unavailable"}
)
_DIGITS = frozenset("0123456789")


def is_withheld(number: str | None) -> bool:
    """True when a caller id means "no number": None, "", "anonymous", "unknown", ..."""
    return number is None or number.strip().lower() in WITHHELD


def normalise(number: str, what: str = "number") -> str:
    """`number` without formatting characters; Refused (naming `what`) unless it is digits
    with an optional leading `+`."""
    clean = "".join(ch for ch in number.strip() if ch not in FORMATTING)
    body = clean[1:] if clean.startswith("+") else clean
    if not body:
        raise Refused(f"{what} {number!r} has no digits.")
    bad = next((ch for ch in body if ch not in _DIGITS), None)
    if bad is not None:
        raise Refused(
            f"{what} {number!r} has {bad!r}; a number is digits with an optional leading +."
        )
    return clean


@dataclass(frozen=True)
class PbxNumberPlan:
    """Country code, area code and dialling prefixes of the PBX (the `[pbx]` table)."""

    country_code: str = "49"
    area_code: str = "251"
    international_prefix: str = "00"
    national_prefix: str = "0"

    def forms(self, number: str, what: str = "number") -> tuple[str, ...]:
        """Every form of `number`, the given one (normalised) first; Refused if malformed.

        `+49251…`, `0049251…` and `0251…` give each other; a foreign number gives its `+`
        and international-prefix forms; an extension (no prefix) gives only itself.
        """
        clean = normalise(number, what)
        intl, national = self.international_prefix, self.national_prefix
        if clean.startswith("+"):
            full = clean[1:]
        elif clean.startswith(intl):
            full = clean[len(intl) :]
        elif clean.startswith(national) and not clean[len(national) :].startswith(national):
            # (the trunk prefix twice, `11…` under a US plan, is no national number)
            full = self.country_code + clean[len(national) :]
        else:
            return (clean,)
        if not full or clean in (intl, national):
            return (clean,)
        found = [clean, "+" + full, intl + full]
        rest = full[len(self.country_code) :]
        # A national number never starts with the trunk prefix: `+490…` has no national form
        # (`00…` would read back as an international number).
        if full.startswith(self.country_code) and rest and not rest.startswith(national):
            found.append(national + rest)
        return tuple(dict.fromkeys(found))
