"""The secret key of this PBX that signs its trial records (HMAC-SHA256).

Kept in `DATA/licensing/pbx.key` (owner-only), created once. It makes the trial record in the
database tamper-evident: editing its start or its latest-seen time without the key breaks the
signature, and a record with a broken signature counts as an ended trial.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from runtime.licensing.data_folder import licensing_dir, write_once

KEY_FILE = "pbx.key"


def pbx_key(data_dir: Path, hardware_id: str) -> bytes:
    """The HMAC key for trial records of this PBX, bound to its hardware id.

    Binding to the hardware id means a data folder copied to another machine does not carry
    valid trial records along.
    """
    secret = write_once(licensing_dir(data_dir) / KEY_FILE, secrets.token_hex(32).encode())
    return hmac.new(secret.strip(), hardware_id.encode(), hashlib.sha256).digest()


def sign(key: bytes, message: str) -> str:
    """Hex HMAC-SHA256 of `message`."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_matches(key: bytes, message: str, signature: str) -> bool:
    """Constant-time check of a signature made by `sign`."""
    return hmac.compare_digest(sign(key, message), signature)
