"""What the host calls in this module (docs/MODULE_CONTRACT.md): plain functions over the
instance's variables by the descriptor's names (form.toml's `variable`).

Config side: `check_instance`, `instance_from_file`, `instance_to_file`, `explain`. Each maps the
variables to the nested instance TOML of INTERFACES.md by form.toml's `key` and lets
`config.parse_instance` decide, so the rules that check a configuration are the rules that run it.

Call hook side: `start(api)` registers the hook through the host's Java module API; the hook
takes the active instances by their descriptor variables and decides every call for all of
them at once (`hook.BreakthroughHook`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from . import config, explanation, form, rules
from .config import ACTIVE_KEY, InstanceConfig, instance_to_mapping, parse_instance
from .errors import ConfigError
from .hook import BreakthroughHook, HookAnswer
from .number_forms import NumberPlan
from .rules import compile_instance
from .wildcards import parse_pattern

INSTANCE_KEYS = ("name", "description", ACTIVE_KEY)  # the host's fields, not variables
_LINE = re.compile(r"\bline (\d+)\b")


class InstanceRefused(ConfigError):
    """A refused configuration; `field` is the variable it concerns (None: the whole),
    `line` the list entry, `problems` every refused entry as {field, line, message}."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        line: int | None = None,
        problems: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.line = line
        self.problems = problems or [{"field": field, "line": line, "message": message}]


def _fields() -> tuple[form.Field, ...]:
    return form.fields()


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The instance TOML mapping of a flat one (instance fields and variables by name); a
    mapping that already has the instance TOML's shape (a row stored before variables) as is."""
    if "numbers" in flat or "settings" in flat:
        return dict(flat)
    mapping: dict[str, Any] = {k: flat[k] for k in INSTANCE_KEYS if k in flat}
    by_variable = {spec.variable: spec for spec in _fields()}
    for name, value in flat.items():
        if name in INSTANCE_KEYS:
            continue
        spec = by_variable.get(name)
        if spec is None:
            raise InstanceRefused(
                f"unknown variable {name!r}; the variables are: {', '.join(by_variable)}."
            )
        *tables, leaf = spec.key.split(".")
        node = mapping
        for table in tables:
            node = node.setdefault(table, {})
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return mapping


def _flat(cfg: InstanceConfig) -> dict[str, Any]:
    nested = instance_to_mapping(cfg)
    flat: dict[str, Any] = {k: nested[k] for k in INSTANCE_KEYS if k in nested}
    for spec in _fields():
        node: Any = nested
        for part in spec.key.split("."):
            node = node[part]
        flat[spec.variable] = node
    return flat


def _field_of(message: str) -> str | None:
    """The variable whose TOML key the message names first (the longest key at a place)."""
    found = [(message.find(spec.key), -len(spec.key), spec.variable) for spec in _fields()]
    hits = sorted(f for f in found if f[0] >= 0)
    return hits[0][2] if hits else None


def _refusal(exc: ConfigError, source: str) -> InstanceRefused:
    message = str(exc).removeprefix(f"{source}: ")
    line = _LINE.search(message)
    return InstanceRefused(message, _field_of(message), int(line.group(1)) if line else None)


def check_instance(variables: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The checked, normalised variables; InstanceRefused naming the field (and the line of a
    list; every refused line in `problems`)."""
    problems: list[dict[str, Any]] = []
    kept = dict(variables)  # the lists without their refused entries, to check the rest too
    for spec in _fields():
        value = variables.get(spec.variable)
        if spec.type != "LIST" or not isinstance(value, list | tuple):
            continue
        good = []
        for number, pattern in enumerate(value, start=1):
            try:
                # No line in the text: the host shows where the entry is (its form's line).
                parse_pattern(pattern, spec.label["de"])
            except ConfigError as exc:
                problems.append({"field": spec.variable, "line": number, "message": str(exc)})
            else:
                good.append(pattern)
        kept[spec.variable] = good
    try:
        cfg = parse_instance({"name": "-", **_nested(kept)}, source)
    except ConfigError as exc:
        refused = _refusal(exc, source)
        problems.append({"field": refused.field, "line": refused.line, "message": str(refused)})
    if problems:
        first = problems[0]
        raise InstanceRefused(first["message"], first["field"], first["line"], problems)
    checked = _flat(cfg)
    return {spec.variable: checked[spec.variable] for spec in _fields()}


def instance_from_file(mapping: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The instance TOML of INTERFACES.md -> name, description, active and the variables."""
    try:
        return _flat(parse_instance(mapping, source))
    except ConfigError as exc:
        raise _refusal(exc, source) from None


def instance_to_file(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Name, description, active and the variables -> the instance TOML of INTERFACES.md."""
    return instance_to_mapping(parse_instance(_nested(flat), "instance"))


def explain(
    variables: Mapping[str, Any],
    called: str,
    caller: str,
    plan: Mapping[str, str],
    lang: str = "de",
) -> dict[str, Any]:
    """Whether this instance's rule matches the call (`match`) and why (`explanation`: which
    list and pattern decided, in `lang`)."""
    cfg = parse_instance({"name": "-", **_nested(variables)}, "instance")
    number_plan = NumberPlan.from_mapping(dict(plan), "plan")
    try:
        match, text = explanation.explain(compile_instance(cfg, number_plan), called, caller, lang)
    except ConfigError as exc:
        return {"match": False, "explanation": str(exc)}
    return {"match": match, "explanation": text}


# ---- call hook (docs/MODULE_CONTRACT.md: start) ---------------------------------------------


class HostApi(Protocol):
    """What the host hands `start`: hook registration and the per-instance log."""

    def register_call_hook(self, hook: Any) -> None: ...

    def instance_log(self, instance: str, level: str, message: str) -> None: ...


def start(api: HostApi) -> None:
    """Register Breakthrough's call hook with the host (once per installed build)."""
    api.register_call_hook(CallHook(api.instance_log))


class CallHook:
    """The hook the host asks once per call: Breakthrough's decision for all instances."""

    def __init__(self, log: Any, hook: BreakthroughHook | None = None) -> None:
        self._hook = hook if hook is not None else BreakthroughHook((), log=log)
        # The call path calls the BreakthroughHook's own method (one Python call less per
        # call): that object stays, set_instances swaps the instances inside it.
        self.on_call: Callable[[str, str | None], HookAnswer] = self._hook.on_call

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
            try:
                mapping = _nested(instance.get("variables") or {})
                mapping["name"] = name
                mapping["log_level"] = instance.get("log_level") or mapping.get("log_level", "INFO")
                mapping["active"] = True
                cfg = config.parse_instance(mapping, f"instance {name!r}")
                compiled.append(rules.compile_instance(cfg, number_plan))
            except Exception as exc:  # a stored config this build refuses: skip that instance
                refused[name] = str(exc)
        self._hook.replace_instances(tuple(compiled))
        return refused
