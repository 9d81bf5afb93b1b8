"""The module descriptor (`module-descriptor.xml`) of one build variant: rendered, then validated.

`render_descriptor` builds the template context from the module metadata, the configuration
form (`breakthrough.form.load_form()`) and the names of the files packaged beside it, and renders
`templates/module-descriptor.xml.j2`. `validate_descriptor` checks the result against our XSD
(`sfm_format`) and the STARFACE integrity rules before anything is written.

Every id in the descriptor is a UUIDv5 under the module's id, so it is the same on every build.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from breakthrough.form import Tab
from sfm_build.errors import BuildError
from sfm_build.metadata import STARFACE_LOCALES, TRANSLATED_LOCALES, ModuleMetadata, Variant
from sfm_build.rendering import TEMPLATES_DIR, render
from sfm_format.integrity import no_license_id, write_hash
from sfm_format.schema import descriptor_schema, safe_xml_parser

DESCRIPTOR_NAME = "module-descriptor.xml"
DESCRIPTOR_TEMPLATE = "module-descriptor.xml.j2"
SPEC_VERSION = 5

# The module's Java entry classes (module_src/jvm_src/common/de/obyte/breakthrough/).
HOOK_CLASS = "de.obyte.breakthrough.BreakthroughHook"
ENTRY_CLASS = "de.obyte.breakthrough.BreakthroughEntryPoint"
KERNEL_STAGE = "PostTargetDeterminationIncoming"
LIFECYCLE_STAGES = ("SystemStarted", "InstanceCreated", "InstanceChanged", "InstanceDeactivated")

# Form widget -> (variable type it binds, whether it is a list widget with a list name).
_WIDGETS = {
    "textInput": ("STRING", False),
    "passwordInput": ("STRING", False),
    "numberInput": ("NUMBER", False),
    "checkbox": ("BOOLEAN", False),
    "textList": ("LIST", True),
    "numberList": ("LIST", True),
}
_NO_MAX_LENGTH = {"checkbox"}  # real exports give every other input a maxLength


@dataclass(frozen=True)
class ResourceKeys:
    """One translated property: `entries` are (locale, text or None) in STARFACE's order."""

    key: str
    property: str
    entries: tuple[tuple[str, str | None], ...]


def stable_id(module_id: str, what: str) -> str:
    """A UUID that names `what` inside the module and is the same on every build."""
    return str(uuid.uuid5(uuid.UUID(module_id), what))


def _keys(key: str, prop: str, texts: dict[str, str], others: str | None) -> ResourceKeys:
    entries = tuple(
        (locale, texts[locale] if locale in TRANSLATED_LOCALES else others)
        for locale in STARFACE_LOCALES
    )
    return ResourceKeys(key=key, property=prop, entries=entries)


def _class_name(path: str) -> str | None:
    if not path.endswith(".class"):
        return None
    return path[: -len(".class")].replace("/", ".")


