"""STARFACE number patterns, and a list of them compiled for lookups that do not grow with it.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or more
digits), and is matched against the whole number. Spaces, `-`, `/` and parentheses that people
paste are dropped; any other character is refused with a message naming the line and it.

`PatternList` answers "which is the first pattern in list order that matches any form of this
number" in time that depends on the number's length, not on how many patterns the list holds:
- each pattern is expanded once (`expand`) into patterns on the number's one canonical form
  (`NumberPlan.canonical`, the international form), so a lookup is one search, not one per
  form;
- the expanded patterns go where their shape needs no loop over patterns: exact numbers in a
  dict; suffixes (`*2515906850`, the form the product text recommends) in a trie of reversed
  suffixes walked along the reversed number; everything read from the start (prefixes like
  `0251*`, `?` anywhere, `*` inside) in one deterministic automaton (DFA) built by subset
  construction from a trie of the patterns. (Suffixes stay out of the DFA: a leading `*`
  keeps its NFA node alive in every state and would multiply the states.)
- each trie node and DFA state holds the lowest list position that ends there, so a walk
  answers with the first pattern in list order; a part is skipped when it cannot beat what
  was found already (a list led by `*` answers at once), and a DFA walk stops once its answer
  is settled.
The DFA is built eagerly when the list is compiled, up to a budget of states that real lists
stay far below; a pathological list gets the rest built on first use and kept (up to a cap).
That needs no lock: a transition is a pure function of its state, so two threads racing
compute the same entry.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .numbers import NumberPlan, strip_formatting

DIGITS = "0123456789"
_PATTERN_CHARACTERS = frozenset(DIGITS + "+?*")

# DFA states built when a list is compiled; beyond this they are built on first use. Real
# lists stay far below it (10,000 varied patterns need about 25,000).
EAGER_DFA_STATES = 100_000
# Hard cap on cached states so a hostile list cannot eat memory on the call path; past it,
# transitions are computed each time (still correct, just slower).
MAX_DFA_STATES = 250_000


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


# "No pattern": higher than every key, so that lookups compare ints without None checks.
_NEVER = sys.maxsize

# A state of the automaton is a dict: digit -> next state, "" -> the lowest key of a pattern
# accepted there (_NEVER: none), "#" -> what it stands for (to build missing transitions).
# A final state (whatever follows, the answer stays its "") has "!" and no transitions.
_State = dict[str, Any]
_DEAD: _State = {"": _NEVER, "#": (frozenset(), _NEVER), "!": True}


class _Automaton:
    """A DFA over patterns read from the start, answering the lowest key of a matching one.

    Built by subset construction from a trie of the patterns (the NFA). A pattern ending in a
    `*` with nothing after it (`0251*`, also inside `?`-patterns) accepts everything once
    reached: the DFA state keeps its key as "sticky" instead of the looping NFA node, and
    drops every NFA node that can only lead to higher keys. So a prefix pattern costs a
    state per trie node, and a walk stops as soon as its answer is settled.
    """

    __slots__ = ("_nodes", "_below", "_states", "start")

    def __init__(self, patterns: Iterable[tuple[int, str]]) -> None:
        # The NFA is a trie over the tokens; a `*` edge leads (by epsilon) to a star node that
        # loops on every digit.
        self._nodes: list[_Node] = [_Node()]
        for index, pattern in patterns:
            node = 0
            for token in pattern:
                node = self._child(node, token)
            end = self._nodes[node]
            if end.accept is None or index < end.accept:
                end.accept = index
        self._below = self._lowest_below()
        self._states: dict[tuple[frozenset[int], int], _State] = {(frozenset(), _NEVER): _DEAD}
        self.start = self._state(self._closure({0}), _NEVER)
        # Breadth first, so that the short common beginnings are built before the budget ends.
        queue = [self.start]
        for state in queue:
            if len(self._states) >= EAGER_DFA_STATES:
                break
            if "!" in state:
                continue
            for ch in DIGITS:
                if ch not in state:
                    target = self._fill(state, ch)
                    if len(target) == 2:  # new and not final: only "" and "#"
                        queue.append(target)

    def _child(self, node: int, token: str) -> int:
        current = self._nodes[node]
        if token == "*":
            if current.star is None:
                current.star = self._new_node(is_star=True)
            return current.star
        if token == "?":
            if current.any_digit is None:
                current.any_digit = self._new_node()
            return current.any_digit
        child = current.edges.get(token)
        if child is None:
            child = current.edges[token] = self._new_node()
        return child

    def _new_node(self, *, is_star: bool = False) -> int:
        self._nodes.append(_Node(is_star=is_star))
        return len(self._nodes) - 1

    def _lowest_below(self) -> list[int]:
        """Per NFA node, the lowest key it or any node after it accepts."""
        below = [_NEVER] * len(self._nodes)
        # Children always have higher numbers than their parent (a star node loops on itself).
        for n in range(len(self._nodes) - 1, -1, -1):
            node = self._nodes[n]
            lowest = node.accept if node.accept is not None else _NEVER
            for child in (*node.edges.values(), node.any_digit, node.star):
                if child is not None and child != n:
                    lowest = min(lowest, below[child])
            below[n] = lowest
        return below

    def _is_sink(self, n: int) -> bool:
        node = self._nodes[n]
        return (
            node.is_star
            and node.accept is not None
            and not node.edges
            and node.any_digit is None
            and node.star is None
        )

    def _closure(self, nodes: set[int]) -> frozenset[int]:
        todo = list(nodes)
        while todo:
            star = self._nodes[todo.pop()].star
            if star is not None and star not in nodes:
                nodes.add(star)
                todo.append(star)
        return frozenset(nodes)

    def _targets(self, nodes: frozenset[int], ch: str) -> frozenset[int]:
        targets: set[int] = set()
        for n in nodes:
            node = self._nodes[n]
            literal = node.edges.get(ch)
            if literal is not None:
                targets.add(literal)
            if node.any_digit is not None:
                targets.add(node.any_digit)
            if node.is_star:
                targets.add(n)
        return self._closure(targets)

    def _state(self, nodes: frozenset[int], sticky: int) -> _State:
        """The state for NFA `nodes` with `sticky` settled; made if new (kept up to the cap)."""
        for n in nodes:
            accept = self._nodes[n].accept
            if accept is not None and self._is_sink(n):
                sticky = min(sticky, accept)
        kept = frozenset(n for n in nodes if self._below[n] < sticky and not self._is_sink(n))
        key = (kept, sticky)
        known = self._states.get(key)
        if known is not None:
            return known
        accepts = [a for a in (self._nodes[n].accept for n in kept) if a is not None]
        state: _State = {"": min(sticky, *accepts) if accepts else sticky, "#": key}
        if not kept:
            state["!"] = True
        if len(self._states) < MAX_DFA_STATES:
            self._states[key] = state
        return state

    def _fill(self, state: _State, ch: str) -> _State:
        """The transition of `state` on `ch`, built now and kept in the state."""
        nodes, sticky = state["#"]
        target = self._state(self._targets(nodes, ch), sticky)
        # Publish only a finished target: a concurrent walk may read it at once.
        if target["#"] in self._states:
            state[ch] = target
        return target

    def first(self, number: str) -> int:
        """The lowest key of a pattern matching the whole `number`, or _NEVER."""
        state = self.start
        for ch in number:
            target = state.get(ch)
            if target is None:
                if "!" in state:  # settled: nothing that follows can change the answer
                    break
                target = self._fill(state, ch)
            state = target
        return state[""]


class _Node:
    __slots__ = ("edges", "any_digit", "star", "is_star", "accept")

    def __init__(self, *, is_star: bool = False) -> None:
        self.edges: dict[str, int] = {}
        self.any_digit: int | None = None
        self.star: int | None = None
        self.is_star = is_star
        self.accept: int | None = None


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
      international prefix, country code and Q (Q on the national digits).
    A NATIONAL `*R` from a pattern that is itself `*R` is left out: the DIRECT one matches
    every number it would. Q and R must match at least one digit, as a form always has one.
    """
    intl = plan.international_prefix
    if pattern.startswith("+"):
        rest = _non_empty(pattern[1:])
        return [(PLUS, intl + rest)] if rest is not None else []
    result = [(DIRECT, pattern)]
    for quotient in sorted(left_quotient(pattern, plan.national_prefix)):
        if pattern.startswith("*") and quotient == pattern:
            continue
        rest = _non_empty(quotient)
        if rest is not None:
            result.append((NATIONAL, intl + plan.country_code + rest))
    return result


