"""The main section of a JAR manifest (`META-INF/MANIFEST.MF`)."""

from __future__ import annotations


def parse_manifest(text: str) -> dict[str, str]:
    """The main section as a dict, continuation lines joined.

    Raises ValueError naming the line for a line that is not `Name: value`.
    """
    headers: dict[str, str] = {}
    last: str | None = None
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if line == "":
            if headers:
                break  # the main section ends at the first blank line
            continue
        if line.startswith(" ") and last is not None:
            headers[last] += line[1:]
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            raise ValueError(f"line {number} is not 'Name: value'")
        last = name
        headers[name] = value[1:] if value.startswith(" ") else value
    return headers
