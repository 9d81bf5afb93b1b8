"""Reading any `.sfm` module file (ours or a real STARFACE export) into what `sfm inspect` shows.

An `.sfm` is a JAR: `META-INF/MANIFEST.MF`, `module-descriptor.xml` and the module's resources.
`read_sfm(path)` opens one, parses both metadata files (the XML with entity resolution, network
and DTD loading all off) and runs the integrity checks a STARFACE host runs on import. It refuses
anything that is not a readable module with `runtime.errors.Refused`, naming the file and the
part at fault; it never extracts anything to disk.

Our own builds carry three extra manifest headers that real exports lack (see `MANIFEST_*`
below): the human version, the build variant and the lowest PBX version the build fits.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from runtime.errors import Refused
from sfm_format.integrity import no_license_id
from sfm_format.manifest import parse_manifest
from sfm_format.schema import safe_xml_parser

MANIFEST_NAME = "META-INF/MANIFEST.MF"
DESCRIPTOR_NAME = "module-descriptor.xml"

# Manifest headers our build adds (real exports have none of them: the values are then None).
MANIFEST_DISPLAY_VERSION = "Module-Display-Version"
MANIFEST_VARIANT = "Module-Variant"
MANIFEST_MIN_PBX_VERSION = "Module-Min-Pbx-Version"

# STARFACE refuses a module whose manifest spec version is above this.
MAX_SPEC_VERSION = 5

# Limits against hostile uploads: a descriptor or manifest larger than this is not a module.
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 10_000

_PBX_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")


@dataclass(frozen=True)
class EntryPoint:
    """One entry point of the descriptor.

    `kind` is the element name (e.g. `agiKernelEntryPoint`), `stage` the stage it runs at (an
    attribute for kernel entry points, a `<stage>` child for life-cycle ones; None if neither),
    `name` its name attribute, `target` the `functionReference/@targetId` it calls (for our
    modules the fully qualified Java class), or None.
    """

    kind: str
    stage: str | None
    name: str
    target: str | None

    def to_json(self) -> dict[str, Any]:
        """The `{kind, stage, name}` object of INTERFACES.md."""
        return {"kind": self.kind, "stage": self.stage, "name": self.name}


@dataclass(frozen=True)
class Resource:
    """A `<file>` listed in the descriptor's `<resources>`: its id, name and the ZIP member
    that holds it (None when the file is missing)."""

    id: str
    name: str
    member: str | None


@dataclass(frozen=True)
class Integrity:
    """The import checks: each True when the file passes it."""

    manifest_matches_descriptor: bool
    no_license_id_valid: bool
    resources_complete: bool

    @property
    def ok(self) -> bool:
        """True when every check passes."""
        return (
            self.manifest_matches_descriptor
            and self.no_license_id_valid
            and self.resources_complete
        )

    def to_json(self) -> dict[str, bool]:
        return {
            "manifest_matches_descriptor": self.manifest_matches_descriptor,
            "no_license_id_valid": self.no_license_id_valid,
            "resources_complete": self.resources_complete,
        }


@dataclass(frozen=True)
class SfmInfo:
    """What one `.sfm` file says about itself, and whether it holds together."""

    path: Path
    id: str
    name: str
    vendor: str
    version: int  # the descriptor's integer build number
    display_version: str | None
    spec_version: int
    variant: str | None
    min_pbx_version: str | None
    create_time: int | None
    last_changed_time: int | None
    created_with: str | None
    no_license_id: str | None
    write_hash: str | None
    manifest: dict[str, str]
    entry_points: tuple[EntryPoint, ...]
    resources: tuple[Resource, ...]
    integrity: Integrity
    files: tuple[str, ...]  # every ZIP member that is a file, in archive order

    def to_json(self) -> dict[str, Any]:
        """The `sfm inspect --json` document of INTERFACES.md, keys in that order."""
        return {
            "id": self.id,
            "name": self.name,
            "vendor": self.vendor,
            "version": self.version,
            "display_version": self.display_version,
            "spec_version": self.spec_version,
            "variant": self.variant,
            "min_pbx_version": self.min_pbx_version,
            "entry_points": [entry.to_json() for entry in self.entry_points],
            "integrity": self.integrity.to_json(),
            "files": list(self.files),
        }

    def entry_point(self, kind: str, stage: str | None = None) -> EntryPoint | None:
        """The first entry point of this kind (and stage, if given), or None."""
        for entry in self.entry_points:
            if entry.kind == kind and (stage is None or entry.stage == stage):
                return entry
        return None


def _safe_member_name(name: str) -> bool:
    """False for ZIP names that would escape an extraction folder."""
    if name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in PurePosixPath(name).parts


def parse_descriptor(data: bytes, source: str) -> etree._Element:
    """The descriptor's root element; Refused naming `source` if it is not well-formed XML."""
    try:
        root = etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise Refused(f"{source}: {DESCRIPTOR_NAME} is not well-formed XML ({exc}).") from None
    if root.tag != "module":
        raise Refused(
            f"{source}: {DESCRIPTOR_NAME} has root element <{root.tag}>, expected <module>."
        )
    return root