class PatternList:
    """A list of patterns compiled once; `first_match` finds the first one matching a number.

    Every pattern is expanded (see `expand`) so that one lookup of the number's canonical form
    answers for all its forms. Lookup time depends on the number's length, not on the length
    of the list (see the module docstring). Read-only after construction except for the
    automaton's cache, which is safe to fill from many threads.
    """

    __slots__ = (
        "patterns",
        "plan",
        "_canonical",
        "_exact",
        "_star",
        "_suffixes",
        "_automaton",
        "_suffix_min",
        "_automaton_min",
    )

    def __init__(self, patterns: Sequence[str], where: str, plan: NumberPlan) -> None:
        """Compile `patterns` (as written); ConfigError naming `where`, the line and character.

        Line n is the n-th entry, counted from 1, as in the form's one-pattern-per-line list.
        """
        self.patterns: tuple[str, ...] = tuple(patterns)
        self.plan = plan
        self._exact: dict[str, int] = {}
        self._star = _NEVER  # key of the first `*`
        suffixes: dict[str, Any] = {}  # trie of "0586095152" for `*2515906850`, reversed
        from_start: list[tuple[int, str]] = []
        self._canonical = tuple(
            parse_pattern(text, f"{where} line {line}")
            for line, text in enumerate(self.patterns, start=1)
        )
        for index, canonical in enumerate(self._canonical):
            for kind, pattern in expand(canonical, plan):
                # One key orders entries by list position first, then by kind.
                key = index * _KINDS + kind
                if "?" not in pattern and "*" not in pattern:
                    self._exact.setdefault(pattern, key)
                elif pattern == "*":
                    self._star = min(self._star, key)
                elif pattern.startswith("*") and "?" not in pattern and pattern.count("*") == 1:
                    _trie_insert(suffixes, pattern[:0:-1], key)
                else:  # prefixes (`0251*`), `?` anywhere, `*` inside
                    from_start.append((key, pattern))
        self._suffix_min = _propagate_best(suffixes)
        self._suffixes = suffixes
        self._automaton = _Automaton(from_start)
        self._automaton_min = min((key for key, _ in from_start), default=_NEVER)

    def __len__(self) -> int:
        return len(self.patterns)

    def first_key(self, canonical: str) -> int | None:
        """index * 3 + kind of the first entry matching the whole `canonical`, or None.

        `canonical` must come from `plan.canonical` (so it is digits only).
        """
        best = self._exact.get(canonical, _NEVER)
        if self._star < best:
            best = self._star
        # Each part is only searched while it could still hold a better (lower) key, so a
        # list led by `*` answers at once.
        if self._suffix_min < best:
            node = self._suffixes
            for ch in reversed(canonical):
                child = node.get(ch)
                if child is None:
                    break
                node = child
            if node[""] < best:
                best = node[""]
        if self._automaton_min < best:
            found = self._automaton.first(canonical)
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
        return Match(index, self.patterns[index], self._canonical[index], kind, canonical)


def _trie_insert(trie: dict[str, Any], key: str, index: int) -> None:
    """Mark the node of `key` with `index` under "" (lowest index wins)."""
    node = trie
    for ch in key:
        node = node.setdefault(ch, {})
    node[""] = min(node.get("", _NEVER), index)


def _propagate_best(root: dict[str, Any]) -> int:
    """Give every node, under "", the lowest index marked on the path from the root to it.

    Returns the lowest index in the trie (_NEVER if it is empty).
    """
    lowest = _NEVER
    stack: list[tuple[dict[str, Any], int]] = [(root, _NEVER)]
    while stack:
        node, above = stack.pop()
        best = min(node.get("", _NEVER), above)
        node[""] = best
        lowest = min(lowest, best)
        stack.extend((child, best) for key, child in node.items() if key)
    return lowest
