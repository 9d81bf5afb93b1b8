"""The module's identity, read from `module_src/module.toml`: the one place for it.

`load_metadata(path)` reads and checks the file and returns a `ModuleMetadata`; anything
missing or malformed is refused with a `BuildError` that names the file and the field, before
the build has touched anything.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sfm_build.errors import BuildError
from sfm_format.toml_file import read_toml_file

# Locales a STARFACE descriptor carries resource keys for, in the order real exports list them.
STARFACE_LOCALES = ("en", "de", "es", "fr", "nl", "pl", "sv")
# The locales our texts are written in; the other five are present but empty.
TRANSLATED_LOCALES = ("de", "en")

# Characters STARFACE refuses in a module name (it becomes part of file names, XML and the web
# UI), plus control characters.
_NAME_FORBIDDEN = set("<>&\"'/\\:*?|")
_PBX_VERSION = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_DISPLAY_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_CREATED_WITH = re.compile(r"^STARFACE (\d+\.\d+\.\d+\.\d+)$")
_VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_JAVA_RELEASES = (8, 11, 17)
_JAVA_CLASS = re.compile(r"^([a-z_][a-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*$")
# Stages seen in real exports (reference/starface-sfm/FACTS.md).
KERNEL_STAGES = (
    "PreTargetDetermination",
    "PostTargetDetermination",
    "PostTargetDeterminationIncoming",
    "PostLineSelection",
    "PreLineDial",
    "CallHangup",
)
LIFE_CYCLE_STAGES = (
    "InstanceCreated",
    "InstanceChanged",
    "InstanceActivated",
    "InstanceDeactivated",
    "InstanceDeleted",
    "SystemStarted",
)
_MAX_NAME = 64


@dataclass(frozen=True)
class Variant:
    """One build of the module for one PBX API level."""

    name: str  # "current", "legacy"
    min_pbx_version: str  # lowest PBX version this build runs on, e.g. "8.1.0.4"
    java_release: int  # javac --release
    log_api: str  # the PBX's module log API at that level (documentation)


@dataclass(frozen=True)
class EntryPoint:
    """One entry point of module.toml: the PBX calls the Java class `class_name` there."""

    kind: str  # "agiKernel" or "lifeCycle", as the descriptor's element names start
    stage: str
    class_name: str  # fully qualified

    @property
    def simple_name(self) -> str:
        """The class's simple name: the function's id and name in the descriptor."""
        return self.class_name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    kind: str  # "Bugfix", "Feature", ...
    text: dict[str, str]  # de, en


@dataclass(frozen=True)
class ModuleMetadata:
    """Everything the build says about the module, from module.toml."""

    source: Path
    id: str
    name: str
    vendor: str
    display_version: str
    build_number: int
    support_email: str
    created_with: str  # "STARFACE 8.1.2.2"
    default_locale: str
    created_time: int  # ms since the epoch
    last_changed_time: int  # ms since the epoch
    description: dict[str, str]
    limitation: dict[str, str]
    variants: tuple[Variant, ...]
    changelog: tuple[ChangelogEntry, ...]
    entry_points: tuple[EntryPoint, ...] = ()

    @property
    def starface_version(self) -> str:
        """The version in `created_with`, e.g. "8.1.2.2"."""
        found = _CREATED_WITH.match(self.created_with)
        assert found  # checked on load
        return found.group(1)

    @property
    def create_date(self) -> str:
        """The manifest's Create-Date: `last_changed_time` as ISO 8601 in UTC (deterministic)."""
        moment = datetime.fromtimestamp(self.last_changed_time // 1000, tz=UTC)
        return moment.isoformat(timespec="seconds")

    def variant(self, name: str) -> Variant:
        """The variant of that name; BuildError if module.toml has none."""
        for candidate in self.variants:
            if candidate.name == name:
                return candidate
        known = ", ".join(v.name for v in self.variants)
        raise BuildError(f"{self.source}: there is no [variants.{name}] (known: {known}).")


def load_metadata(path: Path) -> ModuleMetadata:
    """Read and check `module.toml`; BuildError naming the file and field on any fault."""
    raw = read_toml_file(path, BuildError, missing="module metadata file not found")
    return parse_metadata(raw, path)


def parse_metadata(raw: dict[str, Any], source: Path) -> ModuleMetadata:
    """Check the parsed TOML document `raw` (from `source`) and build the metadata."""
    module = _table(raw, "module", source)
    where = f"{source}: [module]"

    module_id = _string(module, "id", where)
    try:
        parsed = uuid.UUID(module_id)
    except ValueError:
        raise BuildError(f"{where} id = {module_id!r} is not a UUID.") from None
    if str(parsed) != module_id:
        raise BuildError(
            f"{where} id = {module_id!r} must be a UUID in lower-case canonical form ({parsed})."
        )

    name = _string(module, "name", where)
    _check_name(name, f"{where} name")
    vendor = _string(module, "vendor", where)
    _check_text(vendor, f"{where} vendor")

    display_version = _string(module, "display_version", where)
    if not _DISPLAY_VERSION.match(display_version):
        raise BuildError(
            f"{where} display_version = {display_version!r} is not a version such as 2.6.1."
        )
    build_number = _integer(module, "build_number", where, minimum=1)
    support_email = _string(module, "support_email", where)
    if not re.match(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[a-z]{2,}$", support_email):
        raise BuildError(f"{where} support_email = {support_email!r} is not an e-mail address.")
    created_with = _string(module, "created_with", where)
    if not _CREATED_WITH.match(created_with):
        raise BuildError(f"{where} created_with = {created_with!r} is not like 'STARFACE 8.1.2.2'.")
    default_locale = _string(module, "default_locale", where)
    if default_locale not in TRANSLATED_LOCALES:
        raise BuildError(
            f"{where} default_locale = {default_locale!r} must be one of "
            f"{', '.join(TRANSLATED_LOCALES)}."
        )
    created_time = _integer(module, "created_time", where, minimum=0)
    last_changed_time = _integer(module, "last_changed_time", where, minimum=0)
    if last_changed_time < created_time:
        raise BuildError(f"{where} last_changed_time is earlier than created_time.")

    description = _translations(module, "description", f"{source}: [module.description]")
    limitation = _translations(module, "limitation", f"{source}: [module.limitation]")

    variants_table = _table(raw, "variants", source)
    if not variants_table:
        raise BuildError(f"{source}: [variants] lists no build variant.")
    variants = []
    for variant_name, body in variants_table.items():
        vwhere = f"{source}: [variants.{variant_name}]"
        if not _VARIANT_NAME.match(variant_name):
            raise BuildError(f"{vwhere}: the variant name must be lower-case letters and digits.")
        if not isinstance(body, dict):
            raise BuildError(f"{vwhere} must be a table.")
        min_pbx = _string(body, "min_pbx_version", vwhere)
        if not _PBX_VERSION.match(min_pbx):
            raise BuildError(
                f"{vwhere} min_pbx_version = {min_pbx!r} is not a version such as 8.1.0.4."
            )
        release = _integer(body, "java_release", vwhere, minimum=8)
        if release not in _JAVA_RELEASES:
            raise BuildError(
                f"{vwhere} java_release = {release} is not one of "
                f"{', '.join(map(str, _JAVA_RELEASES))}."
            )
        log_api = _string(body, "log_api", vwhere)
        variants.append(Variant(variant_name, min_pbx, release, log_api))

    changelog_raw = raw.get("changelog", [])
    if not isinstance(changelog_raw, list):
        raise BuildError(f"{source}: changelog must be an array of tables ([[changelog]]).")
    changelog = []
    for number, entry in enumerate(changelog_raw, 1):
        cwhere = f"{source}: [[changelog]] entry {number}"
        if not isinstance(entry, dict):
            raise BuildError(f"{cwhere} must be a table.")
        version = _string(entry, "version", cwhere)
        if not _DISPLAY_VERSION.match(version):
            raise BuildError(f"{cwhere} version = {version!r} is not a version such as 2.6.1.")
        kind = _string(entry, "kind", cwhere)
        text = {}
        for locale in TRANSLATED_LOCALES:
            text[locale] = _string(entry, locale, cwhere)
            _check_text(text[locale], f"{cwhere} {locale}")
        changelog.append(ChangelogEntry(version, kind, text))
    if not any(entry.version == display_version for entry in changelog):
        raise BuildError(
            f"{source}: [[changelog]] has no entry for display_version {display_version}."
        )

    entry_points = _entry_points(raw.get("entry_points", {}), source)

    return ModuleMetadata(
        source=source,
        id=module_id,
        name=name,
        vendor=vendor,
        display_version=display_version,
        build_number=build_number,
        support_email=support_email,
        created_with=created_with,
        default_locale=default_locale,
        created_time=created_time,
        last_changed_time=last_changed_time,
        description=description,
        limitation=limitation,
        variants=tuple(variants),
        changelog=tuple(changelog),
        entry_points=entry_points,
    )


def _entry_points(raw: Any, source: Path) -> tuple[EntryPoint, ...]:
    """[entry_points.kernel] and [entry_points.life_cycle]: stage = "fully.qualified.Class"."""
    if not isinstance(raw, dict):
        raise BuildError(f"{source}: entry_points must be a table ([entry_points.kernel] ...).")
    found: list[EntryPoint] = []
    tables = {
        "kernel": ("agiKernel", KERNEL_STAGES),
        "life_cycle": ("lifeCycle", LIFE_CYCLE_STAGES),
    }
    for key in raw:
        if key not in tables:
            raise BuildError(f"{source}: [entry_points.{key}] is not known (kernel, life_cycle).")
    simple_names: dict[str, str] = {}
    for key, (kind, stages) in tables.items():
        table = raw.get(key, {})
        where = f"{source}: [entry_points.{key}]"
        if not isinstance(table, dict):
            raise BuildError(f'{where} must be a table of stage = "class".')
        for stage, class_name in table.items():
            if stage not in stages:
                raise BuildError(f"{where} {stage}: not a stage ({', '.join(stages)}).")
            if not isinstance(class_name, str) or not _JAVA_CLASS.match(class_name):
                raise BuildError(
                    f"{where} {stage} = {class_name!r} is not a Java class name "
                    "such as de.example.module.CallRouting."
                )
            point = EntryPoint(kind, stage, class_name)
            other = simple_names.setdefault(point.simple_name, class_name)
            if other != class_name:
                raise BuildError(
                    f"{where} {stage}: {class_name} and {other} have the same simple name, "
                    "which is the function's id in the descriptor."
                )
            found.append(point)
    return tuple(found)


def _table(raw: dict[str, Any], key: str, source: Path) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        raise BuildError(f"{source}: the table [{key}] is missing.")
    if not isinstance(value, dict):
        raise BuildError(f"{source}: {key} must be a table ([{key}]).")
    return value


def _string(table: dict[str, Any], key: str, where: str) -> str:
    if key not in table:
        raise BuildError(f"{where} {key} is missing.")
    value = table[key]
    if not isinstance(value, str):
        raise BuildError(f"{where} {key} must be a string, not {type(value).__name__}.")
    if not value.strip():
        raise BuildError(f"{where} {key} is empty.")
    if value != value.strip():
        raise BuildError(f"{where} {key} = {value!r} has leading or trailing spaces.")
    return value


def _integer(table: dict[str, Any], key: str, where: str, minimum: int) -> int:
    if key not in table:
        raise BuildError(f"{where} {key} is missing.")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BuildError(f"{where} {key} = {value!r} is not an integer.")
    if value < minimum:
        raise BuildError(f"{where} {key} = {value} is below {minimum}.")
    return value


def _translations(table: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = table.get(key)
    if not isinstance(value, dict):
        raise BuildError(f"{where} is missing (a table with de and en texts).")
    texts = {}
    for locale in TRANSLATED_LOCALES:
        texts[locale] = _string(value, locale, where)
        _check_text(texts[locale], f"{where} {locale}")
    return texts


def _check_text(text: str, what: str) -> None:
    for char in text:
        if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            raise BuildError(f"{what} contains the control character U+{ord(char):04X}.")


def _check_name(name: str, what: str) -> None:
    _check_text(name, what)
    for char in name:
        if char in _NAME_FORBIDDEN:
            raise BuildError(
                f"{what} = {name!r} contains {char!r}, which STARFACE refuses in a module name."
            )
    if len(name) > _MAX_NAME:
        raise BuildError(f"{what} is {len(name)} characters long, at most {_MAX_NAME} allowed.")
