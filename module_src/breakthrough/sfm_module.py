"""Breakthrough's side of the host contract (docs/MODULE_CONTRACT.md): plain functions the
host calls in this package, loaded from the installed build.

Call hook part: `start(api)` registers the hook through the host's Java module API; the hook
takes the active instances by their descriptor variables and decides every call for all of
them at once (`hook.BreakthroughHook`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from . import config, form, rules
from .hook import BreakthroughHook, HookAnswer
from .numbers import NumberPlan


class HostApi(Protocol):
    """What the host hands `start`: hook registration and the per-instance log."""

    def register_call_hook(self, hook: Any) -> None: ...

    def instance_log(self, instance: str, level: str, message: str) -> None: ...


def start(api: HostApi) -> None:
    """Register Breakthrough's call hook with the host (once per installed build)."""
    api.register_call_hook(CallHook(api.instance_log))


def _nested(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The instance mapping of config.parse_instance from the descriptor's variables (or the
    mapping itself when it already has the instance TOML's shape)."""
    if "numbers" in variables or "settings" in variables:
        return dict(variables)
    mapping: dict[str, Any] = {}
    for field in form.fields():
        if field.variable not in variables:
            continue
        node = mapping
        *parents, last = field.key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = variables[field.variable]
    return mapping


class CallHook:
    """The hook the host asks once per call: Breakthrough's decision for all instances."""

    def __init__(self, log: Any) -> None:
        self._hook = BreakthroughHook((), log=log)

    def set_instances(
        self, instances: Sequence[Mapping[str, Any]], plan: Mapping[str, str]
    ) -> dict[str, str]:
        """Use these active instances from the next call on; {name: why} for each refused
        one (the others are used)."""
        number_plan = NumberPlan(**dict(plan)) if plan else NumberPlan()
        compiled = []
        refused: dict[str, str] = {}
        for instance in instances:
            name = str(instance["name"])
            mapping = _nested(instance.get("variables") or {})
            mapping["name"] = name
            mapping["log_level"] = instance.get("log_level") or mapping.get("log_level", "INFO")
            mapping["active"] = True
            try:
                cfg = config.parse_instance(mapping, f"instance {name!r}")
                compiled.append(rules.compile_instance(cfg, number_plan))
            except Exception as exc:  # a stored config this build refuses: skip that instance
                refused[name] = str(exc)
        self._hook.replace_instances(tuple(compiled))
        return refused

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        return self._hook.on_call(called, caller)
