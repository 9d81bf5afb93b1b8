"""The module descriptor (`module-descriptor.xml`) of one build variant: rendered, then validated.

`render_descriptor` builds the template context from the module metadata (module.toml: identity
and entry points), the configuration form (`sfm_build.form`, read from the build's source) and
the names of the files packaged beside it, and renders `templates/module-descriptor.xml.j2`.
`validate_descriptor` checks the result against our XSD (`sfm_format`) and the STARFACE
integrity rules before anything is written.

Every id in the descriptor is a UUIDv5 under the module's id, so it is the same on every build;
a Java function's id and name are its class's simple name, as real exports have them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from sfm_build.errors import BuildError
from sfm_build.form import Element, Tab
from sfm_build.metadata import STARFACE_LOCALES, TRANSLATED_LOCALES, ModuleMetadata, Variant
from sfm_build.rendering import TEMPLATES_DIR, render
from sfm_format.integrity import no_license_id, write_hash
from sfm_format.schema import descriptor_schema, safe_xml_parser

DESCRIPTOR_NAME = "module-descriptor.xml"
DESCRIPTOR_TEMPLATE = "module-descriptor.xml.j2"
SPEC_VERSION = 5

_NO_MAX_LENGTH = {"checkbox", "headline"}  # real exports give every other input a maxLength


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


def _class_files(file_names: Sequence[str]) -> dict[str, str]:
    """{fully qualified class name: its path in the .sfm} for the packaged class files."""
    return {
        name[: -len(".class")].replace("/", "."): name
        for name in file_names
        if name.endswith(".class")
    }


def _variable_value(element: Element, list_id: str | None) -> str:
    if list_id is not None:
        return list_id
    if element.default is None:
        return ""
    if isinstance(element.default, bool):
        return "true" if element.default else "false"
    return str(element.default)


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

    classes = _class_files(file_names)
    for point in meta.entry_points:
        if point.class_name not in classes:
            raise BuildError(
                f"{meta.source}: [entry_points] {point.stage} = {point.class_name}: the class was "
                f"not compiled for variant {variant.name} (no such class in the Java sources)."
            )

    input_vars = []
    list_resources = []
    tabs = []
    for tab in form:
        elements = []
        for element in tab.elements:
            what = element.variable or f"{tab.id}/{element.label['en']}"
            element_id = stable_id(mid, f"guiDescriptor/{what}")
            if element.variable is None:
                # Real exports bind a headline to an id no variable declares.
                variable_id = stable_id(mid, f"headline/{what}")
            else:
                variable_id = stable_id(mid, f"inputVar/{element.variable}")
                list_id = None
                if element.type == "LIST":
                    list_id = stable_id(mid, f"listResource/{element.variable}")
                    values = list(element.default or [])
                    list_resources.append({"id": list_id, "values": values})
                input_vars.append(
                    {
                        "id": variable_id,
                        "name": element.variable,
                        "type": element.type,
                        "value": _variable_value(element, list_id),
                    }
                )
            prefix = f"inputguitab.{element.widget.lower()}"
            keys = [
                _keys(f"{prefix}.name{{{element_id}}}", "NAME", element.label, None),
                _keys(f"{prefix}.description{{{element_id}}}", "DESCRIPTION", element.help, None),
            ]
            is_list = element.type == "LIST"
            if is_list:
                keys.append(
                    _keys(f"{prefix}.listName{{{element_id}}}", "LIST_NAME", element.label, None)
                )
            default_value = ""
            if element.type not in (None, "LIST"):
                default_value = _variable_value(element, None)
            elements.append(
                {
                    "widget": element.widget,
                    "id": element_id,
                    "variable_id": variable_id,
                    "name": element.label[locale],
                    "description": element.help[locale],
                    "max_length": None if element.widget in _NO_MAX_LENGTH else 0,
                    "translations": keys,
                    "default_value": default_value,
                    "list_name": element.label[locale] if is_list else None,
                    "choices": list(element.choices),
                    "default_selection": (
                        element.choices.index(default_value) if element.choices else None
                    ),
                }
            )
        tab_id = stable_id(mid, f"inputGUITab/{tab.id}")
        tabs.append(
            {
                "id": tab_id,
                "name": tab.label[locale],
                "name_keys": _keys(f"inputguitab.name{{{tab_id}}}", "NAME", tab.label, None),
                "elements": elements,
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
    functions: dict[str, dict[str, str]] = {}
    for point in meta.entry_points:
        function = functions.setdefault(
            point.class_name,
            {
                "id": point.simple_name,
                "name": point.simple_name,
                "implementation_file": classes[point.class_name],
                "stages": "",
            },
        )
        function["stages"] = ", ".join(filter(None, [function["stages"], point.stage]))
    for function in functions.values():
        function["description"] = f"{meta.name}: {function['stages']}"
    kernel_entry_points = [
        {
            "id": stable_id(mid, f"entryPoint/{point.stage}"),
            "name": meta.name,
            "stage": point.stage,
            "target_id": point.simple_name,
            "target_name": point.simple_name,
        }
        for point in meta.entry_points
        if point.kind == "agiKernel"
    ]
    lifecycle_entry_points = [
        {
            "id": stable_id(mid, f"entryPoint/{point.stage}"),
            "name": point.stage,
            "stage": point.stage,
            "target_id": point.simple_name,
            "target_name": point.simple_name,
        }
        for point in meta.entry_points
        if point.kind == "lifeCycle"
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
        "functions": list(functions.values()),
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
    form_source: str = "form.toml",
) -> bytes:
    """The descriptor's bytes (UTF-8) for `variant`, not yet validated."""
    context = descriptor_context(meta, variant, file_names, form, form_source)
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
