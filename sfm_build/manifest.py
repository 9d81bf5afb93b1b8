"""`META-INF/MANIFEST.MF` of one build variant, as STARFACE writes it: a JAR manifest.

The template gives the headers of real exports (Manifest-Version, ObjectId,
StarfaceModule_SpecVersion, Created-By, Create-Date) plus our three (display version, variant,
minimum PBX version). This module turns the rendered text into a valid JAR manifest: CRLF line
ends, lines of at most 72 bytes (longer ones continue on the next line after one space), and a
blank line at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

from sfm_build.descriptor import SPEC_VERSION
from sfm_build.errors import BuildError
from sfm_build.metadata import ModuleMetadata, Variant
from sfm_build.rendering import TEMPLATES_DIR, render

MANIFEST_NAME = "META-INF/MANIFEST.MF"
MANIFEST_TEMPLATE = "MANIFEST.MF.j2"
MAX_LINE_BYTES = 72

# Our headers (the names runtime/sfm_file.py reads; keep the two in step).
HEADERS = {
    "display_version": "Module-Display-Version",
    "variant": "Module-Variant",
    "min_pbx_version": "Module-Min-Pbx-Version",
}

_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def render_manifest(
    meta: ModuleMetadata, variant: Variant, templates_dir: Path = TEMPLATES_DIR
) -> bytes:
    """The manifest's bytes for `variant`; BuildError naming the header at fault."""
    text = render(
        templates_dir,
        MANIFEST_TEMPLATE,
        {"module": meta, "variant": variant, "spec_version": SPEC_VERSION, "headers": HEADERS},
    )
    return to_jar_manifest(text, str(templates_dir / MANIFEST_TEMPLATE))


def to_jar_manifest(text: str, source: str) -> bytes:
    """`Name: value` lines as JAR manifest bytes (UTF-8, CRLF, wrapped at 72 bytes)."""
    out: list[bytes] = []
    seen: set[str] = set()
    # Only CR and LF end a manifest line (str.splitlines would also split at U+0085 etc.).
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if line == "":
            continue
        name, sep, value = line.partition(": ")
        if not sep or not _HEADER_NAME.match(name):
            raise BuildError(f"{source}, line {number}: {line!r} is not a 'Name: value' header.")
        if name in seen:
            raise BuildError(f"{source}, line {number}: header {name} appears twice.")
        seen.add(name)
        if not value.strip() or "\r" in value or "\x00" in value:
            raise BuildError(f"{source}, line {number}: header {name} has no usable value.")
        out.extend(_wrap(f"{name}: {value}".encode()))
    return b"".join(line + b"\r\n" for line in out) + b"\r\n"


def _wrap(line: bytes) -> list[bytes]:
    """Split a header line into 72-byte pieces, never inside a UTF-8 character."""
    pieces = []
    limit = MAX_LINE_BYTES
    while len(line) > limit:
        cut = limit
        while cut > 0 and (line[cut] & 0xC0) == 0x80:
            cut -= 1  # do not split a multi-byte character
        pieces.append(line[:cut])
        line = b" " + line[cut:]
    pieces.append(line)
    return pieces
