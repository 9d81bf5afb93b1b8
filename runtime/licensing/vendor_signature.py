"""The vendor signature of a module: checked on upload, and again to pick the licence key.

An upload must carry `META-INF/SFM-SIGNATURE.json` (see `sfm_format.signature`) made by a key
in the host's trust store, covering every other entry of the .sfm. Only in development mode is
an unsigned upload accepted (real STARFACE exports used as test material); such a module can
run its trial but no licence can be verified for it. The key that checks a module's licences
is the trusted key that signed its installed build: re-zipping the .sfm with another key, or
editing the unpacked build's files, cannot change it.
"""

from __future__ import annotations

import hashlib
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
    digests: dict[str, str] = {}
    document: bytes | None = None
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.filename == SIGNATURE_ENTRY:
                document = archive.read(info)
                continue
            digest = hashlib.sha256()
            with archive.open(info) as entry:  # in chunks: sizes were capped by check_archive
                while chunk := entry.read(1024 * 1024):
                    digest.update(chunk)
            digests[info.filename] = digest.hexdigest()
    if document is None:
        if development_mode():
            return None
        raise Refused(
            f"{what}: the module carries no vendor signature ({SIGNATURE_ENTRY}); this host "
            "installs only modules signed by a vendor in its trust store (in development mode, "
            f"{DEV_MODE_HINT}, unsigned ones too); "
            "nothing was installed."
        )
    try:
        listing = _listing_for(document, module_id)
        key = trusted_key(listing.key_id, what)
        listing.verify(key.public_key)
        listing.check_digests(digests)
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

    Refused (with the reason, for the licence status) when the build is unsigned, or its
    signature is for another module, not from a trusted key, or does not match. The files
    themselves were checked against the signature on upload; here only the signature decides
    the key, so editing, swapping or deleting any other file changes nothing.
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
    except SignatureError as exc:
        raise Refused(f"{what}: {exc}") from None
    return key
