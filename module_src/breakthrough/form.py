"""The instance configuration form, read from `form.toml`: the one place for its fields.

The build renders the descriptor's inputVars and inputGUITabs from it (the host draws its web
form from the descriptor), and the config parser takes its keys, variables, defaults and choices
from it. Headlines are the form's alone: they bind no variable and are not fields here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LOCALES = ("de", "en")
# The descriptor variable type each widget binds (as the build pairs them).
WIDGET_TYPES = {
    "textInput": "STRING",
    "textChoice": "STRING",
    "textList": "LIST",
    "checkbox": "BOOLEAN",
}


@dataclass(frozen=True)
class Field:
    key: str  # dotted path in an instance TOML, e.g. "settings.bypass_dnd"
    variable: str  # inputVars variable name in the descriptor
    widget: str  # textChoice, textList, checkbox
    type: str  # STRING, LIST, BOOLEAN: the descriptor variable type of the widget
    label: dict[str, str]
    help: dict[str, str]
    default: Any = None
    choices: tuple[str, ...] = ()
    requires: str | None = None  # key of a checkbox that must be on for this one


@dataclass(frozen=True)
class Tab:
    id: str
    label: dict[str, str]
    fields: tuple[Field, ...]


@cache
def load_form() -> tuple[Tab, ...]:
    """The form's tabs in order, each with its fields in order."""
    raw = tomllib.loads(resources.files(__package__).joinpath("form.toml").read_text("utf-8"))
    tabs = []
    for tab in raw["tabs"]:
        fields = tuple(
            Field(
                key=f["key"],
                variable=f["variable"],
                widget=f["widget"],
                type=WIDGET_TYPES[f["widget"]],
                label=dict(f["label"]),
                help=dict(f["help"]),
                default=f.get("default"),
                choices=tuple(f.get("choices", ())),
                requires=f.get("requires"),
            )
            for f in tab["fields"]
            if f["widget"] != "headline"
        )
        tabs.append(Tab(id=tab["id"], label=dict(tab["label"]), fields=fields))
    return tuple(tabs)


def fields() -> tuple[Field, ...]:
    """Every field of the form, in form order."""
    return tuple(field for tab in load_form() for field in tab.fields)


def field(key: str) -> Field:
    """The field with this dotted key; KeyError if there is none."""
    for candidate in fields():
        if candidate.key == key:
            return candidate
    raise KeyError(key)
