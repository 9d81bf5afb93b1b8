"""The host's trust store: the vendors' public keys this host accepts, kept in the host itself.

A licence is checked against the key that signed the installed module, and that key must be
here, never taken from a file an admin can edit or re-zip (the module's own
`licence-public-key.pem` plays no part). Release keys are the `*.pem` files in
`runtime/licensing/trusted_keys/`, shipped with the host's code. The development key (whose
private half is committed, so anyone can sign with it) is trusted only when the host runs in
development mode: `sfm --dev ...` or the environment variable `SFM_DEV=1`. Only in that mode,
`SFM_DEV_TRUSTED_KEYS=DIR` adds the `*.pem` files of DIR (tests use it for "release" keys).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.errors import Refused
from runtime.licensing.licence import DEVELOPMENT_SIGNING_KEY, load_private_key, load_public_key
from sfm_format.signature import key_id

RELEASE_KEYS_DIR = Path(__file__).with_name("trusted_keys")
DEV_MODE_VARIABLE = "SFM_DEV"
DEV_KEYS_VARIABLE = "SFM_DEV_TRUSTED_KEYS"
DEV_MODE_HINT = "sfm --dev, or SFM_DEV=1"


@dataclass(frozen=True)
class TrustedKey:
    """A vendor key this host accepts, with where it came from (for messages)."""

    key_id: str
    public_key: Ed25519PublicKey
    origin: str

    def pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def development_mode() -> bool:
    """True when the host was started in development mode (`sfm --dev` or SFM_DEV=1)."""
    return os.environ.get(DEV_MODE_VARIABLE, "") == "1"


def development_key() -> TrustedKey:
    """The development key (public half of `dev-signing-key.pem`), trusted or not."""
    private = load_private_key(DEVELOPMENT_SIGNING_KEY.read_bytes(), str(DEVELOPMENT_SIGNING_KEY))
    public = private.public_key()
    return TrustedKey(key_id(public), public, "the development key")


def _keys_in(folder: Path) -> list[TrustedKey]:
    keys = []
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else ():
        public = load_public_key(path.read_bytes(), str(path))
        keys.append(TrustedKey(key_id(public), public, str(path)))
    return keys


def trusted_keys() -> dict[str, TrustedKey]:
    """key id -> key, for every key this host accepts now."""
    keys = _keys_in(RELEASE_KEYS_DIR)
    if development_mode():
        keys.append(development_key())
        extra = os.environ.get(DEV_KEYS_VARIABLE, "")
        if extra:
            keys.extend(_keys_in(Path(extra)))
    return {key.key_id: key for key in keys}


def trusted_key(signer: str, what: str) -> TrustedKey:
    """The trusted key with id `signer`; Refused naming `what` and why when it is not trusted."""
    found = trusted_keys().get(signer)
    if found is not None:
        return found
    if signer == development_key().key_id:
        raise Refused(
            f"{what} is signed with the development key, which this host trusts only in "
            f"development mode ({DEV_MODE_HINT})"
        )
    raise Refused(
        f"{what} is signed by the key {signer[:16]}…, which is not in this host's trust store "
        "of vendor keys"
    )
