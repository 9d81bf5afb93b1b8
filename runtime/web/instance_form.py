"""The instance form of the web page, drawn from the installed build's descriptor: its GUI tabs
and elements (textInput, passwordInput, numberInput, checkbox, textList, numberList, textChoice,
numberChoice, headline, infotext) with their German and English labels, plus the instance's own
name and description. A submitted form is checked by the installed build (`module_config`), and
its refusals are placed at the field and, for lists, at the textarea line.

Field names in the HTML form: `name`, `description`, and `var.<variable>` for each variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.modules import instances
from runtime.modules.module_config import (
    CheckedInstance,
    InstanceRefused,
    ModuleConfig,
    Problem,
)
from runtime.web import i18n
from sfm_format.descriptor_form import Element, Tab

VAR_PREFIX = "var."
LIST_WIDGETS = ("textList", "numberList")
NUMBER_WIDGETS = ("numberInput", "numberChoice")
TEXT_WIDGETS = ("textInput", "passwordInput", "textChoice")
INSTANCE_FIELDS = ("name", "description")


@dataclass(frozen=True)
class FieldError:
    """A refusal shown at a field; `line` is the textarea line (1-based) for lists."""

    message: str
    line: int | None = None


@dataclass(frozen=True)
class TabView:
    """One tab of the page: `key` is its place in the form (t1, t2, ...), for ?tab= and ids."""

    key: str
    label: dict[str, str]
    elements: tuple[Element, ...]


@dataclass
class InstanceForm:
    """What the form shows: a value per field name (text, list text, or checkbox state)."""

    config: ModuleConfig
    values: dict[str, Any]
    errors: dict[str, list[FieldError]] = field(default_factory=dict)
    general_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general_errors

    @property
    def tabs(self) -> tuple[TabView, ...]:
        return tabs_of(self.config.form.tabs)

    def first_error_tab(self) -> str | None:
        """The key of the first tab with an error (the page opens it)."""
        if any(name in self.errors for name in INSTANCE_FIELDS):
            return self.tabs[0].key if self.tabs else None
        for tab in self.tabs:
            if any(field_name(e) in self.errors for e in tab.elements if e.variable):
                return tab.key
        return None

    def tab_has_error(self, tab: TabView, first: bool) -> bool:
        if first and any(name in self.errors for name in INSTANCE_FIELDS):
            return True
        return any(field_name(e) in self.errors for e in tab.elements if e.variable)


def tabs_of(tabs: tuple[Tab, ...]) -> tuple[TabView, ...]:
    return tuple(
        TabView(key=f"t{number}", label=tab.label, elements=tab.elements)
        for number, tab in enumerate(tabs, 1)
    )


def field_name(element: Element) -> str:
    """The HTML form's name of an element's variable."""
    return f"{VAR_PREFIX}{element.variable}"


def _shown(value: Any, var_type: str) -> Any:
    if var_type == "LIST":
        return "\n".join(str(item) for item in value or ())
    if var_type == "BOOLEAN":
        return bool(value)
    return "" if value is None else str(value)


def from_instance(config: ModuleConfig, instance: CheckedInstance | None) -> InstanceForm:
    """The form showing a saved instance, or (None) a new one at the descriptor's defaults."""
    values: dict[str, Any] = {
        "name": instance.name if instance else "",
        "description": instance.description if instance else "",
    }
    for name, variable in config.form.variables.items():
        value = instance.variables.get(name, variable.default) if instance else variable.default
        values[VAR_PREFIX + name] = _shown(value, variable.type)
    return InstanceForm(config=config, values=values)


def empty(config: ModuleConfig) -> InstanceForm:
    return from_instance(config, None)


