"""Our XSD of `module-descriptor.xsd`, written from real exports, and a parser safe for uploads."""

from __future__ import annotations

from functools import cache
from importlib import resources

from lxml import etree

SCHEMA_NAME = "module-descriptor.xsd"


def safe_xml_parser() -> etree.XMLParser:
    """No entity expansion, no DTD loading, no network: a descriptor may come from an upload."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False,
    )


@cache
def descriptor_schema() -> etree.XMLSchema:
    """The compiled descriptor XSD (read once per process)."""
    xsd = resources.files(__package__).joinpath("schema", SCHEMA_NAME).read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd, safe_xml_parser()))
