"""The configuration form of the module being built, read from `<package>/form.toml` under the
build's `--source` folder (never from an imported package).

A form is tabs of GUI elements, as the descriptor's `inputGUITabs` have them. Each element but a
`headline` binds one variable (the descriptor's `inputVars`) by its name; labels and help texts
are German and English. Keys the build does not know are refused, except `key` and `requires`,
which are the module's own (its code reads them; the build ignores them).

`load_form(path)` reads and checks the file; every fault is a BuildError naming the file, the
tab or element and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfm_build.errors import BuildError
from sfm_build.metadata import TRANSLATED_LOCALES
from sfm_format.toml_file import read_toml_file

FORM_FILE = "form.toml"

# GUI element -> the variable type it binds (None: binds none), as real exports pair them.
WIDGET_TYPES: dict[str, str | None] = {
    "headline": None,
    "textInput": "STRING",
    "passwordInput": "STRING",
    "numberInput": "NUMBER",
    "checkbox": "BOOLEAN",
    "textList": "LIST",
    "numberList": "LIST",
    "textChoice": "STRING",
    "numberChoice": "NUMBER",
}
CHOICE_WIDGETS = ("textChoice", "numberChoice")
# Names the host keeps for the instance itself (its TOML's top level), never variables.
RESERVED_VARIABLES = frozenset({"name", "active", "description"})
_VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_TAB_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_MODULE_KEYS = {"key", "requires"}
_ELEMENT_KEYS = {"variable", "widget", "label", "help", "default", "choices"} | _MODULE_KEYS


@dataclass(frozen=True)
class Element:
    """One GUI element: a headline (no variable) or a widget bound to a variable."""

    widget: str
    variable: str | None
    label: dict[str, str]
    help: dict[str, str]
    default: Any = None  # bool, str, int, list of str, or None
    choices: tuple[str, ...] = ()  # textChoice/numberChoice, as the descriptor writes them

    @property
    def type(self) -> str | None:
        """The descriptor variable type it binds (None for a headline)."""
        return WIDGET_TYPES[self.widget]


@dataclass(frozen=True)
class Tab:
    id: str
    label: dict[str, str]
    elements: tuple[Element, ...]


def find_package(source: Path) -> Path:
    """The module's one Python package under `source` (a folder with `__init__.py`)."""
    packages = sorted(p.parent for p in source.glob("*/__init__.py"))
    if not packages:
        raise BuildError(f"{source}: there is no Python package (a folder with __init__.py).")
    if len(packages) > 1:
        names = ", ".join(p.name for p in packages)
        raise BuildError(f"{source}: several Python packages ({names}); a module ships one.")
    return packages[0]


def load_form(path: Path) -> tuple[Tab, ...]:
    """The tabs of the form file `path`, checked; BuildError naming the file and field."""
    raw = read_toml_file(path, BuildError, missing="the configuration form is missing")
    return parse_form(raw, str(path))


def parse_form(raw: dict[str, Any], source: str) -> tuple[Tab, ...]:
    """The tabs of a parsed form document `raw` (from `source`), checked."""
    tabs_raw = raw.get("tabs")
    if not isinstance(tabs_raw, list) or not tabs_raw:
        raise BuildError(f"{source}: the form has no [[tabs]].")
    unknown = set(raw) - {"tabs"}
    if unknown:
        raise BuildError(f"{source}: unknown key {sorted(unknown)[0]!r}; a form has only [[tabs]].")
    tabs: list[Tab] = []
    seen_tabs: set[str] = set()
    seen_variables: set[str] = set()
    for number, tab in enumerate(tabs_raw, 1):
        where = f"{source}: tab {number}"
        if not isinstance(tab, dict):
            raise BuildError(f"{where} must be a table.")
        tab_id = tab.get("id")
        if not isinstance(tab_id, str) or not _TAB_ID.match(tab_id):
            raise BuildError(f"{where}: id must be lower-case letters, digits, - or _.")
        if tab_id in seen_tabs:
            raise BuildError(f"{where}: the tab id {tab_id!r} is used twice.")
        seen_tabs.add(tab_id)
        where = f"{source}: tab {tab_id}"
        label = _texts(tab.get("label"), f"{where} label")
        raw_elements = tab.get("fields", [])
        if not isinstance(raw_elements, list):
            raise BuildError(f"{where}: fields must be an array of tables ([[tabs.fields]]).")
        elements = []
        for index, item in enumerate(raw_elements, 1):
            element = _element(item, f"{where} field {index}")
            if element.variable is not None:
                if element.variable in seen_variables:
                    raise BuildError(
                        f"{where} field {index}: variable {element.variable!r} is used twice."
                    )
                seen_variables.add(element.variable)
            elements.append(element)
        tabs.append(Tab(id=tab_id, label=label, elements=tuple(elements)))
    return tuple(tabs)


