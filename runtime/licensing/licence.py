"""The signed licence: its file format, how the vendor signs it, how the PBX checks it offline.

A licence file is one JSON object:

    {"format": "sfm-licence/1",
     "payload": "<base64 of the payload's JSON bytes>",
     "signature": "<base64 Ed25519 signature of exactly those bytes>"}

The payload says `module_id`, `hardware_id`, `email`, `entitlement` (`{"max_build": N}`: the
module builds the licence covers, up to and including build N; an update purchase raises it)
and `issued` (ISO time). The signature covers the payload bytes as sent, so no JSON
canonicalisation is needed. Nothing in a licence depends on the clock: once a licence covers
the installed build, it covers it on every later day.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runtime.errors import Refused

FORMAT = "sfm-licence/1"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The public half that a default build embeds; used for simulations and tests only.
DEVELOPMENT_PUBLIC_KEY = REPO_ROOT / "module_src" / "licence-public-key.pem"
DEVELOPMENT_SIGNING_KEY = Path(__file__).with_name("dev-signing-key.pem")


@dataclass(frozen=True)
class Licence:
    """A licence whose signature has been checked."""

    module_id: str
    hardware_id: str
    email: str
    max_build: int
    issued: str
    document: str  # the licence file as text, to store exactly as received

    def covers(self, build: int | None) -> bool:
        """True if the licence covers module build `build` (None: unknown, taken as covered)."""
        return build is None or build <= self.max_build


def load_private_key(pem: bytes, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; refused naming `source` if it is not one."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise Refused(f"{source}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise Refused(f"{source}: the signing key must be an Ed25519 key")
    return key


def load_public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; refused naming `source` if it is not one."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise Refused(f"{source}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Refused(f"{source}: the licence public key must be an Ed25519 key")
    return key


def issue_licence(
    signing_key: Ed25519PrivateKey,
    *,
    module_id: str,
    hardware_id: str,
    email: str,
    max_build: int,
    issued: str,
) -> str:
    """The vendor's side: a signed licence file (text) for these facts."""
    payload = {
        "module_id": module_id,
        "hardware_id": hardware_id,
        "email": email,
        "entitlement": {"max_build": max_build},
        "issued": issued,
    }
    payload_bytes = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    document = {
        "format": FORMAT,
        "payload": base64.b64encode(payload_bytes).decode("ascii"),
        "signature": base64.b64encode(signing_key.sign(payload_bytes)).decode("ascii"),
    }
    return json.dumps(document, indent=2) + "\n"


def _field(payload: dict[str, Any], name: str, kind: type, source: str) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Refused(f"{source}: the licence field '{name}' is missing or not a {kind.__name__}")
    return value


def read_licence(document: str | bytes, public_key_pem: bytes, source: str) -> Licence:
    """Check a licence file's format and signature; return what it says.

    Refused (naming `source` and why) if it is not a licence file, or if its signature does
    not match the vendor's key `public_key_pem` (a tampered or foreign-vendor licence).
    It does not yet check that the licence fits this PBX and module: see `check_fits`.
    """
    public_key = load_public_key(public_key_pem, "the module's licence-public-key.pem")
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    try:
        outer = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(
            f"{source}: not a licence file (JSON error at line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise Refused(f'{source}: not a licence file (no "format": "{FORMAT}")')
    try:
        payload_bytes = base64.b64decode(str(outer.get("payload", "")), validate=True)
        signature = base64.b64decode(str(outer.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{source}: the licence's payload or signature is not base64") from None
    try:
        public_key.verify(signature, payload_bytes)
    except InvalidSignature:
        raise Refused(
            f"{source}: the licence's signature does not match (the licence was altered, or "
            "was not issued by this module's vendor)"
        ) from None
    try:
        payload = json.loads(payload_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(f"{source}: the signed licence payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(f"{source}: the signed licence payload is not a JSON object")
    entitlement = _field(payload, "entitlement", dict, source)
    return Licence(
        module_id=_field(payload, "module_id", str, source),
        hardware_id=_field(payload, "hardware_id", str, source),
        email=_field(payload, "email", str, source),
        max_build=_field(entitlement, "max_build", int, source),
        issued=_field(payload, "issued", str, source),
        document=text,
    )


def check_fits(
    licence: Licence, *, module_id: str, hardware_id: str, build: int | None, source: str
) -> None:
    """Refuse (naming why) a licence for another module, another PBX, or an older entitlement.

    `build` is the installed module build (None when no build is installed: not checked).
    """
    if licence.module_id != module_id:
        raise Refused(
            f"{source}: the licence is for module {licence.module_id}, not for module {module_id}"
        )
    if licence.hardware_id != hardware_id:
        raise Refused(
            f"{source}: the licence is for the PBX with hardware id {licence.hardware_id}, "
            f"not for this PBX ({hardware_id})"
        )
    if not licence.covers(build):
        raise Refused(
            f"{source}: the licence's update entitlement covers builds up to {licence.max_build}, "
            f"but build {build} is installed: verify the update purchase by e-mail"
        )
