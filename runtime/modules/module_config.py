"""An installed module's configuration, as its build declares and checks it.

The variables and the form come from the build's `module-descriptor.xml` (sfm_format); the
checks, the instance-file shape and the call tester's explanation come from the build's own
Python code, its `sfm_module` (docs/MODULE_CONTRACT.md), run from the build folder in a
process of its own (module_client.py). So after an upgrade or a rollback, the form, the
validation and the explanation follow the build in use, and a check that hangs or holds the
GIL costs a refusal, never the host.

An instance here is `name`, `description`, `active` (the host's) and `variables` (by the
descriptor's names). The host checks what the descriptor says (types, choices, unknown names);
the module's `check_instance` decides the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.modules import loader
from runtime.modules.module_client import ModuleCodeProcess
from sfm_format.descriptor_form import ModuleForm, read_form

DESCRIPTOR_NAME = "module-descriptor.xml"
SHIM_MODULE = "sfm_module"
INSTANCE_KEYS = ("name", "description", "active")
# The host's convention: a module that declares a variable of this name sets the instance's
# log level with it (ERROR, WARN, INFO, DEBUG or TRACE); otherwise the level is INFO.
LOG_LEVEL_VARIABLE = "logLevel"
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
DEFAULT_LOG_LEVEL = "INFO"

_lock = threading.Lock()
_cache: dict[tuple[Path, int], ModuleConfig] = {}


@dataclass(frozen=True)
class Problem:
    """One refused part: the variable (or instance key) it concerns, the list line, the text."""

    message: str
    field: str | None = None
    line: int | None = None


class InstanceRefused(Refused):
    """A refused instance configuration, with every problem the module reported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


@dataclass(frozen=True)
class CheckedInstance:
    name: str
    description: str
    active: bool
    variables: dict[str, Any]

    @property
    def log_level(self) -> str:
        level = self.variables.get(LOG_LEVEL_VARIABLE)
        return level if isinstance(level, str) and level in LOG_LEVELS else DEFAULT_LOG_LEVEL

    def flat(self) -> dict[str, Any]:
        """The generic instance TOML: name, active, description (if any), the variables."""
        document: dict[str, Any] = {"name": self.name, "active": self.active}
        if self.description:
            document["description"] = self.description
        document.update(self.variables)
        return document