def _element(item: Any, where: str) -> Element:
    if not isinstance(item, dict):
        raise BuildError(f"{where} must be a table.")
    unknown = set(item) - _ELEMENT_KEYS
    if unknown:
        raise BuildError(f"{where}: unknown key {sorted(unknown)[0]!r}.")
    widget = item.get("widget")
    if widget not in WIDGET_TYPES:
        raise BuildError(
            f"{where}: widget {widget!r} is not one the build knows ({', '.join(WIDGET_TYPES)})."
        )
    var_type = WIDGET_TYPES[widget]
    variable = item.get("variable")
    if var_type is None:
        if variable is not None:
            raise BuildError(f"{where}: a headline binds no variable.")
    else:
        if not isinstance(variable, str) or not _VARIABLE.match(variable):
            raise BuildError(
                f"{where}: variable must be a name of letters, digits and _ (starting with a "
                f"letter), not {variable!r}."
            )
        if variable in RESERVED_VARIABLES:
            raise BuildError(
                f"{where}: variable {variable!r} is the instance's own {variable}; "
                "name the variable otherwise."
            )
        where = f"{where} ({variable})"
    label = _texts(item.get("label"), f"{where} label")
    help_texts = _texts(item.get("help", {"de": "", "en": ""}), f"{where} help", allow_empty=True)
    choices: tuple[str, ...] = ()
    default = item.get("default")
    if widget in CHOICE_WIDGETS:
        raw_choices = item.get("choices")
        if not isinstance(raw_choices, list) or not raw_choices:
            raise BuildError(f"{where}: a {widget} needs choices = [...].")
        wanted = str if widget == "textChoice" else int
        for choice in raw_choices:
            if isinstance(choice, bool) or not isinstance(choice, wanted):
                raise BuildError(
                    f"{where}: the choices of a {widget} are "
                    f"{'texts' if wanted is str else 'whole numbers'}, not {choice!r}."
                )
        choices = tuple(str(choice) for choice in raw_choices)
        if len(set(choices)) != len(choices):
            raise BuildError(f"{where}: a choice is listed twice.")
        if default is None:
            default = raw_choices[0]
        if str(default) not in choices:
            raise BuildError(f"{where}: default {default!r} is not one of the choices.")
    elif "choices" in item:
        raise BuildError(f"{where}: only a textChoice or numberChoice has choices.")
    _check_default(widget, var_type, default, where)
    return Element(
        widget=widget,
        variable=variable,
        label=label,
        help=help_texts,
        default=default,
        choices=choices,
    )


def _check_default(widget: str, var_type: str | None, default: Any, where: str) -> None:
    if default is None:
        return
    fits = {
        None: False,
        "STRING": isinstance(default, str),
        "NUMBER": isinstance(default, int) and not isinstance(default, bool),
        "BOOLEAN": isinstance(default, bool),
        "LIST": isinstance(default, list) and all(isinstance(v, str) for v in default),
    }[var_type]
    if not fits:
        raise BuildError(f"{where}: default {default!r} does not fit a {widget}.")


def _texts(value: Any, where: str, allow_empty: bool = False) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BuildError(f"{where} must be a table with de and en texts.")
    texts = {}
    for lang in TRANSLATED_LOCALES:
        text = value.get(lang)
        if not isinstance(text, str) or (not allow_empty and not text.strip()):
            raise BuildError(f"{where}.{lang} is missing.")
        texts[lang] = text
    return texts
