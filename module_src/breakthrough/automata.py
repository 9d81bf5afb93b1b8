"""The automata that match many patterns in one walk of a number.

`Nfa` is a trie of the patterns' tokens; `Automaton` a DFA built from it by subset
construction (eagerly up to a budget, then on first use); `BitNfa` simulates the NFA with bit
operations where a DFA would not fit. Values of matching patterns add up by a `Combine`
(`LOWEST`: the first pattern in list order; `UNION`: the OR of bit masks). Why they are built
this way: docs/RULE_ENGINE.md.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .wildcards import DIGITS

# DFA states built when a list is compiled; beyond this they are built on first use. Real
# lists stay far below it.
EAGER_DFA_STATES = 100_000
# Hard cap on cached states so a hostile list cannot eat memory on the call path; past it,
# transitions are computed each time (still correct, just slower).
MAX_DFA_STATES = 250_000
# The compile budget: NFA nodes held by the kept states of one automaton (a state is the set
# of NFA nodes a walk may be in). Building a state costs a pass over its nodes per digit, and
# each kept node some 40 bytes, so this bounds both the time to compile a list and its memory
# whatever its patterns (states are few, but can be wide: thousands of `?`-patterns alive at
# once). Past the eager budget the rest is built on first use; past the cap, computed each time.
EAGER_STATE_NODES = 500_000
MAX_STATE_NODES = 1_000_000


@dataclass(frozen=True)
class Combine:
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
NEVER = sys.maxsize

# The first matching pattern in list order: values are keys, the lowest wins (PatternList).
LOWEST = Combine(NEVER, _lower, _is_lower)
# Every matching pattern: values are bit masks, the answer is their union (PatternIndex).
UNION = Combine(0, operator.or_, _has_new_bits)

# A state of the automaton is a dict: digit -> next state; "" -> the answer if the number ends
# here (absent: none); "~" -> the answer if the next digit has no transition (absent: none);
# "#" -> (NFA nodes, settled answer) while the state's transitions are not all built yet.
# A built state omits transitions whose answer is its "~" whatever follows, so a walk stops
# at the first digit without a transition.
State = dict[str, Any]
_Key = tuple[frozenset[int], int]


class Nfa:
    """The patterns read from the start, as a trie over their tokens (digits, `?`, `*`).

    A `*` edge leads (by epsilon) to a star node that loops on every digit. Per node:
    `accept` (the joined value of the patterns ending there, or none), `below` (the joined
    value of every pattern it can still reach), `sink` (a star node that accepts and has no
    way out: whatever follows is accepted) and `wide` (its transitions depend on every digit,
    not only on its literal edges).
    """

    __slots__ = ("edges", "any_digit", "star", "is_star", "accept", "below", "sink", "wide")

    def __init__(self, patterns: Iterable[tuple[int, str]], combine: Combine) -> None:
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


class Automaton:
    """A DFA over patterns read from the start, answering the joined value of matching ones.

    Built by subset construction from a trie of the patterns (`Nfa`). A pattern ending in a
    `*` with nothing after it (`0251*`, also inside `?`-patterns) accepts everything once
    reached: the DFA state keeps its value as "settled" (sticky) instead of the looping NFA
    node, and drops every NFA node that cannot add to it. So a prefix pattern costs a state per
    trie node, and a walk stops as soon as its answer is settled.

    The states are built eagerly, breadth first, up to EAGER_DFA_STATES; when that finishes
    the whole DFA, the NFA and the index of states are dropped. Otherwise the rest is built on
    first use and kept (up to MAX_DFA_STATES), which needs no lock: a transition is a pure
    function of its state, so two threads racing compute the same entry.
    """

    __slots__ = ("_combine", "_nfa", "_states", "_nodes", "start", "states_built", "finished")

    def __init__(
        self, patterns: Iterable[tuple[int, str]], combine: Combine, budget: int | None = None
    ) -> None:
        """Build the DFA eagerly up to `budget` states (default: EAGER_DFA_STATES)."""
        limit = EAGER_DFA_STATES if budget is None else budget
        self._combine = combine
        self._nfa: Nfa | None = Nfa(patterns, combine)
        self._states: dict[_Key, State] | None = {}
        self._nodes = 0  # NFA nodes in the keys of the kept states
        _, self.start, _ = self._state(self._nfa.closure({0}), combine.none)
        queue = [self.start] if "#" in self.start else []
        finished = True
        for state in queue:
            # (Past the cap, states are no longer kept, so every target counts as new: the
            # queue would never end.)
            if len(self._states) >= min(limit, MAX_DFA_STATES) or self._nodes >= EAGER_STATE_NODES:
                finished = False
                break
            self._build(state, queue)
        self.states_built = len(self._states)
        self.finished = finished
        if finished:
            # Every state has all its transitions: nothing is ever built on first use.
            self._nfa = None
            self._states = None

    def _state(self, nodes: set[int], settled: int) -> tuple[_Key, State, bool]:
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
        state: State = {}
        if value != none:
            state[""] = value
        if settled != none:
            state["~"] = settled
        if kept:
            state["#"] = key
        if len(states) < MAX_DFA_STATES and self._nodes < MAX_STATE_NODES:
            states[key] = state
            self._nodes += len(kept)
        return key, state, True

    def _build(self, state: State, queue: list[State]) -> None:
        """Give `state` all its transitions (queueing new states), then mark it built."""
        nfa = self._nfa
        assert nfa is not None
        nodes, settled = state["#"]
        literal = {ch for n in nodes for ch in nfa.edges[n]}
        # A digit on no literal edge leads where any other such digit does (through `?` and
        # `*` only), so that target is worked out once, when first needed (a state made and
        # not queued would never be built).
        wide = any(nfa.wide[n] for n in nodes)
        default: tuple[_Key, State, bool] | None = None
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

    def fill(self, state: State, ch: str) -> State:
        """The transition of a state not built yet on `ch`, built now and kept if it may."""
        states = self._states
        assert states is not None and self._nfa is not None
        nodes, settled = state["#"]
        key, target, _ = self._state(self._nfa.targets(nodes, ch), settled)
        if key in states:  # past the cap, kept nowhere: built again next time
            state[ch] = target
        return target

    def after(self, prefix: str) -> State | None:
        """The state a walk reaches after `prefix` if it is built and not settled, else None."""
        state = self.start
        for ch in prefix:
            target = state.get(ch)
            if target is None:
                return None
            state = target
        return state

    def value(self, number: str, state: State | None = None) -> int:
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


class BitNfa:
    """Patterns matched by simulating their NFA with bit operations: no states to build.

    The fallback for patterns whose DFA would not fit its budget (many patterns with a `*`
    before their end multiply each other's states). Each pattern of m tokens owns m + 1 bits,
    one per gap between its tokens; a set bit means "the tokens before this gap matched what
    was read so far". A digit moves every bit whose next token takes it one place on, keeps
    the bits after a `*` (which takes any digits), and a bit before a `*` also sets the one
    after it (a `*` may take none). A walk costs a few operations on one integer per digit,
    whatever the number of patterns (the integer grows by a word per 64 tokens).
    """

    __slots__ = ("_combine", "_start", "_moves", "_star_next", "_star_after", "_final_all", "_at")

    def __init__(self, patterns: Iterable[tuple[int, str]], combine: Combine) -> None:
        self._combine = combine
        # Sorted by value, so that for LOWEST the lowest final bit is the lowest value.
        ordered = sorted(patterns)
        size = sum(len(pattern) + 1 for _, pattern in ordered) // 8 + 1
        # Masks are set bit by bit in bytes and made ints once: or-ing bits into a growing int
        # copies it each time (quadratic in the number of patterns).
        start, star_next, star_after, final_all = (bytearray(size) for _ in range(4))
        moves = {ch: bytearray(size) for ch in DIGITS}
        at: dict[int, int] = {}  # final bit's position -> the value of its pattern
        offset = 0
        for value, pattern in ordered:
            _set(start, offset)
            for position, token in enumerate(pattern, start=offset):
                if token == "*":
                    _set(star_next, position)
                    _set(star_after, position + 1)
                elif token == "?":
                    for mask in moves.values():
                        _set(mask, position)
                else:
                    _set(moves[token], position)
            final = offset + len(pattern)
            _set(final_all, final)
            at[final] = value
            offset = final + 1
        first, self._star_next = _int(start), _int(star_next)
        self._start = first | (first & self._star_next) << 1
        self._moves = {ch: _int(mask) for ch, mask in moves.items()}
        self._star_after = _int(star_after)
        self._final_all = _int(final_all)
        self._at = at

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
        if combine is LOWEST:  # final bits ascend with the values: the lowest bit is first
            return self._at[(ended & -ended).bit_length() - 1] if ended else combine.none
        found = combine.none
        while ended:
            lowest = ended & -ended
            found = combine.join(found, self._at[lowest.bit_length() - 1])
            ended ^= lowest
        return found


def _set(mask: bytearray, position: int) -> None:
    mask[position >> 3] |= 1 << (position & 7)


def _int(mask: bytearray) -> int:
    return int.from_bytes(mask, "little")