def _read_member(archive: zipfile.ZipFile, name: str, source: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_METADATA_BYTES:
        raise Refused(f"{source}: {name} is {info.file_size} bytes, too large for module metadata.")
    try:
        with archive.open(info) as handle:
            data = handle.read(MAX_METADATA_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise Refused(f"{source}: cannot read {name} from the archive ({exc}).") from None
    if len(data) > MAX_METADATA_BYTES:
        raise Refused(f"{source}: {name} is too large for module metadata.")
    return data


def _int_attribute(root: etree._Element, attr: str, source: str, required: bool) -> int | None:
    raw = root.get(attr)
    if raw is None:
        if required:
            raise Refused(f"{source}: {DESCRIPTOR_NAME} has no module/@{attr}.")
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise Refused(
            f"{source}: {DESCRIPTOR_NAME} module/@{attr} is {raw!r}, not an integer."
        ) from None


def _child_text(root: etree._Element, tag: str) -> str | None:
    element = root.find(tag)
    if element is None:
        return None
    return (element.text or "").strip()


def _entry_points(root: etree._Element) -> tuple[EntryPoint, ...]:
    container = root.find("entryPoints")
    if container is None:
        return ()
    entries = []
    for element in container:
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        stage = element.get("stage")
        if stage is None:
            stage_element = element.find("stage")
            if stage_element is not None:
                stage = (stage_element.text or "").strip() or None
        reference = element.find("functionReference")
        target = reference.get("targetId") if reference is not None else None
        entries.append(
            EntryPoint(kind=element.tag, stage=stage, name=element.get("name", ""), target=target)
        )
    return tuple(entries)


def _resources(root: etree._Element, files: tuple[str, ...]) -> tuple[Resource, ...]:
    container = root.find("resources")
    if container is None:
        return ()
    present = set(files)
    # Real exports sometimes store a listed file as res/<id>.<ext> instead of under its name.
    by_stem: dict[str, str] = {}
    by_base: dict[str, str] = {}  # ...or a class listed as X.class stored by its package path
    for stored in files:
        by_stem.setdefault(PurePosixPath(stored).stem, stored)
        by_base.setdefault(PurePosixPath(stored).name, stored)
    listed = []
    for element in container.iter("file"):
        file_id = element.get("id", "")
        name = element.get("name", "")
        if name in present:
            member: str | None = name
        elif file_id and file_id in by_stem:
            member = by_stem[file_id]
        elif name.endswith(".class") and name in by_base:
            member = by_base[name]
        else:
            member = None
        listed.append(Resource(id=file_id, name=name, member=member))
    return tuple(listed)


def _is_metadata(member: str) -> bool:
    """Members that are the container itself, not resources the descriptor must list."""
    return member == DESCRIPTOR_NAME or member.upper().startswith("META-INF/")


def read_sfm(path: Path | str) -> SfmInfo:
    """Read the `.sfm` at `path`: its identity, variant, entry points, files and integrity.

    Raises `Refused` (naming the file and the part) if the file is not a ZIP, lacks the
    manifest or descriptor, has unsafe member names, or its metadata cannot be parsed.
    Integrity failures are not refusals: they are reported in `SfmInfo.integrity`.
    """
    path = Path(path)
    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise Refused(f"{source}: no such file.") from None
    except IsADirectoryError:
        raise Refused(f"{source}: is a folder, not an .sfm file.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused(f"{source}: not an .sfm file (not a ZIP/JAR archive: {exc}).") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise Refused(f"{source}: {len(infos)} archive entries, more than {MAX_ENTRIES}.")
        names = [info.filename for info in infos]
        for name in names:
            if not _safe_member_name(name):
                raise Refused(f"{source}: archive entry {name!r} has an unsafe path.")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise Refused(f"{source}: archive entry {duplicates[0]!r} appears more than once.")
        files = tuple(info.filename for info in infos if not info.is_dir())
        if MANIFEST_NAME not in files:
            raise Refused(f"{source}: not an .sfm file ({MANIFEST_NAME} is missing).")
        if DESCRIPTOR_NAME not in files:
            raise Refused(f"{source}: not an .sfm file ({DESCRIPTOR_NAME} is missing).")
        manifest_bytes = _read_member(archive, MANIFEST_NAME, source)
        descriptor_bytes = _read_member(archive, DESCRIPTOR_NAME, source)

    try:
        manifest = parse_manifest(manifest_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(f"{source}: {MANIFEST_NAME} is not UTF-8 text.") from None
    except ValueError as exc:
        raise Refused(f"{source}: {MANIFEST_NAME} {exc}.") from None

    root = parse_descriptor(descriptor_bytes, source)
    module_id = root.get("id")
    if not module_id:
        raise Refused(f"{source}: {DESCRIPTOR_NAME} has no module/@id.")
    version = _int_attribute(root, "version", source, required=True)
    spec_version = _int_attribute(root, "specVersion", source, required=True)
    assert version is not None and spec_version is not None
    last_changed = _int_attribute(root, "lastChangedTime", source, required=False)
    created = _int_attribute(root, "createTime", source, required=False)
    nli = _child_text(root, "noLicenseId")
    entry_points = _entry_points(root)
    resources = _resources(root, files)

    manifest_spec = manifest.get("StarfaceModule_SpecVersion", "").strip()
    manifest_matches = (
        manifest.get("ObjectId", "").strip() == module_id
        and manifest_spec.isdigit()
        and int(manifest_spec) <= MAX_SPEC_VERSION
        and int(manifest_spec) == spec_version
    )
    nli_valid = (
        nli is not None
        and last_changed is not None
        and nli.lower() == no_license_id(module_id, root.get("lastChangedTime", "").strip())
    )
    listed_members = {resource.member for resource in resources}
    # Every listed file must be there; real exports do not list every class they ship (the
    # reloader lists none), so an unlisted class file is no gap.
    resources_complete = all(resource.member is not None for resource in resources) and all(
        member in listed_members
        for member in files
        if not _is_metadata(member) and not member.endswith(".class")
    )

    min_pbx = manifest.get(MANIFEST_MIN_PBX_VERSION)
    if min_pbx is not None and not _PBX_VERSION.match(min_pbx.strip()):
        raise Refused(
            f"{source}: {MANIFEST_NAME} {MANIFEST_MIN_PBX_VERSION} is {min_pbx!r}, "
            "not a version such as 8.1.0.4."
        )
    return SfmInfo(
        path=path,
        id=module_id,
        name=root.get("name", ""),
        vendor=root.get("vendor", ""),
        version=version,
        display_version=_stripped(manifest.get(MANIFEST_DISPLAY_VERSION)),
        spec_version=spec_version,
        variant=_stripped(manifest.get(MANIFEST_VARIANT)),
        min_pbx_version=_stripped(min_pbx),
        create_time=created,
        last_changed_time=last_changed,
        created_with=_child_text(root, "createdWith"),
        no_license_id=nli,
        write_hash=_child_text(root, "writeHash"),
        manifest=manifest,
        entry_points=entry_points,
        resources=resources,
        integrity=Integrity(
            manifest_matches_descriptor=manifest_matches,
            no_license_id_valid=nli_valid,
            resources_complete=resources_complete,
        ),
        files=files,
    )


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None
