"""STARFACE's integrity fields of a module descriptor (see the reference FACTS.md)."""

from __future__ import annotations

import hashlib


def sha1_hex(text: str) -> str:
    """Lower-case hex SHA-1 of the UTF-8 bytes of `text`."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def no_license_id(module_id: str, last_changed_time: int | str) -> str:
    """`noLicenseId`: sha1_hex(id + lastChangedTime + "STARFACE"); a wrong one makes STARFACE
    refuse the module."""
    return sha1_hex(f"{module_id}{last_changed_time}STARFACE")


def write_hash(module_id: str, password: str = "") -> str:
    """`writeHash`: sha1_hex(id + password); an empty password gives sha1_hex(id)."""
    return sha1_hex(module_id + password)
