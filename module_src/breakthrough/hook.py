"""The module's call hook: every instance decides alone, and their effects add up.

The host calls `BreakthroughHook.on_call` on the call path (stage
PostTargetDeterminationIncoming, user targets only). Everything it needs is compiled before
the call: one `InstanceIndex` decides all instances with one lookup per number and side, and
the answer for each set of matching instances is made once and kept. All of it is swapped
whole on a configuration change, so a call in flight keeps what it started with and nothing
on the call path takes a lock. Every breakthrough is logged at INFO (the default level) in the
log of each instance that matched, so the log names each; an instance that logs its decisions
(DEBUG, TRACE) also gets the explanation of `rules.decide`. A call that matches no instance
costs nothing per instance unless some instance logs at DEBUG or TRACE. Log lines go to the
host's sink, which hands them to a writer off the call path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from . import form
from .errors import ConfigError
from .index import InstanceIndex
from .rules import CompiledInstance, decide

# Log levels from least to most verbose, as the form offers them (ERROR ... TRACE).
LOG_LEVELS: tuple[str, ...] = form.field("log_level").choices
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}
BREAKTHROUGH_LEVEL = "INFO"  # a breakthrough (a matching instance) is logged at this level
MATCH_LEVEL = "DEBUG"  # the explanation of a matching decision at this
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
    """An instance with what on_call needs precomputed (its bit, levels, contributions)."""

    compiled: CompiledInstance
    bit: int  # its bit in InstanceIndex.matching
    logs_breakthrough: bool
    logs_match: bool
    logs_no_match: bool
    logs_errors: bool
    ignore_dnd: bool
    ignore_redirects: bool
    ignore_redirects_to_caller: bool
    force_call_waiting: bool
    applied: tuple[str, tuple[str, ...]]


def _prepare(compiled: CompiledInstance, position: int) -> _Prepared:
    settings = compiled.config.settings
    return _Prepared(
        compiled=compiled,
        bit=1 << position,
        logs_breakthrough=level_enabled(compiled.log_level, BREAKTHROUGH_LEVEL),
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


# Answers kept per set of matching instances; a cap, so that many instances cannot grow it
# without bound (past it, answers are made per call: still right, a little slower).
MAX_CACHED_ANSWERS = 4096


class _Setup:
    """Everything a call reads, made whole when the instances change and then only read.

    (The answer cache is filled on use; two threads filling one entry store equal answers.)
    """

    __slots__ = (
        "prepared",
        "index",
        "matching",
        "logged",
        "announced",
        "explained",
        "warned",
        "answers",
    )

    def __init__(self, instances: Sequence[CompiledInstance]) -> None:
        self.prepared = tuple(_prepare(c, i) for i, c in enumerate(instances))
        self.index = InstanceIndex(instances)
        self.matching = self.index.matching  # (read on every call: one attribute, not two)
        active = tuple(p for p in self.prepared if p.compiled.active)
        # Instances whose log keeps decisions: they get an explanation (the slow path, one
        # rules.decide each), so their own lists are built now, not on a call.
        self.explained = tuple(p for p in active if p.logs_match or p.logs_no_match)
        for p in self.explained:
            p.compiled.build_lists()
        # Instances whose log keeps breakthroughs, and their bits: a call writes to the log
        # only when one of them matched, or when some instance explains every decision.
        self.logged = tuple(p for p in active if p.logs_breakthrough)
        self.announced = sum(p.bit for p in self.logged)
        self.warned = tuple(p for p in active if p.logs_errors)
        self.answers: dict[int, HookAnswer] = {0: NO_CHANGE}

    def answer(self, matched: int) -> HookAnswer:
        """The added-up answer of the instances whose bits are set in `matched`."""
        known = self.answers.get(matched)
        if known is not None:
            return known
        chosen = [p for p in self.prepared if p.bit & matched]
        answer = HookAnswer(
            ignore_dnd=any(p.ignore_dnd for p in chosen),
            ignore_redirects=any(p.ignore_redirects for p in chosen),
            ignore_redirects_to_caller=any(p.ignore_redirects_to_caller for p in chosen),
            force_call_waiting=any(p.force_call_waiting for p in chosen),
            applied=tuple(p.applied for p in chosen),
        )
        if len(self.answers) < MAX_CACHED_ANSWERS:
            self.answers[matched] = answer
        return answer


class BreakthroughHook:
    """The hook object the host registers: decides a call for every active instance.

    All instances are decided together through one `InstanceIndex` (one lookup per number
    and side, whatever the number of instances and patterns); an instance whose log keeps
    decisions (DEBUG, TRACE) also gets its explanation from `rules.decide`.
    """

    def __init__(
        self, instances: Sequence[CompiledInstance] = (), log: InstanceLogSink | None = None
    ) -> None:
        self._log = log
        self._setup = _Setup(())
        self.replace_instances(instances)

    @property
    def instances(self) -> tuple[CompiledInstance, ...]:
        """The instances in use now."""
        return self._setup.index.instances

    def replace_instances(self, instances: Sequence[CompiledInstance]) -> None:
        """Use `instances` from the next call on; calls in flight finish with the old ones.

        Everything a call needs is built first and published in one assignment, so no lock
        is needed. Takes a few seconds for 10 instances of 4 x 10,000 patterns.
        """
        self._setup = _Setup(instances)

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        """The added-up effects of every active instance whose rule matches this call.

        Never raises for a number it cannot read: such a call is left alone (no instance
        matches) and each instance's log says why. A withheld caller matches nothing.
        """
        setup = self._setup  # one read: this call sticks to these instances
        try:
            matched = setup.matching(called, caller)
        except ConfigError as exc:  # a number that is not a number
            log = self._log
            if log is not None:
                for p in setup.warned:
                    log(p.compiled.name, ERROR_LEVEL, f"call left alone: {exc}")
            return NO_CHANGE
        if (matched & setup.announced or setup.explained) and self._log is not None:
            self._write_log(setup, matched, called, caller, self._log)
        answer = setup.answers.get(matched)
        return answer if answer is not None else setup.answer(matched)

    @staticmethod
    def _write_log(
        setup: _Setup, matched: int, called: str, caller: str | None, log: InstanceLogSink
    ) -> None:
        """Log each breakthrough and each explained decision, in instance order, where the
        instance's level keeps it."""
        for p in setup.logged:
            if p.bit & matched:
                name, effects = p.applied
                log(
                    name,
                    BREAKTHROUGH_LEVEL,
                    f"breakthrough: caller {caller} to {called}: {', '.join(effects)}",
                )
                if p.logs_match:
                    log(
                        p.compiled.name, MATCH_LEVEL, decide(p.compiled, called, caller).explanation
                    )
            elif p.logs_no_match:
                log(p.compiled.name, NO_MATCH_LEVEL, decide(p.compiled, called, caller).explanation)
