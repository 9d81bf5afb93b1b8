"""STARFACE number patterns, and a list of them compiled for lookups that do not grow with it.

A pattern holds digits, an optional leading `+`, `?` (exactly one digit) and `*` (zero or more
digits), and is matched against the whole number. Spaces, `-`, `/` and parentheses that people
paste are dropped; any other character is refused with a message naming the line and it.

`PatternList` answers "which is the first pattern in list order that matches this number" in
time that depends on the number's length, not on how many patterns the list holds. It sorts the
patterns by shape, because each shape has a structure that needs no loop over patterns:

- exact numbers (no wildcard): a dict;
- prefixes (`0251*`, also `*` itself): a character trie walked along the number;
- suffixes (`*2515906850`, the form the product text recommends): a trie of the reversed
  suffixes walked along the reversed number;
- everything else (`?` anywhere, `*` inside): one deterministic automaton (DFA) built by
  subset construction from a trie of the patterns. The DFA is built eagerly when the list is
  compiled, up to a budget of states; a pathological list (which would have more) gets the rest
  built on first use and cached. Caching needs no lock: a transition is a pure function of the
  state, so two threads racing compute the same entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from breakthrough.errors import ConfigError
from breakthrough.numbers import strip_formatting

DIGITS = "0123456789"
_PATTERN_CHARACTERS = frozenset(DIGITS + "+?*")

# States of the general automaton built when a list is compiled; beyond this they are built
# on first use. Real lists stay far below it.
EAGER_DFA_STATES = 20_000
# Hard cap on cached states so a hostile list cannot eat memory on the call path; past it,
# transitions are computed each time (still correct, just slower).
MAX_DFA_STATES = 200_000

_DEAD = -1
_UNCACHED = -2


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


@dataclass(frozen=True)
class Match:
    """The first pattern of a list (in list order) that matched, and the form that it matched."""

    index: int  # position in the list, 0-based
    pattern: str  # as written in the configuration
    number: str  # the form of the number that matched


class _Automaton:
    """A DFA over the general patterns, answering the lowest index of a matching pattern."""

    __slots__ = ("_nodes", "_state_ids", "_states", "_transitions", "_accepts")

    def __init__(self, patterns: Iterable[tuple[int, str]]) -> None:
        # The NFA is a trie over the tokens; a `*` edge leads (by epsilon) to a star node that
        # loops on every digit. Per node: literal edges, '?' edge, star edge, is-star flag,
        # lowest index of a pattern ending there.
        self._nodes: list[_Node] = [_Node()]
        for index, pattern in patterns:
            node = 0
            for token in pattern:
                node = self._child(node, token)
            end = self._nodes[node]
            if end.accept is None or index < end.accept:
                end.accept = index
        self._state_ids: dict[frozenset[int], int] = {}
        self._states: list[frozenset[int]] = []
        self._transitions: list[dict[str, int]] = []
        self._accepts: list[int | None] = []
        self._state(self._closure(set([0])))
        self._step(0, "+")  # only the start can read a '+': it is only ever the first character
        # Breadth first (new states are appended), so the short common prefixes come first.
        state = 0
        while state < len(self._states) and len(self._states) < EAGER_DFA_STATES:
            for ch in DIGITS:
                self._step(state, ch)
            state += 1

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
        is_digit = ch in DIGITS
        for n in nodes:
            node = self._nodes[n]
            literal = node.edges.get(ch)
            if literal is not None:
                targets.add(literal)
            if is_digit:
                if node.any_digit is not None:
                    targets.add(node.any_digit)
                if node.is_star:
                    targets.add(n)
        return self._closure(targets)

    def _accept(self, nodes: frozenset[int]) -> int | None:
        accepts = [a for a in (self._nodes[n].accept for n in nodes) if a is not None]
        return min(accepts) if accepts else None

    def _state(self, nodes: frozenset[int]) -> int:
        """The id of the DFA state for `nodes`, added if new; _UNCACHED past the cap."""
        if not nodes:
            return _DEAD
        known = self._state_ids.get(nodes)
        if known is not None:
            return known
        if len(self._states) >= MAX_DFA_STATES:
            return _UNCACHED
        # Append the state's data before publishing its id, so a concurrent reader that sees
        # the id also sees the data.
        self._transitions.append({})
        self._accepts.append(self._accept(nodes))
        self._states.append(nodes)
        state = len(self._states) - 1
        self._state_ids[nodes] = state
        return state

    def _step(self, state: int, ch: str) -> int:
        target = self._state(self._targets(self._states[state], ch))
        if target != _UNCACHED:
            self._transitions[state][ch] = target
        return target

    def first(self, number: str) -> int | None:
        """The lowest index of a pattern matching the whole `number`, or None."""
        transitions = self._transitions
        state = 0
        for position, ch in enumerate(number):
            target = transitions[state].get(ch)
            if target is None:
                target = self._step(state, ch)
                if target == _UNCACHED:
                    return self._run_nfa(self._states[state], number[position:])
            if target == _DEAD:
                return None
            state = target
        return self._accepts[state]

    def _run_nfa(self, nodes: frozenset[int], rest: str) -> int | None:
        # Only past MAX_DFA_STATES: follow the sets without caching them.
        for ch in rest:
            nodes = self._targets(nodes, ch)
            if not nodes:
                return None
        return self._accept(nodes)


class _Node:
    __slots__ = ("edges", "any_digit", "star", "is_star", "accept")

    def __init__(self, *, is_star: bool = False) -> None:
        self.edges: dict[str, int] = {}
        self.any_digit: int | None = None
        self.star: int | None = None
        self.is_star = is_star
        self.accept: int | None = None


class PatternList:
    """A list of patterns compiled once; `first_match` finds the first one matching a number.

    Lookup time depends on the number's length, not on the length of the list (see the module
    docstring for how). Instances are read-only after construction except for the general
    automaton's cache, which is safe to fill from many threads.
    """

    __slots__ = ("patterns", "_exact", "_prefixes", "_suffixes", "_general")

    def __init__(self, patterns: Sequence[str], where: str) -> None:
        """Compile `patterns` (as written); ConfigError naming `where`, the line and character.

        Line n is the n-th entry, counted from 1, as in the form's one-pattern-per-line list.
        """
        self.patterns: tuple[str, ...] = tuple(patterns)
        self._exact: dict[str, int] = {}
        self._prefixes: dict[str, object] = {}  # trie; key "" holds the lowest index ending here
        self._suffixes: dict[str, object] = {}
        general: list[tuple[int, str]] = []
        for index, text in enumerate(self.patterns):
            pattern = parse_pattern(text, f"{where} line {index + 1}")
            if "?" not in pattern and "*" not in pattern:
                self._exact.setdefault(pattern, index)
            elif "?" in pattern or pattern.count("*") > 1:
                general.append((index, pattern))
            elif pattern.endswith("*"):  # includes "*" itself: the empty prefix
                _trie_insert(self._prefixes, pattern[:-1], index)
            elif pattern.startswith("*"):
                _trie_insert(self._suffixes, pattern[:0:-1], index)
            else:
                general.append((index, pattern))
        self._general = _Automaton(general) if general else None

    def __len__(self) -> int:
        return len(self.patterns)

    def first_index(self, number: str) -> int | None:
        """The index of the first pattern (list order) matching the whole `number`, or None.

        `number` must already be checked: digits with an optional leading `+`.
        """
        best = self._exact.get(number)
        # A wildcard stands for digits only, so a number with a leading '+' is matched by
        # neither the empty prefix (`*`) nor any `*suffix`: their `*` would have to cover '+'.
        plus = number.startswith("+")
        found = _trie_walk(self._prefixes, number, include_root=not plus)
        if found is not None and (best is None or found < best):
            best = found
        if self._suffixes and not plus:
            found = _trie_walk(self._suffixes, number[::-1], include_root=True)
            if found is not None and (best is None or found < best):
                best = found
        if self._general is not None:
            found = self._general.first(number)
            if found is not None and (best is None or found < best):
                best = found
        return best

    def first_match(self, forms: Sequence[str]) -> Match | None:
        """The first pattern (list order) that matches any of `forms`, with the form it matched.

        Forms are tried in the order given; a pattern earlier in the list wins over one that
        matches an earlier form.
        """
        best: int | None = None
        best_form = ""
        for form in forms:
            index = self.first_index(form)
            if index is not None and (best is None or index < best):
                best, best_form = index, form
        if best is None:
            return None
        return Match(best, self.patterns[best], best_form)


def _trie_insert(trie: dict[str, object], key: str, index: int) -> None:
    node = trie
    for ch in key:
        child = node.get(ch)
        if child is None:
            child = node[ch] = {}
        node = child  # type: ignore[assignment]
    known = node.get("")
    if known is None or index < known:  # type: ignore[operator]
        node[""] = index


def _trie_walk(trie: dict[str, object], text: str, *, include_root: bool) -> int | None:
    """The lowest index stored at any node on the path of `text` (each such key is a prefix)."""
    best = trie.get("") if include_root else None
    node = trie
    for ch in text:
        node = node.get(ch)  # type: ignore[assignment]
        if node is None:
            break
        found = node.get("")
        if found is not None and (best is None or found < best):  # type: ignore[operator]
            best = found
    return best  # type: ignore[return-value]
