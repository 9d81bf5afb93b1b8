"""An instance's configuration: reading it from TOML (or any mapping), checking it, writing it.

The keys, types, defaults and log-level choices come from the config form
(`breakthrough.form`, form.toml), the one place they are defined; this module maps each form
field to an attribute of `InstanceConfig` by its key (`numbers.called.active` ->
`called_active`, `settings.bypass_dnd` -> `settings.bypass_dnd`, `log_level` -> `log_level`).
The instance's own fields, `name`, `description` and `active`, are the host's (not variables
of the form) and are defined here.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

from . import form
from .errors import ConfigError
from .wildcards import parse_patterns

ACTIVE_KEY = "active"  # instance on/off: state of the instance, not a form field


@dataclass(frozen=True)
class Settings:
    """The four switches of the "Einstellungen" tab.

    `bypass_self_redirects_only` narrows `bypass_redirects` and needs it: a Settings with the
    former alone cannot be made (ConfigError).
    """

    bypass_dnd: bool = False  # "Ruhe umgehen"
    bypass_redirects: bool = False  # "Anrufumleitungen umgehen"
    bypass_self_redirects_only: bool = False  # "Anrufumleitungen auf sich selbst umgehen"
    force_call_waiting: bool = False  # "Anklopfen erzwingen"

    def __post_init__(self) -> None:
        for spec in _form_fields():
            if spec.requires is None or not spec.key.startswith("settings."):
                continue
            if getattr(self, _attribute(spec.key)) and not getattr(self, _attribute(spec.requires)):
                raise ConfigError(_requires_message(spec))

    def switched_on(self) -> tuple[str, ...]:
        """Names of the switches that are on, in form order (the `effects` of a match)."""
        return tuple(name for name in SETTING_NAMES if getattr(self, name))


@dataclass(frozen=True)
class InstanceConfig:
    """One instance of the module, as the admin configured it (patterns as written)."""

    name: str
    description: str = ""
    log_level: str = "INFO"
    active: bool = True
    called_active: tuple[str, ...] = ()
    called_exceptions: tuple[str, ...] = ()
    caller_active: tuple[str, ...] = ()
    caller_exceptions: tuple[str, ...] = ()
    settings: Settings = field(default_factory=Settings)


# The instance's own text fields: the host keeps them beside the variables.
INSTANCE_FIELDS = (
    form.Field(
        key="name",
        variable="",
        widget="textInput",
        type="STRING",
        label={"de": "Name", "en": "Name"},
        help={},
    ),
    form.Field(
        key="description",
        variable="",
        widget="textInput",
        type="STRING",
        label={"de": "Beschreibung", "en": "Description"},
        help={},
    ),
)


@cache
def _form_fields() -> tuple[form.Field, ...]:
    return INSTANCE_FIELDS + form.fields()


def _attribute(key: str) -> str:
    """The attribute (of InstanceConfig, or of Settings for `settings.*`) a form key sets."""
    parts = key.split(".")
    if parts[0] == "numbers" and len(parts) == 3:
        return f"{parts[1]}_{parts[2]}"
    if parts[0] == "settings" and len(parts) == 2:
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    raise KeyError(f"form key {key!r} has no place in InstanceConfig")


SETTING_NAMES: tuple[str, ...] = tuple(
    _attribute(spec.key) for spec in form.fields() if spec.key.startswith("settings.")
)


def _label(spec: form.Field) -> str:
    return spec.label.get("de", spec.key)


def _requires_message(spec: form.Field) -> str:
    assert spec.requires is not None
    needed = form.field(spec.requires)
    return (
        f'{spec.key} ("{_label(spec)}") is on but {needed.key} ("{_label(needed)}") is off; '
        f"switch on {needed.key} too, or switch off {spec.key}."
    )


def _lookup(mapping: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = mapping
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _misplaced_keys(mapping: Mapping[str, Any], known: set[str], prefix: str = "") -> list[str]:
    """What is wrong with the keys of `mapping`: unknown fields, tables that are not tables."""
    problems = []
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if dotted in known:
            continue
        if any(k.startswith(dotted + ".") for k in known):
            if isinstance(value, Mapping):
                problems += _misplaced_keys(value, known, dotted + ".")
            else:
                problems.append(f"{dotted} must be a table ([{dotted}]), not {value!r}")
        else:
            problems.append(f"unknown field {dotted!r}; the fields are: {', '.join(sorted(known))}")
    return problems


def parse_instance(mapping: Mapping[str, Any], source: str) -> InstanceConfig:
    """The instance configuration in `mapping` (e.g. a parsed TOML file), fully checked.

    Refuses, with a ConfigError naming `source`, the field and for patterns the line (the
    n-th entry) and character: unknown keys, wrong types, a missing or empty name, an unknown
    log level, a malformed pattern, and a setting switched on without the one it requires.
    Missing lists are empty, missing switches take the form's default.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: an instance configuration is a table of fields.")
    specs = _form_fields()
    known = {spec.key for spec in specs} | {ACTIVE_KEY}
    problems = _misplaced_keys(mapping, known)
    if problems:
        raise ConfigError(f"{source}: {problems[0]}.")
    values: dict[str, Any] = {}
    settings: dict[str, bool] = {}
    for spec in specs:
        present, value = _lookup(mapping, spec.key)
        checked = _check_field(spec, value if present else spec.default, present, source)
        if spec.key.startswith("settings."):
            settings[_attribute(spec.key)] = checked
        else:
            values[_attribute(spec.key)] = checked
    present, active = _lookup(mapping, ACTIVE_KEY)
    if present and not isinstance(active, bool):
        raise ConfigError(f"{source}: {ACTIVE_KEY} must be true or false, not {active!r}.")
    values[ACTIVE_KEY] = active if present else True
    try:
        values["settings"] = Settings(**settings)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return InstanceConfig(**values)


