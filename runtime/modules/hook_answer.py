"""A module call hook's answer as one string (the encoding `de.sfhost.core.HookAnswer` reads).

The answer is a flags character ('0' + flags) followed by the applied instances
"name US effect US effect RS name ..."; a failing hook is answered "!" message US traceback.
The module's own process (runtime/modules/module_process.py) answers every call this way, and
so do the in-process hooks of tests and benchmarks (runtime/routing_host.py).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Protocol

RS = "\x1e"  # separates the applied instances
US = "\x1f"  # separates the numbers, an instance from its effects, a failure from its detail


class HookAnswerLike(Protocol):
    """The fields of a module hook's answer the host reads."""

    @property
    def ignore_dnd(self) -> bool: ...
    @property
    def ignore_redirects(self) -> bool: ...
    @property
    def ignore_redirects_to_caller(self) -> bool: ...
    @property
    def force_call_waiting(self) -> bool: ...
    # answer_busy and answer_voicemail are optional (False when absent)
    @property
    def applied(self) -> Sequence[tuple[str, Sequence[str]]]: ...


class PythonCallHook(Protocol):
    """A module's call hook: called once per call (for a user target) for all its instances."""

    def on_call(self, called: str, caller: str | None) -> HookAnswerLike: ...


def encode_answer(answer: HookAnswerLike) -> tuple[int, str | None]:
    """The answer's flags and the applied-instances text (None when none)."""
    flags = (
        (1 if answer.ignore_dnd else 0)
        | (2 if answer.ignore_redirects else 0)
        | (4 if answer.ignore_redirects_to_caller else 0)
        | (8 if answer.force_call_waiting else 0)
        | (16 if getattr(answer, "answer_busy", False) else 0)
        | (32 if getattr(answer, "answer_voicemail", False) else 0)
    )
    applied = answer.applied
    if not applied:
        return flags, None
    return flags, RS.join(US.join((name, *effects)) for name, effects in applied)


_FLAG_CHARS = tuple(chr(ord("0") + flags) for flags in range(64))
# Answer texts of immutable answer objects, by identity (hooks tend to return the same few
# answer objects; encoding one costs about 0.5 µs). An entry holds its object, so its id
# cannot be reused while cached.
_ANSWER_TEXTS: dict[int, tuple[object, str]] = {}
_FROZEN_TYPES: dict[type, bool] = {}


def answer_text(hook: PythonCallHook, numbers: str) -> str:
    """The one-string answer of `hook` to the call `numbers` ("called" or "called US caller");
    never raises (whatever the hook raises, BaseException included, is a "!" answer)."""
    called, _, caller = numbers.partition(US)
    try:
        answer = hook.on_call(called, caller or None)
        cached = _ANSWER_TEXTS.get(id(answer))
        if cached is not None and cached[0] is answer:
            return cached[1]
        flags, applied = encode_answer(answer)
    except BaseException as exc:  # uploaded code: SystemExit and KeyboardInterrupt too
        message = f"{type(exc).__name__}: {exc}".replace(US, " ")
        return f"!{message}{US}{traceback.format_exc()}"
    text = _FLAG_CHARS[flags] if applied is None else _FLAG_CHARS[flags] + applied
    if _is_immutable_answer(answer):
        if len(_ANSWER_TEXTS) >= 256:
            _ANSWER_TEXTS.clear()
        _ANSWER_TEXTS[id(answer)] = (answer, text)
    return text


def _is_immutable_answer(answer: object) -> bool:
    """A frozen dataclass whose `applied` is a tuple of (str, tuple of str)."""
    cls = type(answer)
    frozen = _FROZEN_TYPES.get(cls)
    if frozen is None:
        params = getattr(cls, "__dataclass_params__", None)
        frozen = _FROZEN_TYPES[cls] = bool(params is not None and params.frozen)
    if not frozen:
        return False
    applied = getattr(answer, "applied", None)
    return type(applied) is tuple and all(
        type(entry) is tuple and type(entry[1]) is tuple for entry in applied
    )
