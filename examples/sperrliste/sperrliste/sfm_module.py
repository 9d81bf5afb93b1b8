"""Sperrliste's side of the host contract (docs/MODULE_CONTRACT.md): plain functions over an
instance's variables by the descriptor's names (`callers`, `answer`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .matcher import CallerList, PatternError, Plan, clean

ANSWERS = ("busy", "voicemail")


class InstanceRefused(ValueError):
    """A refused configuration: `field` the variable, `line` the list entry (1-based),
    `problems` every refused entry."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems[0]["message"])
        self.problems = problems
        self.field = problems[0].get("field")
        self.line = problems[0].get("line")


def check_instance(variables: Mapping[str, Any], source: str) -> dict[str, Any]:
    """`callers`: a list of STARFACE wildcard patterns (kept as written, blank entries
    dropped); `answer`: busy or voicemail."""
    problems: list[dict[str, Any]] = []
    callers = variables.get("callers", [])
    if not isinstance(callers, list | tuple):
        problems.append({"field": "callers", "line": None, "message": "callers must be a list"})
        callers = []
    kept = []
    for line, pattern in enumerate(callers, start=1):
        try:
            clean(pattern)
        except PatternError as exc:
            problems.append({"field": "callers", "line": line, "message": f"callers: {exc}"})
            continue
        kept.append(pattern.strip())
    answer = variables.get("answer", "busy")
    if answer not in ANSWERS:
        problems.append(
            {
                "field": "answer",
                "line": None,
                "message": f"answer is {answer!r}; it must be busy or voicemail",
            }
        )
    if problems:
        raise InstanceRefused(problems)
    return {"callers": kept, "answer": answer}


def explain(
    variables: Mapping[str, Any],
    called: str,
    caller: str,
    plan: Mapping[str, str],
    lang: str = "de",
) -> dict[str, Any]:
    """Whether the caller is on this instance's list, and which entry matched."""
    callers = list(variables.get("callers", []))
    listed = CallerList(callers, Plan.of(plan))
    hit = listed.first_match(caller, callers)
    answer = variables.get("answer", "busy")
    if hit is None:
        text = (
            f"Anrufer {caller} steht nicht auf der Sperrliste."
            if lang == "de"
            else f"Caller {caller} is not on the block list."
        )
        return {"match": False, "explanation": text}
    text = (
        f"Anrufer {caller} passt auf {hit!r}: Antwort {answer}."
        if lang == "de"
        else f"Caller {caller} matches {hit!r}: answer {answer}."
    )
    return {"match": True, "explanation": text}


# ---- call hook ------------------------------------------------------------------------------


class HostApi(Protocol):
    def register_call_hook(self, hook: Any) -> None: ...

    def instance_log(self, instance: str, level: str, message: str) -> None: ...


@dataclass(frozen=True)
class Answer:
    """What the host reads: the flags it knows (only the two answers are ever on here)."""

    answer_busy: bool = False
    answer_voicemail: bool = False
    applied: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignore_dnd: bool = False
    ignore_redirects: bool = False
    ignore_redirects_to_caller: bool = False
    force_call_waiting: bool = False


NO_ANSWER = Answer()


class CallHook:
    """Asked once per call to a user for all active instances; swapped whole on a change."""

    def __init__(self, api: HostApi) -> None:
        self._api = api
        self._lists: tuple[tuple[str, str, CallerList], ...] = ()

    def set_instances(
        self, instances: Sequence[Mapping[str, Any]], plan: Mapping[str, str]
    ) -> dict[str, str]:
        compiled = []
        refused: dict[str, str] = {}
        for instance in instances:
            name = str(instance["name"])
            try:
                checked = check_instance(instance.get("variables") or {}, f"instance {name!r}")
                compiled.append(
                    (name, checked["answer"], CallerList(checked["callers"], Plan.of(plan)))
                )
            except Exception as exc:  # a stored config this build refuses: skip the instance
                refused[name] = str(exc)
        self._lists = tuple(compiled)
        return refused

    def on_call(self, called: str, caller: str | None) -> Answer:
        applied = []
        busy = voicemail = False
        for name, answer, listed in self._lists:
            if listed.matches(caller):
                applied.append((name, (f"answer_{answer}",)))
                busy = busy or answer == "busy"
                voicemail = voicemail or answer == "voicemail"
                self._api.instance_log(name, "INFO", f"{caller} -> {called}: blocked ({answer})")
        if not applied:
            return NO_ANSWER
        return Answer(answer_busy=busy, answer_voicemail=voicemail, applied=tuple(applied))


def start(api: HostApi) -> None:
    """Register Sperrliste's call hook with the host (once per installed build)."""
    api.register_call_hook(CallHook(api))
