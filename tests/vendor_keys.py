"""Vendor signing keys for tests: a fresh Ed25519 key pair per vendor, and building with it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def new_vendor_key(folder: Path, name: str) -> tuple[Path, Path]:
    """(private key file, public key file) of a new vendor key, written as `folder/name.*`.

    The public half goes to `folder/trusted/name.pem`, so `folder/trusted` can serve as a trust
    store folder (SFM_DEV_TRUSTED_KEYS, or the release folder patched in-process)."""
    key = Ed25519PrivateKey.generate()
    private = folder / f"{name}.key"
    public = folder / "trusted" / f"{name}.pem"
    public.parent.mkdir(parents=True, exist_ok=True)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@contextmanager
def signing_with(private_key: Path) -> Iterator[None]:
    """Builds inside sign with `private_key` (SFM_SIGNING_KEY), as a vendor's release build."""
    before = os.environ.get("SFM_SIGNING_KEY")
    os.environ["SFM_SIGNING_KEY"] = str(private_key)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SFM_SIGNING_KEY"]
        else:
            os.environ["SFM_SIGNING_KEY"] = before
