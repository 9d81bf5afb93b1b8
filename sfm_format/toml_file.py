"""Reading a TOML file or text, refused in words: the one reader of the build, host and CLI.

People write the TOML files both parts read (module.toml and form.toml for the build; the PBX
directory, instance files and API bodies for the host), and a fault in any of them is refused
the same way: the file named, what is wrong in one sentence, no traceback. Each part raises its
own refusal type (`BuildError`, `Refused`), so the caller passes it in.

The module's own code keeps a copy (`breakthrough.config.read_toml_file`): it ships inside the
.sfm as uploaded code and imports nothing of ours.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

Refusal = Callable[[str], Exception]


def parse_toml(text: str | bytes, source: str, refuse: Refusal = ValueError) -> dict[str, Any]:
    """The TOML document in `text`; `refuse("<source>: ...")` raised when it is not UTF-8 text
    or not valid TOML (the parser's line and column in the sentence)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise refuse(f"{source}: is not UTF-8 text.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise refuse(f"{source}: is not valid TOML ({exc}).") from None


def read_toml_file(
    path: str | Path, refuse: Refusal = ValueError, *, missing: str | None = None
) -> dict[str, Any]:
    """The TOML document in the file `path`; `refuse` naming the file when it cannot be read,
    is not UTF-8 or not TOML. `missing` words the sentence for a file that does not exist."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise refuse(f"{path}: {missing or f'cannot read the file ({exc.strerror})'}.") from None
    except OSError as exc:
        raise refuse(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    return parse_toml(raw, str(path), refuse)
