"""Compiled pattern lists: `PatternList` (the first match in list order) and `PatternIndex`
(the tags of every match over many lists), each answering in time that depends on the
number's length, not on how many patterns they hold. How: docs/RULE_ENGINE.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .automata import LOWEST, NEVER, UNION, Automaton, BitNfa, Combine
from .expansion import KINDS, NATIONAL, PLUS, expand
from .number_forms import NumberPlan
from .wildcards import parse_patterns, pattern_matches

# A `PatternIndex` looks prefixes (`0251*`), and suffixes (`*5906850`), up by length (a dict
# per length) when they have at most this many distinct lengths, else it walks a trie (why:
# docs/RULE_ENGINE.md).
MAX_LENGTH_TABLES = 6
# States for the automaton of patterns with a `*` before their end; past it they are matched by
# `BitNfa`, which is slower per digit but never grows (nor takes long to build).
LOOPING_DFA_STATES = 50_000


@dataclass(frozen=True)
class Match:
    """The first pattern of a list (in list order) that matched a number, and how."""

    index: int  # position in the list, 0-based
    pattern: str  # as written in the configuration
    canonical_pattern: str  # as parse_pattern reads it
    kind: int  # DIRECT, PLUS or NATIONAL: which form of the number it matched
    canonical: str  # the number's canonical form (NumberPlan.canonical)

    def form(self, plan: NumberPlan, signalled: str) -> str:
        """The form of the number the pattern matched: `signalled` if it matches that one.

        For explanations only: it runs the slow single-pattern matcher.
        """
        if self.kind == PLUS:
            form = "+" + self.canonical[len(plan.international_prefix) :]
        elif self.kind == NATIONAL:
            cut = len(plan.international_prefix) + len(plan.country_code)
            form = plan.national_prefix + self.canonical[cut:]
        else:
            form = self.canonical
        if form != signalled and pattern_matches(self.canonical_pattern, signalled):
            return signalled
        return form


class _Parts:
    """Expanded patterns, each with a value, stored where their shape needs no loop over them.

    - exact numbers in a dict;
    - `*` alone as one value;
    - when `merged` (entries of many lists, valued by their bits), blocks (a number followed
      by `?`s only, `02515906?`, "a block of extensions behind a number"), per count of `?`,
      in a dict of the number part;
    - suffixes (`*2515906850`) in a trie of reversed suffixes, each node holding the joined
      value of the suffixes on its path; when `merged` and of at most MAX_LENGTH_TABLES
      distinct lengths, in a dict per length instead;
    - when `merged`, prefixes (`0251*`) in a dict per length, or in a trie like the suffixes
      (forward) past MAX_LENGTH_TABLES lengths;
    `sliced` holds the dicts looked up by a slice of the number: blocks and, by length,
    prefixes and suffixes.
    - the rest (prefixes unless merged, `?` inside) in one `Automaton`;
    - patterns with a `*` before their end (`02*850`, `*5?`, rare) in another, because their
      star nodes stay alive and would multiply the states of the first; if even that one
      does not fit LOOPING_DFA_STATES (they multiply each other's states too), they are
      simulated with bit operations instead (`BitNfa`), which builds no states at all.
    `*_all` are the joined values of everything in a part, so that a lookup skips a part that
    cannot change its answer. Why the parts are what they are: docs/RULE_ENGINE.md.
    """

    __slots__ = (
        "exact",
        "everything",
        "sliced",
        "suffixes",
        "suffix_all",
        "prefixes",
        "prefix_all",
        "automaton",
        "automaton_all",
        "loops",
        "loops_all",
    )

    def __init__(
        self, entries: Iterable[tuple[int, str]], combine: Combine, *, merged: bool
    ) -> None:
        join, none = combine.join, combine.none
        exact: dict[str, int] = {}
        everything = automaton_all = loops_all = none
        blocks: dict[int, dict[str, int]] = {}  # count of `?` -> number part -> value
        suffix_entries: list[tuple[int, str]] = []  # (value, "2515906850") for `*2515906850`
        prefix_entries: list[tuple[int, str]] = []  # (value, "0251") for `0251*` (when merged)
        from_start: list[tuple[int, str]] = []
        looping: list[tuple[int, str]] = []
        for value, pattern in entries:
            if "*" not in pattern:
                number = pattern.rstrip("?")
                # (A block needs a number part: "???" would be looked up as "" in numbers
                # shorter than it too; such patterns go to the automaton.)
                if "?" not in number and (number == pattern or (merged and number)):
                    table = (
                        exact
                        if number == pattern
                        else blocks.setdefault(len(pattern) - len(number), {})
                    )
                    table[number] = join(table.get(number, none), value)
                    continue
            elif pattern == "*":
                everything = join(everything, value)
                continue
            elif pattern.startswith("*") and "?" not in pattern and pattern.count("*") == 1:
                suffix_entries.append((value, pattern[1:]))
                continue
            if "*" in pattern[:-1]:
                # A `*` with more after it keeps its NFA node alive in every state after it,
                # which multiplies the states of everything else in the same automaton: such
                # patterns (rare) get an automaton of their own.
                looping.append((value, pattern))
                loops_all = join(loops_all, value)
                continue
            if merged and "?" not in pattern:  # a prefix (`0251*`): see below
                prefix_entries.append((value, pattern[:-1]))
                continue
            # prefixes (`0251*`) unless merged, `?` inside
            from_start.append((value, pattern))
            automaton_all = join(automaton_all, value)
        self.exact = exact
        self.everything = everything
        # A block with h `?` matches a number whose first len - h digits are its number part:
        # one lookup of number[:-h] (a number shorter than h yields "", which is no key).
        sliced: list[tuple[slice, dict[str, int]]] = [
            (slice(None, -holes), table) for holes, table in sorted(blocks.items())
        ]
        suffixes: dict[str, Any] = {}  # trie of "0586095152" for `*2515906850`, reversed
        prefixes: dict[str, Any] = {}  # trie of "0251" for `0251*`
        # Prefixes and suffixes of few distinct lengths (as real lists have) are looked up by
        # length instead (`number[:L]`, `number[-L:]`): a lookup per length costs about what
        # one step of a trie walk costs, and a walk takes a step per digit matched.
        if merged and _distinct_lengths(suffix_entries) <= MAX_LENGTH_TABLES:
            sliced.extend(
                (slice(-length, None), table)
                for length, table in _by_length(suffix_entries, combine)
            )
        else:
            for value, suffix in suffix_entries:
                _trie_insert(suffixes, suffix[::-1], value, combine)
        if _distinct_lengths(prefix_entries) <= MAX_LENGTH_TABLES:
            sliced.extend(
                (slice(None, length), table)
                for length, table in _by_length(prefix_entries, combine)
            )
        else:
            for value, prefix in prefix_entries:
                _trie_insert(prefixes, prefix, value, combine)
        # (Only a merged PatternIndex fills `sliced`: PatternList.first_key does not read it.)
        self.sliced = tuple(sliced)
        self.suffix_all = _propagate(suffixes, combine)
        self.suffixes = suffixes
        self.prefix_all = _propagate(prefixes, combine)
        self.prefixes = prefixes
        self.automaton = Automaton(from_start, combine)
        self.automaton_all = automaton_all
        loops = Automaton(looping, combine, LOOPING_DFA_STATES)
        self.loops: Automaton | BitNfa = loops if loops.finished else BitNfa(looping, combine)
        self.loops_all = loops_all


def _distinct_lengths(entries: Sequence[tuple[int, str]]) -> int:
    return len({len(key) for _, key in entries})


def _by_length(
    entries: Iterable[tuple[int, str]], combine: Combine
) -> list[tuple[int, dict[str, int]]]:
    """(length, key -> joined value of the entries with that key) for each length, ascending."""
    tables: dict[int, dict[str, int]] = {}
    join, none = combine.join, combine.none
    for value, key in entries:
        table = tables.setdefault(len(key), {})
        table[key] = join(table.get(key, none), value)
    return sorted(tables.items())


def _expanded(
    canonical_patterns: Iterable[tuple[int, str]], plan: NumberPlan, keyed: bool
) -> Iterator[tuple[int, str]]:
    """(value, expanded pattern) for each (value, pattern); `keyed`: value * 3 + kind."""
    for value, canonical in canonical_patterns:
        for kind, pattern in expand(canonical, plan):
            yield (value * KINDS + kind if keyed else value), pattern


class PatternList:
    """A list of patterns compiled once; `first_match` finds the first one matching a number.

    Every pattern is expanded (see `expand`) so that one lookup of the number's canonical form
    answers for all its forms. Lookup time depends on the number's length, not on the length
    of the list (docs/RULE_ENGINE.md).

    The patterns are read (and refused, naming the line) when the list is made; the lookup
    structures are built by `build()` or by the first lookup. Read-only after that except for
    the automaton's cache, which is safe to fill from many threads.
    """

    __slots__ = ("patterns", "canonical_patterns", "plan", "_parts")

    def __init__(self, patterns: Sequence[str], where: str, plan: NumberPlan) -> None:
        """Read `patterns` (as written); ConfigError naming `where`, the line and character.

        Line n is the n-th entry, counted from 1, as in the form's one-pattern-per-line list.
        """
        self.patterns: tuple[str, ...] = tuple(patterns)
        self.plan = plan
        self.canonical_patterns: tuple[str, ...] = parse_patterns(self.patterns, where)
        self._parts: _Parts | None = None

    def __len__(self) -> int:
        return len(self.patterns)

    def build(self) -> None:
        """Build the lookup structures now, so that no lookup has to (idempotent).

        Two threads building at once each build a whole copy and publish it in one
        assignment; both copies answer alike, so no lock is needed.
        """
        if self._parts is None:
            entries = _expanded(enumerate(self.canonical_patterns), self.plan, keyed=True)
            self._parts = _Parts(entries, LOWEST, merged=False)

    def first_key(self, canonical: str) -> int | None:
        """index * 3 + kind of the first entry matching the whole `canonical`, or None.

        `canonical` must come from `plan.canonical` (so it is digits only).
        """
        parts = self._parts
        if parts is None:
            self.build()
            parts = self._parts
            assert parts is not None
        best = parts.exact.get(canonical, NEVER)
        if parts.everything < best:
            best = parts.everything
        # Each part is only searched while it could still hold a better (lower) key, so a
        # list led by `*` answers at once.
        if parts.suffix_all < best:
            node = parts.suffixes
            for ch in reversed(canonical):
                child = node.get(ch)
                if child is None:
                    break
                node = child
            found = node.get("", NEVER)
            if found < best:
                best = found
        if parts.automaton_all < best:
            found = parts.automaton.value(canonical)
            if found < best:
                best = found
        if parts.loops_all < best:
            found = parts.loops.value(canonical)
            if found < best:
                best = found
        return None if best == NEVER else best

    def first_match(self, canonical: str) -> Match | None:
        """The first pattern (list order) matching any form of the number, or None.

        `canonical` is `plan.canonical(number)` for this list's plan.
        """
        key = self.first_key(canonical)
        if key is None:
            return None
        index, kind = divmod(key, KINDS)
        return Match(index, self.patterns[index], self.canonical_patterns[index], kind, canonical)


class PatternIndex:
    """Patterns from many lists, each tagged with bits; `bits` ORs the tags of all that match.

    Made from (tag, canonical pattern) pairs (patterns as `parse_pattern` returns them, e.g.
    `PatternList.canonical_patterns`), for one number plan. `bits(canonical)` is the union of
    the tags of every pattern that matches any form of the number, found with one lookup of
    its canonical form: an exact-number dict, a dict per block size and per prefix or suffix
    length (a trie walk where they have many lengths), and one walk of the automaton,
    whatever the number of patterns and lists. Built whole when made; read-only
    after that except for the automaton's cache (see `Automaton`).
    """

    __slots__ = ("plan", "_automaton", "bits")

    def __init__(self, tagged: Iterable[tuple[int, str]], plan: NumberPlan) -> None:
        self.plan = plan
        parts = _Parts(_expanded(tagged, plan, keyed=False), UNION, merged=True)
        self._automaton = parts.automaton
        self.bits: Callable[[str], int] = _lookup(parts, plan)

    @property
    def automaton_states(self) -> int:
        """How many automaton states were built when the index was made."""
        return self._automaton.states_built


def _lookup(parts: _Parts, plan: NumberPlan) -> Callable[[str], int]:
    """`PatternIndex.bits` for `parts`: a closure, so that what it reads are local names.

    This is the call path: a closure's variables cost less to read than attributes, and the
    walks are written out rather than called (a Python call costs as much as a few steps).
    """
    exact_get = parts.exact.get
    everything = parts.everything
    sliced = parts.sliced
    suffixes, suffix_all = parts.suffixes, parts.suffix_all
    prefixes, prefix_all = parts.prefixes, parts.prefix_all
    automaton, automaton_all = parts.automaton, parts.automaton_all
    loops, loops_all = parts.loops, parts.loops_all
    walked_all = suffix_all | prefix_all | automaton_all | loops_all
    # Most numbers start with the international prefix and the PBX's country code (`0049`):
    # their walks start from the node and state after it, found once here.
    head = plan.international_prefix + plan.country_code
    cut = len(head)
    after_head = automaton.after(head)
    prefixes_after_head: dict[str, Any] | None = prefixes
    for ch in head:
        prefixes_after_head = prefixes_after_head.get(ch) if prefixes_after_head else None

    def bits(canonical: str) -> int:
        """The union of the tags of every pattern matching any form of the number (0: none).

        `canonical` is `plan.canonical(number)` for this index's plan.
        """
        found = exact_get(canonical, 0) | everything
        # Blocks, and prefixes and suffixes by length: one lookup of a slice each.
        for part, table in sliced:
            found |= table.get(canonical[part], 0)
        if not walked_all & ~found:  # (one test for the parts below, often all empty)
            return found
        if suffix_all & ~found:
            node = suffixes
            for ch in reversed(canonical):
                child = node.get(ch)
                if child is None:
                    break
                node = child
            found |= node.get("", 0)
        if prefix_all & ~found:
            if prefixes_after_head is not None and canonical.startswith(head):
                node, rest = prefixes_after_head, canonical[cut:]
            else:
                node, rest = prefixes, canonical
            for ch in rest:
                child = node.get(ch)
                if child is None:
                    break
                node = child
            found |= node.get("", 0)
        if automaton_all & ~found:
            if after_head is not None and canonical.startswith(head):
                state, rest = after_head, canonical[cut:]
            else:
                state, rest = automaton.start, canonical
            for ch in rest:
                target = state.get(ch)
                if target is None:
                    if "#" not in state:  # built: no transition means settled
                        found |= state.get("~", 0)
                        break
                    target = automaton.fill(state, ch)
                state = target
            else:
                found |= state.get("", 0)
        if loops_all & ~found:
            found |= loops.value(canonical)
        return found

    return bits


def _trie_insert(trie: dict[str, Any], key: str, value: int, combine: Combine) -> None:
    """Join `value` into the node of `key`, under ""."""
    node = trie
    for ch in key:
        node = node.setdefault(ch, {})
    node[""] = combine.join(node.get("", combine.none), value)


def _propagate(root: dict[str, Any], combine: Combine) -> int:
    """Give every node, under "", the joined value of the nodes on the path from the root to it.

    Returns the joined value of the whole trie (none if it is empty). A node whose value is
    none keeps no "" entry.
    """
    join, none = combine.join, combine.none
    total = none
    stack: list[tuple[dict[str, Any], int]] = [(root, none)]
    while stack:
        node, above = stack.pop()
        value = join(node.get("", none), above)
        if value != none:
            node[""] = value
        total = join(total, value)
        stack.extend((child, value) for key, child in node.items() if key)
    return total
