"""The instance form of the web page: the fields of `breakthrough.form`, filled from a saved
configuration or from a submitted form, checked by the rule engine with errors placed at the
field and, for number lists, at the line of the textarea where the admin wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from breakthrough import form
from breakthrough.config import InstanceConfig, parse_instance
from breakthrough.errors import ConfigError
from breakthrough.wildcards import parse_pattern
from runtime.web import i18n


@dataclass(frozen=True)
class FieldError:
    """A refusal shown at a field; `line` is the textarea line (1-based) for number lists."""

    message: str
    line: int | None = None


@dataclass
class InstanceForm:
    """What the form shows: a value per field key (text, list text, or checkbox state)."""

    values: dict[str, Any]
    errors: dict[str, list[FieldError]] = field(default_factory=dict)
    general_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general_errors

    def first_error_tab(self) -> str | None:
        """The id of the first tab with an error (the page opens it)."""
        for tab in form.load_form():
            if any(f.key in self.errors for f in tab.fields):
                return tab.id
        return None


def _lookup(mapping: Mapping[str, Any], key: str) -> Any:
    node: Any = mapping
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def empty() -> InstanceForm:
    """The form of a new instance: every field at the form's default."""
    values: dict[str, Any] = {}
    for spec in form.fields():
        if spec.type == "LIST":
            values[spec.key] = ""
        elif spec.type == "BOOLEAN":
            values[spec.key] = bool(spec.default)
        else:
            values[spec.key] = "" if spec.default is None else str(spec.default)
    return InstanceForm(values)


def from_mapping(mapping: Mapping[str, Any]) -> InstanceForm:
    """The form showing a saved configuration (the nested shape of an instance TOML)."""
    result = empty()
    for spec in form.fields():
        value = _lookup(mapping, spec.key)
        if value is None:
            continue
        if spec.type == "LIST":
            result.values[spec.key] = "\n".join(str(item) for item in value)
        elif spec.type == "BOOLEAN":
            result.values[spec.key] = bool(value)
        else:
            result.values[spec.key] = str(value)
    return result


def _set(mapping: dict[str, Any], key: str, value: Any) -> None:
    *tables, leaf = key.split(".")
    node = mapping
    for table in tables:
        node = node.setdefault(table, {})
    node[leaf] = value


def _label(spec: form.Field, lang: str) -> str:
    return spec.label.get(lang) or spec.label.get("de") or spec.key


def field_named_in(message: str) -> str | None:
    """The form key a rule-engine message names first, if any (longest key wins)."""
    keys = sorted((spec.key for spec in form.fields()), key=len, reverse=True)
    positions = [(message.find(key), key) for key in keys if key in message]
    if not positions:
        return None
    return min(positions)[1]


def check_submitted(
    submitted: Mapping[str, Any], lang: str, active: bool = True
) -> tuple[InstanceForm, InstanceConfig | None]:
    """Read a submitted form; return it (with errors at fields and lines) and the config if valid.

    `submitted` maps field keys to the posted strings (a checkbox is present when ticked).
    Number lists are one pattern per line; blank lines are skipped, and a refused pattern is
    reported at its textarea line. A checkbox that requires another one that is off is refused
    at that checkbox, even if the browser sent it (the page disables it; the server decides).
    """
    result = empty()
    line_word = i18n.text("instances.line", lang)
    mapping: dict[str, Any] = {"active": active}
    for spec in form.fields():
        raw = submitted.get(spec.key)
        if spec.type == "LIST":
            text = "" if raw is None else str(raw)
            result.values[spec.key] = text
            patterns = []
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    parse_pattern(line.strip(), f"{line_word} {number}")
                except ConfigError as exc:
                    result.errors.setdefault(spec.key, []).append(FieldError(str(exc), number))
                patterns.append(line.strip())
            _set(mapping, spec.key, patterns)
        elif spec.type == "BOOLEAN":
            result.values[spec.key] = raw is not None and str(raw) not in ("", "0", "false", "off")
            _set(mapping, spec.key, result.values[spec.key])
        else:
            text = "" if raw is None else str(raw).strip()
            result.values[spec.key] = text
            _set(mapping, spec.key, text)
    for spec in form.fields():
        if spec.requires and result.values.get(spec.key) and not result.values.get(spec.requires):
            needed = form.field(spec.requires)
            result.errors.setdefault(spec.key, []).append(
                FieldError(
                    i18n.text("instances.requires", lang).format(
                        field=_label(spec, lang), needed=_label(needed, lang)
                    )
                )
            )
    if not result.ok:
        return result, None
    try:
        config = parse_instance(mapping, "form")
    except ConfigError as exc:
        message = str(exc).removeprefix("form: ")
        key = field_named_in(message)
        if key is None:
            result.general_errors.append(message)
        else:
            result.errors.setdefault(key, []).append(FieldError(message))
        return result, None
    return result, config