def check_submitted(
    config: ModuleConfig,
    submitted: Mapping[str, Any],
    lang: str,
    *,
    active: bool = True,
    current: CheckedInstance | None = None,
) -> tuple[InstanceForm, CheckedInstance | None]:
    """Read a submitted form; return it (with errors at fields and lines) and the checked
    instance if the installed build accepts it.

    Lists are one entry per line (blank lines skipped; a refused entry is shown at its textarea
    line). Variables the page does not draw keep their current value (or the default).
    """
    result = from_instance(config, current)
    flat: dict[str, Any] = {"active": active}
    for name in INSTANCE_FIELDS:
        text = str(submitted.get(name) or "").strip()
        result.values[name] = text
        flat[name] = text
    lines_of: dict[str, list[int]] = {}  # variable -> textarea line of each list entry
    drawn: dict[str, Element] = {}
    for tab in config.form.tabs:
        for shown in tab.elements:
            if shown.variable is not None and shown.drawn and not shown.text_only:
                drawn.setdefault(shown.variable, shown)
    for name, variable in config.form.variables.items():
        key = VAR_PREFIX + name
        element = drawn.get(name)
        if element is None:
            flat[name] = current.variables.get(name) if current else variable.default
            continue
        raw = submitted.get(key)
        if raw is None and element.widget != "checkbox":
            # Not posted at all (a browser posts every drawn field but an unticked box):
            # keep what is stored, or the default.
            flat[name] = current.variables.get(name) if current else variable.default
            continue
        if element.widget in LIST_WIDGETS:
            text = "" if raw is None else str(raw)
            result.values[key] = text
            entries = []
            lines_of[name] = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    entries.append(line.strip())
                    lines_of[name].append(number)
            flat[name] = entries
        elif element.widget == "checkbox":
            ticked = raw is not None and str(raw) not in ("", "0", "false", "off")
            result.values[key] = ticked
            flat[name] = ticked
        else:
            text = "" if raw is None else str(raw).strip()
            result.values[key] = text
            if element.widget in NUMBER_WIDGETS:
                try:
                    flat[name] = int(text)
                except ValueError:
                    result.errors.setdefault(key, []).append(
                        FieldError(_whole_number(lang, text))
                    )
            else:
                flat[name] = text
    if not result.ok:
        return result, None
    try:
        checked = config.check(flat, "form")
    except InstanceRefused as refused:
        for problem in refused.problems:
            place(result, problem, lang, lines_of)
        return result, None
    return result, checked


def place(
    result: InstanceForm,
    problem: Problem,
    lang: str,
    lines_of: Mapping[str, list[int]] | None = None,
) -> None:
    """Show a refusal at its field (and textarea line), or above the form."""
    message = problem.message.removeprefix("form: ")
    if problem.field in INSTANCE_FIELDS:
        result.errors.setdefault(problem.field, []).append(FieldError(message))
        return
    if problem.field is None or problem.field not in result.config.form.variables:
        result.general_errors.append(message)
        return
    line = None
    if problem.line is not None:
        lines = (lines_of or {}).get(problem.field, [])
        line = lines[problem.line - 1] if 0 < problem.line <= len(lines) else problem.line
        message = f"{i18n.text('instances.line', lang)} {line}: {message}"
    result.errors.setdefault(VAR_PREFIX + problem.field, []).append(FieldError(message, line))


def _whole_number(lang: str, text: str) -> str:
    if lang == "en":
        return f"{text!r} is not a whole number."
    return f"„{text}“ ist keine ganze Zahl."


# ---- what the pages call ------------------------------------------------------------------


def for_module(data_dir: Path, module: Any, instance: Any | None = None) -> InstanceForm:
    """The form of a new instance of `module` (a store.ModuleRow), or of a saved `instance`
    (a store.InstanceRow), drawn from the build in use."""
    config = instances.config_of(data_dir, module)
    return from_instance(config, instances.stored(config, instance) if instance else None)


def submit(
    data_dir: Path,
    module: Any,
    instance: Any | None,
    submitted: Mapping[str, Any],
    lang: str,
    *,
    expected_revision: int | None = None,
) -> tuple[InstanceForm, Any | None]:
    """Check a submitted form against the build in use and save it: (the form with its errors,
    the saved store.InstanceRow or None when refused). `instance` None creates one. A change
    made since `expected_revision` raises instances.Conflict (nothing saved)."""
    config = instances.config_of(data_dir, module)
    current = instances.stored(config, instance) if instance else None
    active = instance.active if instance else True
    result, checked = check_submitted(config, submitted, lang, active=active, current=current)
    if checked is None:
        return result, None
    flat = checked.flat()
    try:
        if instance is None:
            return result, instances.create_checked(data_dir, module.id, flat, "form")
        return result, instances.update_checked(
            data_dir, instance.id, flat, "form", expected_revision=expected_revision
        )
    except instances.Conflict:
        raise
    except InstanceRefused as refused:
        for problem in refused.problems:
            place(result, problem, lang)
    except Refused as exc:
        place(result, Problem(str(exc), "name" if "name:" in str(exc) else None), lang)
    return result, None
