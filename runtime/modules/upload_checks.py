"""The hostile-input checks on an uploaded .sfm, run on its raw bytes before anything else reads it.

An upload is untrusted: it may be no ZIP at all, a ZIP bomb, carry entry names that climb out
of the install folder, links, duplicates, a manifest that disagrees with the descriptor, or a
descriptor with a DTD. `check_archive` refuses all of that with `runtime.errors.Refused` (a
message naming the file and the reason) and touches nothing; `check_fit` then decides whether a
well-formed module may go onto this PBX (minimum PBX version, downgrade).
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from runtime.errors import Refused
from sfm_format import manifest as format_manifest
from sfm_format.integrity import no_license_id
from sfm_format.schema import descriptor_schema, safe_xml_parser

MANIFEST_NAME = "META-INF/MANIFEST.MF"
DESCRIPTOR_NAME = "module-descriptor.xml"
PYTHON_DIR = "python/"
LICENCE_KEY_NAME = "licence-public-key.pem"
MAX_SPEC_VERSION = 5
DEFAULT_PBX_VERSION = "8.1.0.4"


@dataclass(frozen=True)
class Limits:
    """Caps against ZIP bombs; a parameter so tests can use small numbers."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_entries: int = 4096
    max_total_bytes: int = 128 * 1024 * 1024
    max_entry_bytes: int = 64 * 1024 * 1024
    max_ratio: int = 100  # uncompressed / compressed, per entry
    ratio_floor_bytes: int = 64 * 1024  # entries smaller than this are not ratio-checked
    max_descriptor_bytes: int = 8 * 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class CheckedUpload:
    """What the checks established about an upload that passed them."""

    path: Path
    sha256: str
    module_id: str
    name: str
    vendor: str
    version: int
    spec_version: int
    last_changed_time: str
    runnable: bool  # it carries code and entry points to run (the installer's link check decides)
    entries: tuple[str, ...] = field(default=())
    total_bytes: int = 0


# Entry points this host runs (the others are only shown).
_RUNNABLE_ENTRIES = ("agiKernelEntryPoint", "lifeCycleEntryPoint")
# A module id becomes a folder name under DATA/modules/: letters, digits, '.', '_', '-' only.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(path: Path, reason: str) -> Refused:
    return Refused(f"{path.name}: {reason}; nothing was installed.")


def parse_version(text: str, what: str) -> tuple[int, ...]:
    """'8.1.0.4' -> (8, 1, 0, 4); Refused when it is not dotted integers."""
    parts = text.strip().split(".")
    if not text.strip() or not all(p.isdigit() for p in parts):
        raise Refused(f"{what} {text!r} is not a version like 8.1.0.4")
    return tuple(int(p) for p in parts)


