"""The vendor's signature over each .sfm (`META-INF/SFM-SIGNATURE.json`, see
`sfm_format.signature`), made with the vendor's Ed25519 private key.

The key is the PEM file named by `SFM_SIGNING_KEY`; without it, the committed development key
(`runtime/licensing/dev-signing-key.pem`), which a host accepts only in development mode. A
release build sets `SFM_SIGNING_KEY` to the vendor's real key, whose public half is in the
hosts' trust store. Ed25519 signatures are deterministic, so builds stay byte-identical.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sfm_build.errors import BuildError
from sfm_format.signature import SIGNATURE_ENTRY, sign_entries

SIGNING_KEY_VARIABLE = "SFM_SIGNING_KEY"
DEVELOPMENT_SIGNING_KEY = (
    Path(__file__).resolve().parents[1] / "runtime" / "licensing" / "dev-signing-key.pem"
)


def signing_key() -> Ed25519PrivateKey:
    """The vendor's signing key for this build; BuildError naming the file if unusable."""
    given = os.environ.get(SIGNING_KEY_VARIABLE, "")
    path = Path(given) if given else DEVELOPMENT_SIGNING_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise BuildError(f"{path}: cannot read the signing key ({exc.strerror}).") from None
    except (ValueError, TypeError) as exc:
        raise BuildError(f"{path}: not a PEM private key ({exc}).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BuildError(f"{path}: the signing key must be an Ed25519 key.")
    return key


def with_signature(entries: Mapping[str, bytes], module_id: str) -> dict[str, bytes]:
    """`entries` plus the vendor signature entry covering all of them."""
    signed = {name: data for name, data in entries.items() if name != SIGNATURE_ENTRY}
    signed[SIGNATURE_ENTRY] = sign_entries(signed, module_id, signing_key())
    return signed