@dataclass(frozen=True)
class ModuleConfig:
    """The form and the configuration code of one installed build."""

    build_dir: Path
    form: ModuleForm
    code: ModuleCodeProcess | None = field(default=None)

    def has(self, name: str) -> bool:
        """Whether the module's shim has the function `name` (Refused when its code does not
        load)."""
        return self.code is not None and name in self.code.functions()

    def call(self, name: str, *args: Any) -> Any:
        """The shim's `name(*args)` in the build's process; raises what the module raised
        (module_client.ModuleRaised, with its `field`, `line`, `problems`; a ValueError for a
        refusal), or UploadedCodeFailed when it hangs or its process dies."""
        assert self.code is not None
        return self.code.call(name, *args)

    # ---- checking ------------------------------------------------------------------------

    def check_variables(self, given: Mapping[str, Any], source: str) -> dict[str, Any]:
        """The variables with the descriptor's defaults filled in, checked by their type and
        choices and then by the module's own `check_instance`."""
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for name in given:
            if name not in self.form.variables:
                known = ", ".join(self.form.variables) or "none"
                problems.append(
                    Problem(f"{source}: unknown field {name!r}; the variables are: {known}", name)
                )
        for name, variable in self.form.variables.items():
            value = given.get(name, variable.default)
            problem = _type_problem(variable.type, value)
            element = self.form.element(name)
            choices = element.choices if element is not None else ()
            if problem is None and choices and str(value) not in choices:
                problem = f"is {value!r}; it must be one of {', '.join(choices)}"
            if problem is not None:
                problems.append(Problem(f"{source}: {name} {problem}", name))
            values[name] = tuple(value) if isinstance(value, list) else value
        if problems:
            raise InstanceRefused(problems)
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        if not self.has("check_instance"):
            return values
        try:
            checked = self.call("check_instance", dict(values), source)
        except Exception as exc:  # uploaded code: its refusal, or its fault, names the field
            raise InstanceRefused(_problems_of(exc, source)) from None
        if not isinstance(checked, Mapping):
            raise InstanceRefused(
                [Problem(f"{source}: the module's check_instance returned no variables")]
            )
        return {name: checked.get(name, values[name]) for name in self.form.variables}

    def check(self, flat: Mapping[str, Any], source: str) -> CheckedInstance:
        """An instance from its flat mapping (name, description, active, variables by name)."""
        if not isinstance(flat, Mapping):
            raise InstanceRefused([Problem(f"{source}: an instance is a table of fields")])
        problems: list[Problem] = []
        name = flat.get("name")
        if name is None:
            problems.append(
                Problem(f"{source}: name is missing; every instance needs a name", "name")
            )
        elif not isinstance(name, str) or not name.strip():
            problems.append(
                Problem(f"{source}: name is empty; every instance needs a name", "name")
            )
        description = flat.get("description", "")
        if not isinstance(description, str):
            problems.append(Problem(f"{source}: description must be text", "description"))
        active = flat.get("active", True)
        if not isinstance(active, bool):
            problems.append(
                Problem(f"{source}: active must be true or false, not {active!r}", "active")
            )
        variables: dict[str, Any] = {}
        try:
            variables = self.check_variables(
                {k: v for k, v in flat.items() if k not in INSTANCE_KEYS}, source
            )
        except InstanceRefused as refused:
            problems.extend(refused.problems)
        if problems:
            raise InstanceRefused(problems)
        assert isinstance(name, str) and isinstance(description, str)
        return CheckedInstance(name.strip(), description, bool(active), variables)

    # ---- files ---------------------------------------------------------------------------

    def from_file(self, mapping: Mapping[str, Any], source: str) -> CheckedInstance:
        """An instance from the module's instance TOML (parsed)."""
        flat: Any = mapping
        if self.has("instance_from_file"):
            try:
                flat = self.call("instance_from_file", dict(mapping), source)
            except Exception as exc:  # uploaded code: its refusal names the field
                raise InstanceRefused(_problems_of(exc, source)) from None
        return self.check(flat, source)

    def to_file(self, instance: CheckedInstance) -> dict[str, Any]:
        """The module's instance TOML (as a mapping) of a checked instance."""
        if not self.has("instance_to_file"):
            return instance.flat()
        try:
            document = self.call("instance_to_file", instance.flat())
        except Exception as exc:  # uploaded code: say so, do not crash the page
            raise Refused(f"the module could not write the instance file ({exc})") from None
        if not isinstance(document, Mapping):
            raise Refused("the module's instance_to_file returned no table")
        return dict(document)

    def stored_variables(self, stored: Mapping[str, Any], source: str) -> dict[str, Any]:
        """The variables of a stored row. Rows written before instances were stored by the
        descriptor's names hold the module's instance-file shape: converted here."""
        if all(key in self.form.variables for key in stored):
            return {name: stored.get(name, v.default) for name, v in self.form.variables.items()}
        flat: Mapping[str, Any] = stored
        if self.has("instance_from_file"):
            try:
                flat = self.call("instance_from_file", {"name": "-", **stored}, source)
            except Exception:  # an old row the module refuses now: keep what fits
                flat = stored
        return {
            name: flat.get(name, variable.default) for name, variable in self.form.variables.items()
        }

    # ---- the call tester -----------------------------------------------------------------

    def explain(
        self,
        variables: Mapping[str, Any],
        called: str,
        caller: str,
        plan: Mapping[str, str],
        lang: str,
    ) -> tuple[bool | None, str] | None:
        """(match or None if the module does not say, explanation) from the module's own
        `explain`; None when the module has none."""
        if not self.has("explain"):
            return None
        try:
            answer = self.call("explain", dict(variables), called, caller, dict(plan), lang)
        except Exception as exc:  # uploaded code: show its complaint, never fail the page
            return False, f"{_type_name(exc)}: {exc}"
        if isinstance(answer, Mapping):
            match = answer.get("match")
            return (bool(match) if match is not None else None), str(answer.get("explanation", ""))
        return None, str(answer)