def _check_name(path: Path, info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not name or "\x00" in name:
        raise _refuse(path, "an entry has an empty name or a NUL character in its name")
    if "\\" in name:
        raise _refuse(path, f"entry {name!r} has a backslash in its name")
    if name.startswith("/") or _DRIVE.match(name):
        raise _refuse(path, f"entry {name!r} has an absolute path")
    parts = name.rstrip("/").split("/")
    if any(part in ("..", ".", "") for part in parts):
        raise _refuse(path, f"entry {name!r} has '..', '.' or an empty part in its path")
    return name


def _check_kind(path: Path, info: zipfile.ZipInfo) -> None:
    """Only plain files and folders: links and devices are refused (seen in external_attr)."""
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # made on Unix: the upper 16 bits are st_mode
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise _refuse(path, f"entry {info.filename!r} is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(path, f"entry {info.filename!r} is not a plain file or folder")
    if info.flag_bits & 0x1:
        raise _refuse(path, f"entry {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _refuse(path, f"entry {info.filename!r} uses an unsupported compression method")


def _read_capped(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: int
) -> bytes:
    """The entry's bytes, decompressed in chunks and stopped as soon as a cap is crossed.

    The sizes in the ZIP directory are claims; this measures what really comes out.
    """
    cap = min(limits.max_entry_bytes, budget)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(1024 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise _refuse(
                        path,
                        f"entry {info.filename!r} unpacks to more than "
                        f"{cap} bytes (a ZIP bomb?)",
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, Refused):
            raise
        raise _refuse(path, f"entry {info.filename!r} is damaged ({exc})") from None
    data = b"".join(chunks)
    compressed = max(info.compress_size, 1)
    if size >= limits.ratio_floor_bytes and size / compressed > limits.max_ratio:
        raise _refuse(
            path,
            f"entry {info.filename!r} is compressed {size // compressed}:1, above the "
            f"limit of {limits.max_ratio}:1 (a ZIP bomb?)",
        )
    return data


def parse_manifest(path: Path, raw: bytes) -> dict[str, str]:
    """The main section of the upload's JAR manifest; Refused naming the line at fault."""
    try:
        return format_manifest.parse_manifest(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _refuse(path, f"{MANIFEST_NAME} is not UTF-8") from None
    except ValueError as exc:
        raise _refuse(path, f"{MANIFEST_NAME} {exc}") from None


def parse_descriptor(path: Path, raw: bytes) -> etree._Element:
    """The descriptor's root element; Refused if not well-formed, with a DTD, or off the XSD."""
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise _refuse(path, f"{DESCRIPTOR_NAME} declares a DTD or entities, which are not allowed")
    try:
        root = etree.fromstring(raw, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise _refuse(
            path, f"{DESCRIPTOR_NAME} is not well-formed XML (line {exc.lineno}: {exc.msg})"
        ) from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise _refuse(path, f"{DESCRIPTOR_NAME} declares a DTD, which is not allowed")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise _refuse(path, f"{DESCRIPTOR_NAME} uses XML entities, which are not allowed")
    schema = descriptor_schema()
    if not schema.validate(root):
        error = schema.error_log.last_error
        where = f"line {error.line}: " if error is not None else ""
        message = error.message if error is not None else "it does not match the schema"
        raise _refuse(path, f"{DESCRIPTOR_NAME} breaks the module schema ({where}{message})")
    return root


def check_archive(path: Path, limits: Limits = DEFAULT_LIMITS) -> CheckedUpload:
    """Check an uploaded .sfm's bytes; Refused with the file and the reason, or what it holds.

    Reads the file only: nothing on disk or in the database changes, whatever the outcome.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Refused(f"{path}: cannot read the file ({exc.strerror})") from None
    if not path.is_file():
        raise Refused(f"{path}: is not a file")
    if size > limits.max_file_bytes:
        raise _refuse(path, f"the file is {size} bytes, above the limit of {limits.max_file_bytes}")
    raw_file = path.read_bytes()
    if not zipfile.is_zipfile(path):
        raise _refuse(path, "this is not an .sfm (not a ZIP/JAR file)")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(path, f"this is not a readable ZIP/JAR file ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise _refuse(
                path, f"it has {len(infos)} entries, above the limit of {limits.max_entries}"
            )
        seen: set[str] = set()
        for info in infos:
            name = _check_name(path, info)
            _check_kind(path, info)
            key = name.rstrip("/").casefold()
            if key in seen:
                raise _refuse(path, f"entry {name!r} appears twice")
            seen.add(key)
            if info.file_size > limits.max_entry_bytes:
                raise _refuse(
                    path,
                    f"entry {name!r} claims {info.file_size} bytes, above the limit of "
                    f"{limits.max_entry_bytes} (a ZIP bomb?)",
                )
        # A folder entry and a file entry at the same path, or a file under a "file".
        files = {i.filename for i in infos if not i.is_dir()}
        for name in files:
            for parent in PurePosixPath(name).parents:
                if str(parent) != "." and str(parent) in files:
                    raise _refuse(path, f"entry {name!r} lies under the file {str(parent)!r}")
        claimed = sum(i.file_size for i in infos)
        if claimed > limits.max_total_bytes:
            raise _refuse(
                path,
                f"it unpacks to {claimed} bytes, above the limit of {limits.max_total_bytes} "
                "(a ZIP bomb?)",
            )
        contents: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            data = _read_capped(path, archive, info, limits, limits.max_total_bytes - total)
            total += len(data)
            contents[info.filename] = data

    if MANIFEST_NAME not in contents:
        raise _refuse(path, f"it has no {MANIFEST_NAME}")
    if DESCRIPTOR_NAME not in contents:
        raise _refuse(path, f"it has no {DESCRIPTOR_NAME}")
    if len(contents[DESCRIPTOR_NAME]) > limits.max_descriptor_bytes:
        raise _refuse(path, f"{DESCRIPTOR_NAME} is larger than {limits.max_descriptor_bytes} bytes")
    manifest = parse_manifest(path, contents[MANIFEST_NAME])
    spec_text = manifest.get("StarfaceModule_SpecVersion")
    if spec_text is None:
        raise _refuse(path, f"{MANIFEST_NAME} has no StarfaceModule_SpecVersion")
    if not spec_text.isdigit():
        raise _refuse(
            path, f"{MANIFEST_NAME} StarfaceModule_SpecVersion {spec_text!r} is not an integer"
        )
    spec_version = int(spec_text)
    if spec_version > MAX_SPEC_VERSION:
        raise _refuse(
            path,
            f"StarfaceModule_SpecVersion is {spec_version}; this PBX reads modules up to "
            f"spec version {MAX_SPEC_VERSION}",
        )
    root = parse_descriptor(path, contents[DESCRIPTOR_NAME])

    module_id = root.get("id") or ""
    object_id = manifest.get("ObjectId")
    if object_id is None:
        raise _refuse(path, f"{MANIFEST_NAME} has no ObjectId")
    if object_id != module_id:
        raise _refuse(
            path,
            f"{MANIFEST_NAME} says ObjectId {object_id!r} but {DESCRIPTOR_NAME} says "
            f"module id {module_id!r}",
        )
    if not _SAFE_ID.fullmatch(module_id):
        raise _refuse(path, f"the module id {module_id!r} is not a plain id (letters, digits, -)")
    descriptor_spec = root.get("specVersion")
    if descriptor_spec is not None and descriptor_spec != spec_text:
        raise _refuse(
            path,
            f"{MANIFEST_NAME} says StarfaceModule_SpecVersion {spec_text} but "
            f"{DESCRIPTOR_NAME} says specVersion {descriptor_spec}",
        )
    version_text = root.get("version") or ""
    if not version_text.isdigit():
        raise _refuse(path, f"{DESCRIPTOR_NAME} module version {version_text!r} is not an integer")
    last_changed = root.get("lastChangedTime") or ""
    no_license = root.findtext("noLicenseId")
    expected = no_license_id(module_id, last_changed)
    if (no_license or "").strip().lower() != expected:
        raise _refuse(
            path,
            f"{DESCRIPTOR_NAME} noLicenseId {no_license!r} is wrong for module {module_id} "
            f"(lastChangedTime {last_changed}); the module would need a STARFACE licence key",
        )
    declares_functions = any(
        isinstance(e.tag, str) and etree.QName(e).localname in _RUNNABLE_ENTRIES
        for e in root.iter()
    )
    has_code = any(name.endswith(".class") for name in contents) or any(
        name.startswith(PYTHON_DIR) and name.count("/") == 2 and name.endswith("/__init__.py")
        for name in contents
    )
    runnable = declares_functions and has_code
    return CheckedUpload(
        path=path,
        sha256=hashlib.sha256(raw_file).hexdigest(),
        module_id=module_id,
        name=root.get("name") or module_id,
        vendor=root.get("vendor") or "",
        version=int(version_text),
        spec_version=spec_version,
        last_changed_time=last_changed,
        runnable=runnable,
        entries=tuple(i.filename for i in infos),
        total_bytes=total,
    )


def check_fit(
    upload: CheckedUpload,
    *,
    min_pbx_version: str | None,
    variant: str | None,
    pbx_version: str,
    installed_version: int | None,
    allow_downgrade: bool,
) -> None:
    """Refuse a module this PBX cannot take: too new for it, or older than the installed one."""
    path = upload.path
    if min_pbx_version:
        needed = parse_version(min_pbx_version, f"{path.name}: the minimum PBX version")
        have = parse_version(pbx_version, "this PBX's version")
        if needed > have:
            if variant == "current":
                instead = "take the legacy build of this module instead"
            else:
                instead = f"take a build of this module made for PBX {pbx_version} or older"
            raise _refuse(
                path,
                f"this build needs PBX {min_pbx_version} or newer and this PBX is "
                f"{pbx_version}: {instead}",
            )
    if installed_version is not None and upload.version < installed_version and not allow_downgrade:
        raise _refuse(
            path,
            f"it is version {upload.version} of {upload.name} but version {installed_version} "
            "is installed; a downgrade needs --allow-downgrade",
        )
