"""E-mail addresses as the licensing accepts them (PBX side and licence service alike)."""

from __future__ import annotations

import re

from runtime.errors import Refused

MAX_LENGTH = 254
# A deliberately plain address: printable ASCII local part without spaces, quotes, angle
# brackets or commas, and a dotted domain. It cannot carry CR/LF, so it cannot inject headers.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def normalise_email(value: object, field: str = "email") -> str:
    """`value` as a normalised e-mail address (trimmed, lowercase), or Refused naming `field`.

    Refuses anything with CR, LF or other control characters, spaces, several addresses or
    display names, so the address can go into a mail header as it is.
    """
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{field}: an e-mail address is required")
    address = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in address):
        raise Refused(f"{field}: the e-mail address contains a line break or control character")
    if len(address) > MAX_LENGTH or not _ADDRESS.match(address) or ".." in address:
        raise Refused(f"{field}: {address!r} is not a valid e-mail address")
    return address.lower()