def _type_problem(var_type: str, value: Any) -> str | None:
    if var_type == "BOOLEAN":
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if var_type == "NUMBER":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"must be a whole number, not {value!r}"
    if var_type == "LIST":
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        return None if ok else f'must be a list of texts in quotes, e.g. ["a", "b"], not {value!r}'
    if var_type == "STRING":
        return None if isinstance(value, str) else f"must be text in quotes, not {value!r}"
    return None  # types this host does not edit (STARFACE_USER ...) are kept as they are


def _problems_of(exc: BaseException, source: str) -> list[Problem]:
    """The problems a module's refusal reports (its optional `problems`, `field`, `line`),
    each naming `source` (the file, the request or the form)."""

    def sourced(message: str) -> str:
        return message if message.startswith(f"{source}:") else f"{source}: {message}"

    reported = getattr(exc, "problems", None)
    problems = []
    if isinstance(reported, list):
        for item in reported:
            if isinstance(item, Mapping) and isinstance(item.get("message"), str):
                line = item.get("line")
                problems.append(
                    Problem(
                        sourced(str(item["message"])),
                        _text_or_none(item.get("field")),
                        line if isinstance(line, int) else None,
                    )
                )
    if problems:
        return problems
    line = getattr(exc, "line", None)
    message = str(exc) or _type_name(exc)
    if isinstance(exc, loader.UploadedCodeFailed):  # it hung, or its process died
        message = f"the module's check failed: {message}"
    elif not isinstance(exc, ValueError):  # not a refusal: the module's own fault
        message = f"the module's check failed ({_type_name(exc)}: {message})"
    return [
        Problem(
            sourced(message),
            _text_or_none(getattr(exc, "field", None)),
            line if isinstance(line, int) else None,
        )
    ]


def _type_name(exc: BaseException) -> str:
    """The type of what the module raised (reported by its process), or of `exc` itself."""
    return str(getattr(exc, "type_name", None) or type(exc).__name__)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def load(build_dir: Path, error_file: Path | None = None) -> ModuleConfig:
    """The configuration of the installed build in `build_dir` (cached per build folder); what
    its code prints is appended to `error_file`."""
    descriptor = build_dir / DESCRIPTOR_NAME
    try:
        # A build folder removed and installed again is another build: its stamp differs.
        key = (build_dir.resolve(), descriptor.stat().st_mtime_ns)
        with _lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        form = read_form(descriptor.read_bytes())
    except (OSError, ValueError) as exc:
        raise Refused(
            f"{build_dir}: the installed module descriptor cannot be read ({exc})"
        ) from None
    code = None
    folder = loader.package_folder(build_dir)
    if folder is not None and (folder / f"{SHIM_MODULE}.py").is_file():
        code = ModuleCodeProcess(key[0], error_file)
    config = ModuleConfig(build_dir=key[0], form=form, code=code)
    with _lock:
        # An earlier build in the same folder (installed again) is gone for good.
        replaced = _pop_builds(key[0])
        _cache[key] = config
    _close(replaced)
    return config


def forget(build_dir: Path) -> None:
    """Drop the cached configuration of a build being removed and end its Python process."""
    with _lock:
        gone = _pop_builds(build_dir.resolve())
    _close(gone)


def _pop_builds(build_dir: Path) -> list[ModuleConfig]:
    return [_cache.pop(key) for key in [k for k in _cache if k[0] == build_dir]]


def _close(configs: list[ModuleConfig]) -> None:
    for config in configs:
        if config.code is not None:
            config.code.close()