def _check_field(spec: form.Field, value: Any, present: bool, source: str) -> Any:
    where = f"{source}: {spec.key}"
    if spec.type == "BOOLEAN":
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}.")
        return value
    if spec.type == "LIST":
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ConfigError(
                f'{where} must be a list of patterns in quotes, e.g. ["*2515906850"], '
                f"not {value!r}."
            )
        parse_patterns(value, where)
        return tuple(value)
    if spec.type == "STRING":
        if value is None:
            if spec.key == "name":
                raise ConfigError(f"{source}: name is missing; every instance needs a name.")
            value = ""
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be text in quotes, not {value!r}.")
        if spec.key == "name" and not value.strip():
            raise ConfigError(f"{source}: name is empty; every instance needs a name.")
        if spec.choices:
            chosen = value.strip().upper()
            if chosen not in spec.choices:
                raise ConfigError(
                    f"{where} is {value!r}; it must be one of {', '.join(spec.choices)}."
                )
            return chosen
        return value
    raise ConfigError(f"{where}: the form gives it type {spec.type!r}, which is not known here.")


def read_toml_file(path: str | Path) -> dict[str, Any]:
    """The TOML document in the file `path`; ConfigError naming the file and what is wrong.

    The host and the build read TOML with `sfm_format.toml_file`; this is the module's own
    copy, because the module is uploaded code and imports nothing of ours."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: is not UTF-8 text.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: is not valid TOML ({exc}).") from None


def load_instance_file(path: str | Path) -> InstanceConfig:
    """The instance configuration in the TOML file `path`; ConfigError naming the file."""
    return parse_instance(read_toml_file(path), str(path))


def instance_to_mapping(cfg: InstanceConfig) -> dict[str, Any]:
    """`cfg` as the nested dict of an instance TOML (lists as lists); parse_instance reads it."""
    result: dict[str, Any] = {}
    for spec in _form_fields():
        if spec.key.startswith("settings."):
            value: Any = getattr(cfg.settings, _attribute(spec.key))
        else:
            value = getattr(cfg, _attribute(spec.key))
        if isinstance(value, tuple):
            value = list(value)
        *tables, leaf = spec.key.split(".")
        node = result
        for table in tables:
            node = node.setdefault(table, {})
        node[leaf] = value
        if spec.key == "log_level":
            result[ACTIVE_KEY] = cfg.active
    return result


def _toml_string(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes, except that TOML also wants DEL
    # escaped, which JSON leaves as it is.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def instance_to_toml(cfg: InstanceConfig) -> str:
    """`cfg` as the instance TOML of INTERFACES.md, each field commented with its form label.

    parse_instance(tomllib.loads(instance_to_toml(cfg)), ...) == cfg.
    """
    mapping = instance_to_mapping(cfg)
    labels = {spec.key: _label(spec) for spec in _form_fields()}
    lines: list[str] = []

    def write_table(table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, Mapping):
                continue
            dotted = prefix + key
            label = labels.get(dotted)
            comment = f"  # {label}" if label else ""
            lines.append(f"{key} = {_toml_value(value)}{comment}")
        for key, value in table.items():
            if isinstance(value, Mapping):
                if any(not isinstance(v, Mapping) for v in value.values()):
                    lines.append("")
                    lines.append(f"[{prefix}{key}]")
                write_table(value, f"{prefix}{key}.")

    write_table(mapping, "")
    return "\n".join(lines) + "\n"


def _check_form_fits() -> None:
    """Every form field must have its attribute: a form.toml change needs a change here too."""
    config_names = {f.name for f in fields(InstanceConfig)}
    setting_names = {f.name for f in fields(Settings)}
    for spec in form.fields():
        names = setting_names if spec.key.startswith("settings.") else config_names
        if _attribute(spec.key) not in names:
            raise RuntimeError(f"form field {spec.key!r} has no attribute in breakthrough.config")


_check_form_fits()
