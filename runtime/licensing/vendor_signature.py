"""The vendor signature of a module: checked on upload, and again to pick the licence key.

An upload must carry `META-INF/SFM-SIGNATURE.json` (see `sfm_format.signature`) made by a key
in the host's trust store, covering every other entry of the .sfm. Only in development mode is
an unsigned upload accepted (real STARFACE exports used as test material); such a module can
run its trial but no licence can be verified for it. The key that checks a module's licences
is the trusted key that signed its installed build: re-zipping the .sfm with another key, or
editing the unpacked build's files, cannot change it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from runtime.errors import Refused
from runtime.licensing.trust_store import DEV_MODE_HINT, TrustedKey, development_mode, trusted_key
from sfm_format.signature import SIGNATURE_ENTRY, SignatureError, SignedListing, read_listing


def check_upload_signature(path: Path, module_id: str) -> str | None:
    """Check the vendor signature of the uploaded .sfm at `path` (already through the
    hostile-input checks); the signer's key id, or None for an unsigned upload accepted in
    development mode. Refused, naming the file and the reason, otherwise.
    """
    what = f"{path.name}"
    with zipfile.ZipFile(path) as archive:
        entries = {
            info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()
        }
    document = entries.pop(SIGNATURE_ENTRY, None)
    if document is None:
        if development_mode():
            return None
        raise Refused(
            f"{what}: the module carries no vendor signature ({SIGNATURE_ENTRY}); this host "
            f"installs only modules signed by a vendor in its trust store (or {DEV_MODE_HINT}); "
            "nothing was installed."
        )
    try:
        listing = _listing_for(document, module_id)
        key = trusted_key(listing.key_id, what)
        listing.verify(key.public_key)
        listing.check_digests(entries)
    except (SignatureError, Refused) as exc:
        text = str(exc)
        if not text.startswith(what):
            text = f"{what}: {text}"
        raise Refused(f"{text}; nothing was installed.") from None
    return listing.key_id


def _listing_for(document: bytes, module_id: str) -> SignedListing:
    listing = read_listing(document)
    if listing.module_id != module_id:
        raise SignatureError(
            f"the vendor signature is for module {listing.module_id}, not for {module_id}"
        )
    return listing


def build_signer(build_folder: Path, module_id: str) -> TrustedKey:
    """The trusted key that signed the installed build in `build_folder`.

    Refused (with the reason, for the licence status) when the build is unsigned, its signature
    is not from a trusted key or does not match, or a signed file was changed on disk.
    """
    what = f"the installed build of {module_id}"
    try:
        document = (build_folder / SIGNATURE_ENTRY).read_bytes()
    except OSError:
        raise Refused(
            f"{what} carries no vendor signature, so no licence can be verified for it"
        ) from None
    try:
        listing = _listing_for(document, module_id)
        key = trusted_key(listing.key_id, what)
        listing.verify(key.public_key)
        files: dict[str, bytes] = {}
        for name in listing.files:
            try:
                files[name] = (build_folder / name).read_bytes()
            except OSError:
                continue  # reported as missing by check_digests
        listing.check_digests(files)
    except SignatureError as exc:
        raise Refused(f"{what}: {exc}") from None
    return key
