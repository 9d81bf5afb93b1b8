"""One instance's rule: compiled once per configuration change, then decided per call.

A rule matches when the called number is in "Aktiv für" and not in "Ausnahmen" of the called
numbers, AND the caller number is in "Aktiv für" and not in "Ausnahmen" of the caller numbers.
A number is "in" a list when any of its forms (see `breakthrough.number_forms`) matches a pattern.
An empty "Aktiv für" matches nothing; a withheld caller matches nothing, not even `*`; an
inactive instance never matches. Every decision comes with an explanation naming the list and
the pattern that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import InstanceConfig
from .number_forms import NumberPlan, check_number, is_withheld
from .pattern_index import Match, PatternList

# The product's own words for the two lists of each side.
ACTIVE_LABEL = "Aktiv für"
EXCEPTIONS_LABEL = "Ausnahmen"


@dataclass(frozen=True)
class Decision:
    """Whether the rule matched, the effects it switches on (empty if not), and why."""

    match: bool
    effects: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class Side:
    """One side (called or caller) of a rule: its two compiled lists."""

    name: str  # "called" or "caller"
    active: PatternList
    exceptions: PatternList


@dataclass(frozen=True)
class SideResult:
    """How one number fared against one side: the deciding patterns, if any."""

    number: str  # as signalled
    withheld: bool
    active: Match | None
    exception: Match | None

    @property
    def passes(self) -> bool:
        return self.active is not None and self.exception is None


@dataclass(frozen=True, eq=False)
class CompiledInstance:
    """An instance ready for calls: its four lists compiled, its effects worked out.

    Immutable once made; build a new one when the configuration changes.
    """

    config: InstanceConfig
    plan: NumberPlan
    called: Side
    caller: Side
    effects: tuple[str, ...]  # switched-on settings, in form order

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def log_level(self) -> str:
        return self.config.log_level

    @property
    def active(self) -> bool:
        return self.config.active

    def build_lists(self) -> None:
        """Build the four lists' lookup structures now rather than on their first lookup.

        For callers that look up on the call path (the hook's explanations), so that no call
        builds them.
        """
        for side in (self.called, self.caller):
            side.active.build()
            side.exceptions.build()


def compile_instance(cfg: InstanceConfig, plan: NumberPlan) -> CompiledInstance:
    """Compile `cfg`'s four lists for `plan`; ConfigError (naming field and line) if malformed.

    Done once per configuration change, so that a decision costs about the same for 1 or
    10,000 patterns per list (see bench/rules.py). The patterns are read and checked here;
    each list's lookup structures are built on its first lookup, or by `build_lists`.
    """
    source = f"instance {cfg.name!r}"
    return CompiledInstance(
        config=cfg,
        plan=plan,
        called=Side(
            "called",
            PatternList(cfg.called_active, f"{source}: numbers.called.active", plan),
            PatternList(cfg.called_exceptions, f"{source}: numbers.called.exceptions", plan),
        ),
        caller=Side(
            "caller",
            PatternList(cfg.caller_active, f"{source}: numbers.caller.active", plan),
            PatternList(cfg.caller_exceptions, f"{source}: numbers.caller.exceptions", plan),
        ),
        effects=cfg.settings.switched_on(),
    )


def check_side(side: Side, number: str | None, canonical: str | None) -> SideResult:
    """Match a number (its `plan.canonical` form; None: withheld) against one side's lists.

    The exceptions are only looked at when "Aktiv für" matched.
    """
    if number is None or canonical is None:
        return SideResult(number or "", True, None, None)
    active = side.active.first_match(canonical)
    exception = side.exceptions.first_match(canonical) if active is not None else None
    return SideResult(number, False, active, exception)


def decide_canonical(
    compiled: CompiledInstance,
    called: str,
    called_canonical: str,
    caller: str | None,
    caller_canonical: str | None,
) -> tuple[bool, SideResult | None, SideResult | None]:
    """The rule on checked numbers whose canonical forms are known (None: withheld caller).

    For the hook, which works the canonical forms out once per call for all instances. The
    AND stops early: an inactive instance looks at neither number (both results None), and a
    called number that does not pass leaves the caller unchecked (caller result None).
    """
    if not compiled.active:
        return False, None, None
    called_result = check_side(compiled.called, called, called_canonical)
    if not called_result.passes:
        return False, called_result, None
    caller_result = check_side(compiled.caller, caller, caller_canonical)
    return caller_result.passes, called_result, caller_result


def decide_signalled(
    compiled: CompiledInstance, called: str, caller: str | None
) -> tuple[bool, SideResult | None, SideResult | None]:
    """`decide_canonical` for the numbers as signalled: each checked (ConfigError naming a
    malformed one) and put in its canonical form; a withheld caller stays withheld."""
    plan = compiled.plan
    called_clean = check_number(called, "called number")
    if is_withheld(caller):
        caller_clean = caller_canonical = None
    else:
        caller_clean = check_number(caller or "", "caller number")
        caller_canonical = plan.canonical_of_checked(caller_clean)
    return decide_canonical(
        compiled,
        called_clean,
        plan.canonical_of_checked(called_clean),
        caller_clean if caller_clean is not None else caller,
        caller_canonical,
    )


def decide(compiled: CompiledInstance, called: str, caller: str | None) -> Decision:
    """The rule's decision for one call, with its effects and explanation.

    A withheld caller (None, "", "anonymous", ...) gives no match, a normal answer. A
    malformed number raises ConfigError naming it.
    """
    match, called_result, caller_result = decide_signalled(compiled, called, caller)
    return Decision(
        match=match,
        effects=compiled.effects if match else (),
        explanation=explain(compiled, called_result, caller_result),
    )


def _describe_side(side: Side, result: SideResult, plan: NumberPlan) -> str:
    who = side.name
    if result.withheld:
        shown = f" ({result.number!r})" if result.number else ""
        return f"{who} is withheld{shown}, which no pattern matches, not even '*'"
    number = result.number

    def via(found: Match) -> str:
        form = found.form(plan, number)
        return f" (as {form})" if form != number else ""

    if result.active is None:
        if not len(side.active):
            return f"{who} {number}: '{ACTIVE_LABEL}' is empty, which matches nothing"
        return f"{who} {number} matched no '{ACTIVE_LABEL}' pattern"
    text = (
        f"{who} {number} matched '{ACTIVE_LABEL}' pattern '{result.active.pattern}'"
        f"{via(result.active)}"
    )
    if result.exception is None:
        return text + f" and no '{EXCEPTIONS_LABEL}'"
    return (
        text + f" but also '{EXCEPTIONS_LABEL}' pattern '{result.exception.pattern}'"
        f"{via(result.exception)}, which wins"
    )


def explain(
    compiled: CompiledInstance, called: SideResult | None, caller: SideResult | None
) -> str:
    """The explanation of a decision: each side's deciding list and pattern, then the verdict."""
    if called is None:
        return f"instance {compiled.name!r} is inactive (active = false): no match"
    plan = compiled.plan
    said = _describe_side(compiled.called, called, plan)
    if caller is None:
        return f"{said}, so the caller was not looked at: no match"
    said += "; " + _describe_side(compiled.caller, caller, plan)
    if not caller.passes:
        return f"{said}: no match"
    effects = ", ".join(compiled.effects) if compiled.effects else "no settings switched on"
    return f"{said}: match ({effects})"
