"""The module's call hook: every instance decides alone, and their effects add up.

The host calls `BreakthroughHook.on_call` on the call path (stage
PostTargetDeterminationIncoming, user targets only). Everything it needs is compiled before
the call; the instance tuple is swapped whole on a configuration change, so a call in flight
keeps the tuple it started with and nothing on the call path takes a lock. Log lines go to
the host's sink, which hands them to a writer off the call path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from . import form
from .errors import ConfigError
from .numbers import NumberPlan, check_number, is_withheld
from .rules import CompiledInstance, decide_canonical, explain

# Log levels from least to most verbose, as the form offers them (ERROR ... TRACE).
LOG_LEVELS: tuple[str, ...] = form.field("log_level").choices
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}
MATCH_LEVEL = "DEBUG"  # a matching decision is logged at this level
NO_MATCH_LEVEL = "TRACE"  # a non-matching one at this
ERROR_LEVEL = "WARN"  # a number the hook cannot read


def level_enabled(instance_level: str, message_level: str) -> bool:
    """Whether an instance logging at `instance_level` keeps a message at `message_level`."""
    return _RANK.get(message_level, 0) <= _RANK.get(instance_level, _RANK["INFO"])


class InstanceLogSink(Protocol):
    """Where the hook's log lines go: one call per line, for the named instance's log."""

    def __call__(self, instance: str, level: str, message: str) -> None: ...


@dataclass(frozen=True)
class HookAnswer:
    """What the PBX should do differently for this call (all False: nothing).

    `ignore_redirects`: some matching instance bypasses every redirect;
    `ignore_redirects_to_caller`: some matching instance bypasses only redirects whose
    destination is the caller. `applied` lists (instance name, effects) for every instance
    whose rule matched, in instance order.
    """

    ignore_dnd: bool = False
    ignore_redirects: bool = False
    ignore_redirects_to_caller: bool = False
    force_call_waiting: bool = False
    applied: tuple[tuple[str, tuple[str, ...]], ...] = ()


NO_CHANGE = HookAnswer()


@dataclass(frozen=True)
class _Prepared:
    """An instance with what on_call needs precomputed (levels, contributions)."""

    compiled: CompiledInstance
    logs_match: bool
    logs_no_match: bool
    logs_errors: bool
    ignore_dnd: bool
    ignore_redirects: bool
    ignore_redirects_to_caller: bool
    force_call_waiting: bool
    applied: tuple[str, tuple[str, ...]]


def _prepare(compiled: CompiledInstance) -> _Prepared:
    settings = compiled.config.settings
    return _Prepared(
        compiled=compiled,
        logs_match=level_enabled(compiled.log_level, MATCH_LEVEL),
        logs_no_match=level_enabled(compiled.log_level, NO_MATCH_LEVEL),
        logs_errors=level_enabled(compiled.log_level, ERROR_LEVEL),
        ignore_dnd=settings.bypass_dnd,
        ignore_redirects=settings.bypass_redirects and not settings.bypass_self_redirects_only,
        ignore_redirects_to_caller=settings.bypass_redirects
        and settings.bypass_self_redirects_only,
        force_call_waiting=settings.force_call_waiting,
        applied=(compiled.name, compiled.effects),
    )


class BreakthroughHook:
    """The hook object the host registers: decides a call for every active instance."""

    def __init__(
        self, instances: Sequence[CompiledInstance] = (), log: InstanceLogSink | None = None
    ) -> None:
        self._log = log
        self._prepared: tuple[_Prepared, ...] = ()
        self.replace_instances(instances)

    @property
    def instances(self) -> tuple[CompiledInstance, ...]:
        """The instances in use now."""
        return tuple(p.compiled for p in self._prepared)

    def replace_instances(self, instances: Sequence[CompiledInstance]) -> None:
        """Use `instances` from the next call on; calls in flight finish with the old ones.

        The new tuple is built first and published in one assignment, so no lock is needed.
        """
        self._prepared = tuple(_prepare(c) for c in instances)

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        """The added-up effects of every active instance whose rule matches this call.

        Never raises for a number it cannot read: such a call is left alone (no instance
        matches) and each instance's log says why. A withheld caller matches nothing.
        """
        prepared = self._prepared  # one read: this call sticks to this tuple
        log = self._log
        # Numbers are read once per number plan, not once per instance.
        read_by_plan: dict[NumberPlan, _ReadNumbers | str] = {}
        ignore_dnd = ignore_redirects = ignore_to_caller = force_waiting = False
        applied: list[tuple[str, tuple[str, ...]]] = []
        for p in prepared:
            compiled = p.compiled
            if not compiled.config.active:
                continue
            plan = compiled.plan
            numbers = read_by_plan.get(plan)
            if numbers is None:
                numbers = read_by_plan[plan] = _read(plan, called, caller)
            if isinstance(numbers, str):  # a number that is not a number
                if log is not None and p.logs_errors:
                    log(compiled.name, ERROR_LEVEL, f"call left alone: {numbers}")
                continue
            match, called_result, caller_result = decide_canonical(compiled, *numbers)
            if match:
                applied.append(p.applied)
                ignore_dnd = ignore_dnd or p.ignore_dnd
                ignore_redirects = ignore_redirects or p.ignore_redirects
                ignore_to_caller = ignore_to_caller or p.ignore_redirects_to_caller
                force_waiting = force_waiting or p.force_call_waiting
                if log is not None and p.logs_match:
                    log(compiled.name, MATCH_LEVEL, explain(compiled, called_result, caller_result))
            elif log is not None and p.logs_no_match:
                log(compiled.name, NO_MATCH_LEVEL, explain(compiled, called_result, caller_result))
        if not applied:
            return NO_CHANGE
        return HookAnswer(
            ignore_dnd=ignore_dnd,
            ignore_redirects=ignore_redirects,
            ignore_redirects_to_caller=ignore_to_caller,
            force_call_waiting=force_waiting,
            applied=tuple(applied),
        )


_ReadNumbers = tuple[str, str, str | None, str | None]


def _read(plan: NumberPlan, called: str, caller: str | None) -> _ReadNumbers | str:
    """Both numbers checked and in canonical form (None for a withheld caller), or why not."""
    try:
        called_clean = check_number(called or "", "called number")
        if is_withheld(caller):
            return called_clean, plan.canonical_of_checked(called_clean), caller, None
        caller_clean = check_number(caller or "", "caller number")
    except ConfigError as exc:
        return str(exc)
    return (
        called_clean,
        plan.canonical_of_checked(called_clean),
        caller_clean,
        plan.canonical_of_checked(caller_clean),
    )
