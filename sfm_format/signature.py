"""The vendor's signature inside a .sfm: which bytes it covers, how it is made and checked.

The build adds one entry, `META-INF/SFM-SIGNATURE.json`:

    {"format": "sfm-signature/1",
     "module_id": "<the module id>",
     "key_id": "<sha256 hex of the signer's raw Ed25519 public key>",
     "files": {"<entry name>": "<sha256 hex of its bytes>", ...},   # every other entry
     "signature": "<base64 Ed25519 signature of the canonical JSON of the four fields above>"}

Because it lists each entry's digest rather than signing the ZIP's bytes, the same signature
can be checked on the upload (the ZIP entries) and later on the unpacked build folder. The
signature proves who built the module; which signers a host trusts is the host's business
(`runtime.licensing.trust_store`), never the archive's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_ENTRY = "META-INF/SFM-SIGNATURE.json"
FORMAT = "sfm-signature/1"


class SignatureError(ValueError):
    """The signature entry is malformed or does not match (the message says which)."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """The id of a signing key: sha256 hex of its 32 raw public bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _signed_bytes(module_id: str, signer: str, files: Mapping[str, str]) -> bytes:
    body = {"format": FORMAT, "module_id": module_id, "key_id": signer, "files": dict(files)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_entries(
    entries: Mapping[str, bytes], module_id: str, private_key: Ed25519PrivateKey
) -> bytes:
    """The signature entry's bytes for `entries` (name -> bytes, without the signature entry).

    Deterministic: Ed25519 signatures and the sorted JSON give the same bytes on every run.
    """
    files = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(entries.items())}
    files.pop(SIGNATURE_ENTRY, None)
    signer = key_id(private_key.public_key())
    signature = private_key.sign(_signed_bytes(module_id, signer, files))
    document = {
        "format": FORMAT,
        "module_id": module_id,
        "key_id": signer,
        "files": files,
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode("utf-8")


@dataclass(frozen=True)
class SignedListing:
    """A signature entry as read (not yet checked against a key)."""

    module_id: str
    key_id: str
    files: dict[str, str]  # entry name -> sha256 hex
    signature: bytes

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """SignatureError unless `public_key` made the signature over this listing."""
        if key_id(public_key) != self.key_id:
            raise SignatureError("the signature names another key than the one given")
        try:
            signed = _signed_bytes(self.module_id, self.key_id, self.files)
            public_key.verify(self.signature, signed)
        except InvalidSignature:
            raise SignatureError(
                "the vendor signature does not match its list of files (the .sfm was altered "
                "or re-signed after the build)"
            ) from None

    def check_digests(self, digests: Mapping[str, str]) -> None:
        """SignatureError unless `digests` (entry name -> sha256 hex, without the signature
        entry) are exactly the listed files with the listed digests."""
        names = set(digests) - {SIGNATURE_ENTRY}
        missing = sorted(set(self.files) - names)
        extra = sorted(names - set(self.files))
        if missing:
            raise SignatureError(f"the signed file {missing[0]!r} is missing")
        if extra:
            raise SignatureError(f"the file {extra[0]!r} is not covered by the vendor signature")
        for name in sorted(names):
            if digests[name] != self.files[name]:
                raise SignatureError(f"the file {name!r} was changed after the vendor signed it")


def read_listing(document: bytes) -> SignedListing:
    """Parse a signature entry; SignatureError naming what is wrong with it."""
    try:
        outer: Any = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SignatureError(f"{SIGNATURE_ENTRY} is not JSON") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise SignatureError(f'{SIGNATURE_ENTRY} has no "format": "{FORMAT}"')
    module_id, signer, files = outer.get("module_id"), outer.get("key_id"), outer.get("files")
    if not isinstance(module_id, str) or not isinstance(signer, str):
        raise SignatureError(f"{SIGNATURE_ENTRY} lacks its module_id or key_id")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise SignatureError(f"{SIGNATURE_ENTRY}: 'files' is not a map of names to digests")
    try:
        signature = base64.b64decode(str(outer.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_ENTRY}: the signature is not base64") from None
    return SignedListing(module_id, signer, dict(files), signature)
