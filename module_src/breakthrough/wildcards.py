"""STARFACE number patterns, and a list of them compiled for lookups that do not grow with it.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or more
digits), and is matched against the whole number. Spaces, `-`, `/` and parentheses that people
paste are dropped; any other character is refused with a message naming the line and it.

`PatternList` answers "which is the first pattern in list order that matches any form of this
number", and `PatternIndex` (patterns of many lists, each tagged with a bit) "which lists hold
a pattern that matches any form of this number" (the OR of the tags), both in time that
depends on the number's length, not on how many patterns they hold. One engine serves both;
only how the values of matching patterns add up differs (`LOWEST`: the lowest key; `UNION`:
the OR of bit masks):
- each pattern is expanded once (`expand`) into patterns on the number's one canonical form
  (`NumberPlan.canonical`, the international form), so a lookup is one search, not one per
  form;
- the expanded patterns go where their shape needs no loop over patterns (`_Parts`): exact
  numbers in a dict; suffixes (`*2515906850`, the form the product text recommends) in a trie
  of reversed suffixes walked along the reversed number; everything read from the start
  (prefixes like `0251*`, `?` anywhere, `*` inside) in one deterministic automaton (DFA) built
  by subset construction from a trie of the patterns. (Suffixes stay out of the DFA: a
  leading `*` keeps its NFA node alive in every state and would multiply the states; for
  the same reason the rare patterns with a `*` before their end get a DFA of their own.) A
  `PatternIndex` also keeps blocks (`02515906??`) out of the DFA, in a dict per count of `?`,
  and prefixes, in a dict per length (or a forward trie if they have many lengths): merged
  from many lists they made a DFA slow to build; its suffixes too go in a dict per length
  unless they have many lengths;
- each trie node and DFA state holds the joined value of what ends there, so one walk
  answers; a part is skipped when it cannot change what was found already (a list led by `*`
  answers at once), and a DFA walk stops once its answer is settled.
The DFA is built eagerly when the structures are built, up to a budget of states that real
lists stay far below (the NFA is then dropped); a pathological list gets the rest built on
first use and kept (up to a cap). That needs no lock: a transition is a pure function of its
state, so two threads racing compute the same entry.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .numbers import NumberPlan, strip_formatting

DIGITS = "0123456789"
_PATTERN_CHARACTERS = frozenset(DIGITS + "+?*")

# DFA states built when a list is compiled; beyond this they are built on first use. Real
# lists stay far below it (10,000 varied patterns need about 25,000).
EAGER_DFA_STATES = 100_000
# States for the automaton of patterns with a `*` before their end; past it they are matched by
# `_BitNfa`, which is slower per digit but never grows (nor takes long to build).
LOOPING_DFA_STATES = 50_000
# Hard cap on cached states so a hostile list cannot eat memory on the call path; past it,
# transitions are computed each time (still correct, just slower).
MAX_DFA_STATES = 250_000
# A `PatternIndex` looks prefixes (`0251*`), and suffixes (`*5906850`), up by length (a dict
# per length) when they have at most this many distinct lengths, else it walks a trie. A
# lookup per length costs about what a step of a walk does, and a walk through a list of
# thousands takes a step per digit it matches (5 to 8 in the benchmark's lists).
MAX_LENGTH_TABLES = 6


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


# How an entry of a compiled list was derived from the pattern as written (see PatternList).
DIRECT, PLUS, NATIONAL = 0, 1, 2
_KINDS = 3


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


@dataclass(frozen=True)
class _Combine:
    """How the values of the patterns that match one number add up to one answer.

    `none` is the answer when nothing matches; `join` adds a value to an answer; `adds(value,
    settled)` says whether joining `value` could still change the answer `settled`, so that
    parts of a search that cannot are skipped.
    """

    none: int
    join: Callable[[int, int], int]
    adds: Callable[[int, int], bool]


def _lower(a: int, b: int) -> int:
    return a if a < b else b


def _is_lower(value: int, settled: int) -> bool:
    return value < settled


def _has_new_bits(value: int, settled: int) -> bool:
    return value & ~settled != 0


# "No pattern": higher than every key, so that lookups compare ints without None checks.
_NEVER = sys.maxsize

# The first matching pattern in list order: values are keys, the lowest wins (PatternList).
LOWEST = _Combine(_NEVER, _lower, _is_lower)
# Every matching pattern: values are bit masks, the answer is their union (PatternIndex).
UNION = _Combine(0, operator.or_, _has_new_bits)

# A state of the automaton is a dict: digit -> next state; "" -> the answer if the number ends
# here (absent: none); "~" -> the answer if the next digit has no transition (absent: none);
# "#" -> (NFA nodes, settled answer) while the state's transitions are not all built yet.
# A built state omits transitions whose answer is its "~" whatever follows, so a walk stops
# at the first digit without a transition.
_State = dict[str, Any]
_Key = tuple[frozenset[int], int]


class _Nfa:
    """The patterns read from the start, as a trie over their tokens (digits, `?`, `*`).

    A `*` edge leads (by epsilon) to a star node that loops on every digit. Per node:
    `accept` (the joined value of the patterns ending there, or none), `below` (the joined
    value of every pattern it can still reach), `sink` (a star node that accepts and has no
    way out: whatever follows is accepted) and `wide` (its transitions depend on every digit,
    not only on its literal edges).
    """

    __slots__ = ("edges", "any_digit", "star", "is_star", "accept", "below", "sink", "wide")

    def __init__(self, patterns: Iterable[tuple[int, str]], combine: _Combine) -> None:
        none, join = combine.none, combine.join
        self.edges: list[dict[str, int]] = [{}]
        self.any_digit: list[int] = [-1]
        self.star: list[int] = [-1]
        self.is_star: list[bool] = [False]
        self.accept: list[int] = [none]
        for value, pattern in patterns:
            node = 0
            for token in pattern:
                node = self._child(node, token, none)
            self.accept[node] = join(self.accept[node], value)
        count = len(self.edges)
        self.sink = [
            self.is_star[n]
            and self.accept[n] != none
            and not self.edges[n]
            and self.any_digit[n] < 0
            and self.star[n] < 0
            for n in range(count)
        ]
        self.wide = [self.is_star[n] or self.any_digit[n] >= 0 for n in range(count)]
        below = list(self.accept)
        # Children always have higher numbers than their parent (a star node loops on itself).
        for n in range(count - 1, -1, -1):
            lowest = below[n]
            for child in self.edges[n].values():
                lowest = join(lowest, below[child])
            for child in (self.any_digit[n], self.star[n]):
                if child > n:
                    lowest = join(lowest, below[child])
            below[n] = lowest
        self.below = below

    def _child(self, node: int, token: str, none: int) -> int:
        if token == "*":
            child = self.star[node]
            if child < 0:
                child = self.star[node] = self._new_node(none, is_star=True)
            return child
        if token == "?":
            child = self.any_digit[node]
            if child < 0:
                child = self.any_digit[node] = self._new_node(none)
            return child
        found = self.edges[node].get(token)
        if found is None:
            found = self.edges[node][token] = self._new_node(none)
        return found

    def _new_node(self, none: int, *, is_star: bool = False) -> int:
        self.edges.append({})
        self.any_digit.append(-1)
        self.star.append(-1)
        self.is_star.append(is_star)
        self.accept.append(none)
        return len(self.edges) - 1

    def targets(self, nodes: Iterable[int], ch: str) -> set[int]:
        """The nodes reached from `nodes` on the digit `ch`, with their star nodes."""
        edges, any_digit, is_star = self.edges, self.any_digit, self.is_star
        reached: set[int] = set()
        for n in nodes:
            literal = edges[n].get(ch)
            if literal is not None:
                reached.add(literal)
            if any_digit[n] >= 0:
                reached.add(any_digit[n])
            if is_star[n]:
                reached.add(n)
        return self.closure(reached)

    def closure(self, nodes: set[int]) -> set[int]:
        """`nodes` with the star nodes they lead to by epsilon (a `*` may take no digit)."""
        star = self.star
        todo = [n for n in nodes if star[n] >= 0]
        while todo:
            following = star[todo.pop()]
            if following not in nodes:
                nodes.add(following)
                if star[following] >= 0:
                    todo.append(following)
        return nodes


class _Automaton:
    """A DFA over patterns read from the start, answering the joined value of matching ones.

    Built by subset construction from a trie of the patterns (`_Nfa`). A pattern ending in a
    `*` with nothing after it (`0251*`, also inside `?`-patterns) accepts everything once
    reached: the DFA state keeps its value as "settled" (sticky) instead of the looping NFA
    node, and drops every NFA node that cannot add to it. So a prefix pattern costs a state per
    trie node, and a walk stops as soon as its answer is settled.

    The states are built eagerly, breadth first, up to EAGER_DFA_STATES; when that finishes
    the whole DFA, the NFA and the index of states are dropped. Otherwise the rest is built on
    first use and kept (up to MAX_DFA_STATES), which needs no lock: a transition is a pure
    function of its state, so two threads racing compute the same entry.
    """

    __slots__ = ("_combine", "_nfa", "_states", "start", "states_built", "finished")

    def __init__(
        self, patterns: Iterable[tuple[int, str]], combine: _Combine, budget: int | None = None
    ) -> None:
        """Build the DFA eagerly up to `budget` states (default: EAGER_DFA_STATES)."""
        limit = EAGER_DFA_STATES if budget is None else budget
        self._combine = combine
        self._nfa: _Nfa | None = _Nfa(patterns, combine)
        self._states: dict[_Key, _State] | None = {}
        _, self.start, _ = self._state(self._nfa.closure({0}), combine.none)
        queue = [self.start] if "#" in self.start else []
        finished = True
        for state in queue:
            # (Past the cap, states are no longer kept, so every target counts as new: the
            # queue would never end.)
            if len(self._states) >= min(limit, MAX_DFA_STATES):
                finished = False
                break
            self._build(state, queue)
        self.states_built = len(self._states)
        self.finished = finished
        if finished:
            # Every state has all its transitions: nothing is ever built on first use.
            self._nfa = None
            self._states = None

    def _state(self, nodes: set[int], settled: int) -> tuple[_Key, _State, bool]:
        """The key and state of NFA `nodes` with `settled` answered, and whether it is new."""
        nfa = self._nfa
        states = self._states
        assert nfa is not None and states is not None
        combine = self._combine
        join, adds, none = combine.join, combine.adds, combine.none
        sink, below, accept = nfa.sink, nfa.below, nfa.accept
        for n in nodes:
            if sink[n]:
                settled = join(settled, accept[n])
        kept = frozenset([n for n in nodes if not sink[n] and adds(below[n], settled)])
        key = (kept, settled)
        known = states.get(key)
        if known is not None:
            return key, known, False
        value = settled
        for n in kept:
            if accept[n] != none:
                value = join(value, accept[n])
        state: _State = {}
        if value != none:
            state[""] = value
        if settled != none:
            state["~"] = settled
        if kept:
            state["#"] = key
        if len(states) < MAX_DFA_STATES:
            states[key] = state
        return key, state, True

    def _build(self, state: _State, queue: list[_State]) -> None:
        """Give `state` all its transitions (queueing new states), then mark it built."""
        nfa = self._nfa
        assert nfa is not None
        nodes, settled = state["#"]
        literal = {ch for n in nodes for ch in nfa.edges[n]}
        # A digit on no literal edge leads where any other such digit does (through `?` and
        # `*` only), so that target is worked out once, when first needed (a state made and
        # not queued would never be built).
        wide = any(nfa.wide[n] for n in nodes)
        default: tuple[_Key, _State, bool] | None = None
        for ch in DIGITS:
            if ch in literal:
                key, target, new = self._state(nfa.targets(nodes, ch), settled)
            elif wide:
                if default is None:
                    key, target, new = self._state(nfa.targets(nodes, ""), settled)
                    default = key, target, False
                else:
                    key, target, new = default
            else:
                continue  # no NFA node goes on: settled whatever follows
            if not key[0] and key[1] == settled:
                continue  # settled whatever follows: the walk answers "~" without it
            if new and "#" in target:
                queue.append(target)
            state[ch] = target
        del state["#"]

    def fill(self, state: _State, ch: str) -> _State:
        """The transition of a state not built yet on `ch`, built now and kept if it may."""
        states = self._states
        assert states is not None and self._nfa is not None
        nodes, settled = state["#"]
        key, target, _ = self._state(self._nfa.targets(nodes, ch), settled)
        if key in states:  # past the cap, kept nowhere: built again next time
            state[ch] = target
        return target

    def after(self, prefix: str) -> _State | None:
        """The state a walk reaches after `prefix` if it is built and not settled, else None."""
        state = self.start
        for ch in prefix:
            target = state.get(ch)
            if target is None:
                return None
            state = target
        return state

    def value(self, number: str, state: _State | None = None) -> int:
        """The joined value of the patterns matching the whole `number` (digits), or none.

        `state`: walk from there (a state `after` returned), as if its prefix came first.
        """
        if state is None:
            state = self.start
        for ch in number:
            target = state.get(ch)
            if target is None:
                if "#" not in state:
                    return state.get("~", self._combine.none)
                target = self.fill(state, ch)
            state = target
        return state.get("", self._combine.none)


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


class _BitNfa:
    """Patterns matched by simulating their NFA with bit operations: no states to build.

    The fallback for patterns whose DFA would not fit its budget (many patterns with a `*`
    before their end multiply each other's states). Each pattern of m tokens owns m + 1 bits,
    one per gap between its tokens; a set bit means "the tokens before this gap matched what
    was read so far". A digit moves every bit whose next token takes it one place on, keeps
    the bits after a `*` (which takes any digits), and a bit before a `*` also sets the one
    after it (a `*` may take none). A walk costs a few operations on one integer per digit,
    whatever the number of patterns (the integer grows by a word per 64 tokens).
    """

    __slots__ = (
        "_combine",
        "_start",
        "_moves",
        "_star_next",
        "_star_after",
        "_final_all",
        "_finals",
        "_lowest",
    )

    def __init__(self, patterns: Iterable[tuple[int, str]], combine: _Combine) -> None:
        self._combine = combine
        # Sorted by value, so that for LOWEST the lowest final bit is the lowest value.
        ordered = sorted(patterns)
        start = star_next = star_after = 0
        moves = dict.fromkeys(DIGITS, 0)
        finals: dict[int, int] = {}  # value -> its final bits
        lowest: dict[int, int] = {}  # final bit -> value (the first pattern's, if shared)
        offset = 0
        for value, pattern in ordered:
            start |= 1 << offset
            for position, token in enumerate(pattern):
                bit = 1 << (offset + position)
                if token == "*":
                    star_next |= bit
                    star_after |= bit << 1
                elif token == "?":
                    for ch in DIGITS:
                        moves[ch] |= bit
                else:
                    moves[token] |= bit
            final = 1 << (offset + len(pattern))
            finals[value] = finals.get(value, 0) | final
            lowest.setdefault(final, value)
            offset += len(pattern) + 1
        self._start = start | (start & star_next) << 1
        self._moves = moves
        self._star_next = star_next
        self._star_after = star_after
        self._finals = tuple((bits, value) for value, bits in finals.items())
        self._final_all = sum(lowest)
        self._lowest = lowest

    def value(self, number: str) -> int:
        """The joined value of the patterns matching the whole `number` (digits), or none."""
        active = self._start
        moves, star_next, star_after = self._moves, self._star_next, self._star_after
        for ch in number:
            active = (active & moves[ch]) << 1 | (active & star_after)
            active |= (active & star_next) << 1
            if not active:
                return self._combine.none
        combine = self._combine
        ended = active & self._final_all
        if not ended:
            return combine.none
        if combine is LOWEST:  # final bits ascend with the values: the lowest bit is first
            return self._lowest[ended & -ended]
        found = combine.none
        for bits, value in self._finals:
            if ended & bits:
                found = combine.join(found, value)
        return found


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
      (forward) past MAX_LENGTH_TABLES lengths, as either is built in a fraction of the time
      the DFA takes; merged from 20 lists they are many;
    `sliced` holds the dicts looked up by a slice of the number: blocks and, by length,
    prefixes and suffixes.
    - the rest (prefixes unless merged, `?` inside) in one `_Automaton`;
    - patterns with a `*` before their end (`02*850`, `*5?`, rare) in another, because their
      star nodes stay alive and would multiply the states of the first; if even that one
      does not fit LOOPING_DFA_STATES (they multiply each other's states too), they are
      simulated with bit operations instead (`_BitNfa`), which builds no states at all.
    When `merged`, blocks stay out of the automaton because each would add a chain of states
    as long as the number, and 20 lists of them made most of its states. `*_all` are the
    joined values of everything in a part, so that a lookup skips a part that cannot change
    its answer.
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
        self, entries: Iterable[tuple[int, str]], combine: _Combine, *, merged: bool
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
        self.automaton = _Automaton(from_start, combine)
        self.automaton_all = automaton_all
        loops = _Automaton(looping, combine, LOOPING_DFA_STATES)
        self.loops: _Automaton | _BitNfa = loops if loops.finished else _BitNfa(looping, combine)
        self.loops_all = loops_all


def _distinct_lengths(entries: Sequence[tuple[int, str]]) -> int:
    return len({len(key) for _, key in entries})


def _by_length(
    entries: Iterable[tuple[int, str]], combine: _Combine
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
            yield (value * _KINDS + kind if keyed else value), pattern


class PatternList:
    """A list of patterns compiled once; `first_match` finds the first one matching a number.

    Every pattern is expanded (see `expand`) so that one lookup of the number's canonical form
    answers for all its forms. Lookup time depends on the number's length, not on the length
    of the list (see the module docstring).

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
        self.canonical_patterns: tuple[str, ...] = tuple(
            parse_pattern(text, f"{where} line {line}")
            for line, text in enumerate(self.patterns, start=1)
        )
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
        best = parts.exact.get(canonical, _NEVER)
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
            found = node.get("", _NEVER)
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
        return None if best == _NEVER else best

    def first_match(self, canonical: str) -> Match | None:
        """The first pattern (list order) matching any form of the number, or None.

        `canonical` is `plan.canonical(number)` for this list's plan.
        """
        key = self.first_key(canonical)
        if key is None:
            return None
        index, kind = divmod(key, _KINDS)
        return Match(index, self.patterns[index], self.canonical_patterns[index], kind, canonical)


class PatternIndex:
    """Patterns from many lists, each tagged with bits; `bits` ORs the tags of all that match.

    Made from (tag, canonical pattern) pairs (patterns as `parse_pattern` returns them, e.g.
    `PatternList.canonical_patterns`), for one number plan. `bits(canonical)` is the union of
    the tags of every pattern that matches any form of the number, found with one lookup of
    its canonical form: an exact-number dict, a dict per block size and per prefix or suffix
    length (a trie walk where they have many lengths), and one walk of the automaton,
    whatever the number of patterns and lists. Built whole when made; read-only
    after that except for the automaton's cache (see `_Automaton`).
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


def _trie_insert(trie: dict[str, Any], key: str, value: int, combine: _Combine) -> None:
    """Join `value` into the node of `key`, under ""."""
    node = trie
    for ch in key:
        node = node.setdefault(ch, {})
    node[""] = combine.join(node.get("", combine.none), value)


def _propagate(root: dict[str, Any], combine: _Combine) -> int:
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
