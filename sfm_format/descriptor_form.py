"""A module's configuration as its descriptor declares it: the `inputVars` variables and the
`inputGUITabs` of GUI elements bound to them, with their German and English labels from the
resource keys.

The build writes these elements (sfm_build); the host reads them back with `read_form` to store
an instance's variables by name and to draw the instance form. Works on real exports too:
elements this host does not draw are kept with `drawn = False`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from sfm_format.schema import safe_xml_parser

# GUI element -> what the host does with it. Headlines and infotexts bind no variable.
DRAWN_WIDGETS = (
    "headline",
    "infotext",
    "textInput",
    "passwordInput",
    "numberInput",
    "checkbox",
    "textList",
    "numberList",
    "textChoice",
    "numberChoice",
)
TEXT_ONLY_WIDGETS = ("headline", "infotext")
LANGS = ("de", "en")


@dataclass(frozen=True)
class Variable:
    """One `inputVars/variable`: its name, type and default (typed: bool, int, str, list)."""

    id: str
    name: str
    type: str  # STRING, NUMBER, BOOLEAN, LIST, ... as the descriptor says
    default: Any


@dataclass(frozen=True)
class Element:
    """One GUI element of a tab."""

    widget: str
    id: str
    variable: str | None  # the bound variable's name (None for a headline or an unbound id)
    label: dict[str, str]  # de, en (falling back to the element's name attribute)
    help: dict[str, str]
    choices: tuple[str, ...] = ()

    @property
    def drawn(self) -> bool:
        """Whether this host draws it (else the page says it is not supported here)."""
        return self.widget in DRAWN_WIDGETS

    @property
    def text_only(self) -> bool:
        return self.widget in TEXT_ONLY_WIDGETS


@dataclass(frozen=True)
class Tab:
    id: str
    label: dict[str, str]
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class ModuleForm:
    """The variables by name (descriptor order) and the tabs of a module's instance form."""

    variables: dict[str, Variable] = field(default_factory=dict)
    tabs: tuple[Tab, ...] = ()

    def element(self, variable: str) -> Element | None:
        """The (first) element bound to `variable`."""
        for tab in self.tabs:
            for element in tab.elements:
                if element.variable == variable:
                    return element
        return None

    def label(self, variable: str, lang: str) -> str:
        """The label of the element bound to `variable` in `lang`, else the variable's name."""
        element = self.element(variable)
        if element is None:
            return variable
        return element.label.get(lang) or variable


def read_form(descriptor: bytes) -> ModuleForm:
    """The variables and GUI tabs of a descriptor's bytes; ValueError if it is not XML."""
    try:
        root = etree.fromstring(descriptor, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the module descriptor is not well-formed XML ({exc})") from None
    lists = {
        resource.get("id", ""): [(value.text or "") for value in resource.iterfind("values/value")]
        for resource in root.iterfind("resources/listResource")
    }
    variables: dict[str, Variable] = {}
    by_id: dict[str, str] = {}
    for node in root.iterfind("inputVars/variable"):
        name = node.get("name", "")
        var_type = node.get("type", "STRING")
        raw = node.findtext("value") or ""
        variables[name] = Variable(
            id=node.get("id", ""), name=name, type=var_type, default=_typed(var_type, raw, lists)
        )
        by_id[node.get("id", "")] = name
    tabs = []
    for tab_node in root.iterfind("inputGUITabs"):
        tab_label = _texts(tab_node, "NAME", tab_node.get("name", ""))
        elements = []
        guis = tab_node.find("GUIDescriptors")
        for node in guis if guis is not None else ():
            if not isinstance(node.tag, str):
                continue  # comments
            choices = tuple((c.text or "") for c in node.iterfind("choices/choice"))
            elements.append(
                Element(
                    widget=node.tag,
                    id=node.get("id", ""),
                    variable=by_id.get(node.get("variableId", "")),
                    label=_texts(node, "NAME", node.get("name", "")),
                    help=_texts(node, "DESCRIPTION", node.findtext("description") or ""),
                    choices=choices,
                )
            )
        tabs.append(Tab(id=tab_node.get("id", ""), label=tab_label, elements=tuple(elements)))
    return ModuleForm(variables=variables, tabs=tuple(tabs))


def _typed(var_type: str, raw: str, lists: dict[str, list[str]]) -> Any:
    if var_type == "BOOLEAN":
        return raw.strip().lower() == "true"
    if var_type == "NUMBER":
        try:
            return int(raw.strip())
        except ValueError:
            return 0
    if var_type == "LIST":
        return list(lists.get(raw.strip(), []))
    return raw


def _texts(node: etree._Element, prop: str, fallback: str) -> dict[str, str]:
    """The de/en values of the element's resource keys for `prop` (NAME, DESCRIPTION)."""
    texts = {lang: "" for lang in LANGS}
    for keys in node.iterfind("resourceKeys"):
        if keys.findtext("propertyName") != prop:
            continue
        for entry in keys.iterfind("entries"):
            lang = entry.findtext("key")
            if lang in texts:
                texts[lang] = entry.findtext("value") or ""
    any_text = texts["en"] or texts["de"] or fallback
    return {lang: texts[lang] or any_text for lang in LANGS}
