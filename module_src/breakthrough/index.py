"""Every instance of a hook decided at once: one lookup per number and side, not per instance.

`InstanceIndex` compiles, when the instances change, one `PatternIndex` for the called
numbers and one for the caller numbers (per number plan; instances normally share one). Each
pattern is tagged with the bit of its instance and list: instance i's "Aktiv für" patterns
with bit i, its "Ausnahmen" with bit n + i (n instances). A lookup returns the OR of the tags
of every pattern that matches any form of the number, so per call

    instance i matches  <=>  called "Aktiv für" bit i  and not called "Ausnahmen" bit i
                             and caller "Aktiv für" bit i and not caller "Ausnahmen" bit i,

which is `rules.decide` for every instance at once: an empty "Aktiv für" sets no bit, an
inactive instance has no patterns in the index, and a withheld caller is looked up nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .number_forms import NumberPlan, check_number, is_withheld
from .pattern_index import PatternIndex, PatternList
from .rules import CompiledInstance


@dataclass(frozen=True, slots=True)
class _PlanGroup:
    """The active instances that share one number plan, with their two side indices."""

    plan: NumberPlan
    international_prefix: str  # the plan's, read on every call
    called: PatternIndex
    caller: PatternIndex


class InstanceIndex:
    """The instances' rules compiled into one index per side; `matching` decides them all.

    Built whole when made; read-only
    after that except for the automata's caches (see `breakthrough.automata`), so many
    threads may call `matching` at once without a lock.
    """

    __slots__ = ("instances", "_width", "matching")

    def __init__(self, instances: Sequence[CompiledInstance]) -> None:
        self.instances: tuple[CompiledInstance, ...] = tuple(instances)
        width = len(self.instances)
        self._width = width
        by_plan: dict[NumberPlan, list[int]] = {}
        for position, compiled in enumerate(self.instances):
            if compiled.active:
                by_plan.setdefault(compiled.plan, []).append(position)
        groups = tuple(
            _PlanGroup(
                plan,
                plan.international_prefix,
                PatternIndex(self._tagged(positions, "called"), plan),
                PatternIndex(self._tagged(positions, "caller"), plan),
            )
            for plan, positions in by_plan.items()
        )
        # matching(called, caller) -> int: see _matcher.
        self.matching: Callable[[str, str | None], int] = _matcher(groups, width)

    def _tagged(self, positions: list[int], side: str) -> Iterator[tuple[int, str]]:
        """(bit, canonical pattern) of both lists of `side` of the instances at `positions`."""
        for position in positions:
            compiled = self.instances[position]
            lists = compiled.called if side == "called" else compiled.caller
            yield from _tag(lists.active, 1 << position)
            yield from _tag(lists.exceptions, 1 << (self._width + position))


def _matcher(groups: tuple[_PlanGroup, ...], width: int) -> Callable[[str, str | None], int]:
    """`InstanceIndex.matching` for `groups`: a closure, so that what it reads are local
    names (this is the call path)."""
    low = (1 << width) - 1  # the "Aktiv für" bits, one per instance
    sides = tuple(
        (g.international_prefix, g.plan.canonical_of_checked, g.called.bits, g.caller.bits)
        for g in groups
    )

    def matching(called: str, caller: str | None) -> int:
        """Bit i set for each instance i whose rule matches the call (0: none matches).

        A withheld caller (None, "", "anonymous", ...) matches nothing. A number that is not
        a number raises ConfigError naming it (the called number first), as `rules.decide`.
        """
        # Numbers of digits alone (as STARFACE mostly signals them) need no further reading.
        if called and called.isascii() and called.isdigit():
            called_clean = called
        else:
            called_clean = check_number(called or "", "called number")
        if caller and caller.isascii() and caller.isdigit():
            caller_clean = caller
        elif is_withheld(caller):
            return 0
        else:
            caller_clean = check_number(caller or "", "caller number")
        matched = 0
        for intl, canonical_of_checked, called_bits, caller_bits in sides:
            # A number in international form is its own canonical form (the form STARFACE
            # mostly signals): that case skips the call to canonical_of_checked.
            found = called_bits(
                called_clean
                if called_clean.startswith(intl)
                else canonical_of_checked(called_clean)
            )
            passed = found & low & ~(found >> width)
            if passed:  # the AND: the caller only where the called number passed
                found = caller_bits(
                    caller_clean
                    if caller_clean.startswith(intl)
                    else canonical_of_checked(caller_clean)
                )
                matched |= passed & found & ~(found >> width)
        return matched

    return matching


def _tag(patterns: PatternList, bit: int) -> Iterator[tuple[int, str]]:
    for canonical in patterns.canonical_patterns:
        yield bit, canonical