def descriptor_context(
    meta: ModuleMetadata,
    variant: Variant,
    file_names: Sequence[str],
    form: Sequence[Tab],
    form_source: str = "form.toml",
) -> dict[str, Any]:
    """The template context of the descriptor for `variant` packaging `file_names`."""
    mid = meta.id
    locale = meta.default_locale

    classes = {_class_name(name) for name in file_names} - {None}
    for needed in (HOOK_CLASS, ENTRY_CLASS):
        if needed not in classes:
            raise BuildError(
                f"variant {variant.name}: the entry class {needed} was not compiled "
                "(module_src/jvm_src)."
            )

    input_vars = []
    list_resources = []
    tabs = []
    seen_variables: set[str] = set()
    for tab in form:
        fields = []
        for field in tab.fields:
            where = f"{form_source}: field {field.key}"
            if field.widget not in _WIDGETS:
                raise BuildError(
                    f"{where}: widget {field.widget!r} is not one the build knows "
                    f"({', '.join(_WIDGETS)})."
                )
            var_type, is_list = _WIDGETS[field.widget]
            if field.type != var_type:
                raise BuildError(
                    f"{where}: a {field.widget} binds a {var_type} variable, not {field.type}."
                )
            if field.variable in seen_variables:
                raise BuildError(f"{where}: variable {field.variable!r} is used twice.")
            seen_variables.add(field.variable)
            for lang in TRANSLATED_LOCALES:
                if not field.label.get(lang):
                    raise BuildError(f"{where}: label.{lang} is missing.")
            variable_id = stable_id(mid, f"inputVar/{field.variable}")
            if var_type == "LIST":
                list_id = stable_id(mid, f"listResource/{field.variable}")
                list_resources.append({"id": list_id})
                value = list_id
                default_value = ""
            elif var_type == "BOOLEAN":
                value = default_value = "true" if field.default else "false"
            else:
                value = default_value = "" if field.default is None else str(field.default)
            input_vars.append(
                {"id": variable_id, "name": field.variable, "type": var_type, "value": value}
            )
            field_id = stable_id(mid, f"guiDescriptor/{field.variable}")
            prefix = f"inputguitab.{field.widget.lower()}"
            help_texts = {lang: field.help.get(lang, "") for lang in TRANSLATED_LOCALES}
            keys = [
                _keys(f"{prefix}.name{{{field_id}}}", "NAME", field.label, None),
                _keys(f"{prefix}.description{{{field_id}}}", "DESCRIPTION", help_texts, None),
            ]
            if is_list:
                keys.append(
                    _keys(f"{prefix}.listName{{{field_id}}}", "LIST_NAME", field.label, None)
                )
            fields.append(
                {
                    "widget": field.widget,
                    "id": field_id,
                    "variable_id": variable_id,
                    "name": field.label[locale],
                    "description": help_texts[locale],
                    "max_length": None if field.widget in _NO_MAX_LENGTH else 0,
                    "translations": keys,
                    "default_value": default_value,
                    "list_name": field.label[locale] if is_list else None,
                }
            )
        tab_id = stable_id(mid, f"inputGUITab/{tab.id}")
        tabs.append(
            {
                "id": tab_id,
                "name": tab.label[locale],
                "name_keys": _keys(f"inputguitab.name{{{tab_id}}}", "NAME", tab.label, None),
                "fields": fields,
            }
        )

    files = [
        {
            "id": stable_id(mid, f"file/{name}"),
            "name": name,
            "extension": PurePosixPath(name).suffix.lstrip("."),
        }
        for name in sorted(file_names)
    ]
    functions = [
        {
            "id": HOOK_CLASS,
            "name": HOOK_CLASS.rsplit(".", 1)[1],
            "description": f"{meta.name}: kernel hook at {KERNEL_STAGE}",
        },
        {
            "id": ENTRY_CLASS,
            "name": ENTRY_CLASS.rsplit(".", 1)[1],
            "description": f"{meta.name}: instance life cycle",
        },
    ]
    kernel_entry_points = [
        {
            "id": stable_id(mid, f"entryPoint/{KERNEL_STAGE}"),
            "name": meta.name,
            "stage": KERNEL_STAGE,
            "target_id": HOOK_CLASS,
            "target_name": HOOK_CLASS.rsplit(".", 1)[1],
        }
    ]
    lifecycle_entry_points = [
        {
            "id": stable_id(mid, f"entryPoint/{stage}"),
            "name": stage,
            "stage": stage,
            "target_id": ENTRY_CLASS,
            "target_name": ENTRY_CLASS.rsplit(".", 1)[1],
        }
        for stage in LIFECYCLE_STAGES
    ]
    names = {lang: meta.name for lang in TRANSLATED_LOCALES}
    module_keys = [
        _keys(f"module.name{{{mid}}}", "NAME", names, ""),
        _keys(f"module.description{{{mid}}}", "DESCRIPTION", meta.description, ""),
    ]
    return {
        "module": meta,
        "variant": variant,
        "spec_version": SPEC_VERSION,
        "description": meta.description[locale],
        "input_vars": input_vars,
        "files": files,
        "list_resources": list_resources,
        "functions": functions,
        "kernel_entry_points": kernel_entry_points,
        "lifecycle_entry_points": lifecycle_entry_points,
        "tabs": tabs,
        "module_keys": module_keys,
        "no_license_id": no_license_id(mid, meta.last_changed_time),
        "write_hash": write_hash(mid),
    }


def render_descriptor(
    meta: ModuleMetadata,
    variant: Variant,
    file_names: Sequence[str],
    form: Sequence[Tab],
    templates_dir: Path = TEMPLATES_DIR,
) -> bytes:
    """The descriptor's bytes (UTF-8) for `variant`, not yet validated."""
    context = descriptor_context(meta, variant, file_names, form)
    return render(templates_dir, DESCRIPTOR_TEMPLATE, context).encode("utf-8")


def validate_descriptor(data: bytes, source: str) -> etree._Element:
    """Check a descriptor against our XSD and the STARFACE integrity rules.

    Returns the parsed root. BuildError naming `source`, the line and the rule on the first
    fault. Works for real exports too (their noLicenseId follows the same rule).
    """
    try:
        root = etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BuildError(f"{source}: not well-formed XML: {exc}.") from None
    schema = descriptor_schema()
    if not schema.validate(root):
        error = schema.error_log[0]
        raise BuildError(
            f"{source}, line {error.line}: does not match module-descriptor.xsd: {error.message}"
        )
    module_id = root.get("id", "")
    expected = no_license_id(module_id, int(root.get("lastChangedTime", "0")))
    stated = root.findtext("noLicenseId")
    if stated != expected:
        raise BuildError(
            f"{source}: noLicenseId is {stated}, but sha1(id + lastChangedTime + 'STARFACE') "
            f"is {expected}."
        )
    return root
