"""Our XSD against the real STARFACE exports, the escaping of rendered descriptors, the JAR
manifest format and the deterministic archive writer."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from sfm_build.archive import FALLBACK_EPOCH, ZIP_EPOCH_MIN, build_timestamp, jar_bytes
from sfm_build.descriptor import render_descriptor, validate_descriptor
from sfm_build.errors import BuildError
from sfm_build.form import load_form
from sfm_build.manifest import to_jar_manifest
from sfm_build.metadata import parse_metadata
from sfm_format.manifest import parse_manifest
from tests.data.sfm_crafted import REFERENCE

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "sfm_format" / "schema" / "module-descriptor.xsd"
REAL = ("reloader", "gui-example", "ttslib")
FORM = load_form(REPO / "module_src" / "breakthrough" / "form.toml")
RAW_META = tomllib.loads((REPO / "module_src" / "module.toml").read_text("utf-8"))
CLASSES = [
    "de/obyte/breakthrough/BreakthroughHook.class",
    "de/obyte/breakthrough/BreakthroughEntryPoint.class",
    "de/obyte/breakthrough/BreakthroughLog.class",
]


def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


@pytest.mark.parametrize("name", REAL)
def test_real_exports_validate_against_our_xsd(name: str) -> None:
    document = etree.parse(str(REFERENCE / f"{name}.module-descriptor.xml"))
    xsd = schema()
    assert xsd.validate(document), xsd.error_log
    # ...and pass the build's own check (XSD plus the noLicenseId rule)
    validate_descriptor((REFERENCE / f"{name}.module-descriptor.xml").read_bytes(), name)


def mutate(name: str, old: bytes, new: bytes) -> bytes:
    data = (REFERENCE / f"{name}.module-descriptor.xml").read_bytes()
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        # children out of order: createdWith before children
        (
            mutate("ttslib", b"<createdWith>STARFACE 6.7.3.11</createdWith>", b"").replace(
                b"<children>", b"<createdWith>STARFACE 6.7.3.11</createdWith><children>", 1
            ),
            "createdWith",
        ),
        (mutate("reloader", b"<noLicenseId>60df", b"<noLicenseId>XXdf"), "noLicenseId"),
        (mutate("reloader", b'specVersion="5" vendor', b'specVersion="6" vendor'), "specVersion"),
        (mutate("reloader", b'version="24030722"', b'version="2.6.1"'), "version"),
        (
            mutate("gui-example", b"<stage>InstanceChanged</stage>", b"<stage>Later</stage>"),
            "stage",
        ),
        (mutate("gui-example", b'moduleType="EXTENDED"', b'moduleType="BASIC"'), "moduleType"),
        # a form field bound to a variable that is not declared
        (
            mutate(
                "gui-example",
                b'<checkbox variableId="2d9e6191-d42b-46b0-8e74-9fb8568832a8"',
                b'<checkbox variableId="00000000-0000-0000-0000-000000000000"',
            ),
            "formFieldVariable",
        ),
    ],
)
def test_xsd_refuses_broken_descriptors(data: bytes, complaint: str) -> None:
    xsd = schema()
    assert not xsd.validate(etree.fromstring(data))
    assert complaint in str(xsd.error_log)


def test_wrong_no_license_id_is_refused_by_the_build_check() -> None:
    data = mutate(
        "reloader", b'lastChangedTime="1709845628402"', b'lastChangedTime="1709845628403"'
    )
    with pytest.raises(BuildError, match="noLicenseId"):
        validate_descriptor(data, "tampered")


_TEXT = (
    st.text(
        alphabet=st.characters(
            min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs",)
        ).filter(lambda c: not (0x7F <= ord(c) < 0xA0)),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=40, deadline=None)
@given(vendor=_TEXT, description=_TEXT)
def test_rendered_descriptor_escapes_every_text(vendor: str, description: str) -> None:
    raw = {
        **RAW_META,
        "module": {
            **RAW_META["module"],
            "vendor": vendor,
            "description": {"de": description, "en": description},
        },
    }
    meta = parse_metadata(raw, Path("module.toml"))
    data = render_descriptor(meta, meta.variants[0], [*CLASSES, "x.py"], FORM)
    root = validate_descriptor(data, "generated")
    assert root.get("vendor") == vendor
    assert root.findtext("description") == description


@settings(max_examples=60, deadline=None)
@given(
    value=st.text(
        alphabet=st.characters(
            min_codepoint=0x21, max_codepoint=0x24FF, blacklist_categories=("Cs",)
        ),
        min_size=1,
        max_size=200,
    ).filter(lambda v: v.strip() == v)  # metadata refuses values with outer white space
)
def test_manifest_lines_wrap_at_72_bytes_and_read_back(value: str) -> None:
    data = to_jar_manifest(f"Manifest-Version: 1.0\nX-Long: {value}\n", "test")
    assert data.endswith(b"\r\n\r\n")
    assert all(len(line) <= 72 for line in data.split(b"\r\n"))
    assert parse_manifest(data.decode("utf-8"))["X-Long"] == value


@settings(max_examples=30, deadline=None)
@given(
    entries=st.dictionaries(
        st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.[a-z]{1,5}", fullmatch=True),
        st.binary(max_size=300),
        max_size=8,
    ),
    epoch=st.integers(min_value=ZIP_EPOCH_MIN, max_value=4_000_000_000),
)
def test_jar_bytes_is_a_function_of_its_entries(entries: dict[str, bytes], epoch: int) -> None:
    entries = {**entries, "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n\r\n"}
    shuffled = dict(reversed(list(entries.items())))
    data = jar_bytes(entries, epoch)
    assert data == jar_bytes(shuffled, epoch)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == entries
        names = archive.namelist()
    assert names[0] == "META-INF/MANIFEST.MF" and names[1:] == sorted(names[1:])


def test_timestamp_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert build_timestamp(tmp_path) == ZIP_EPOCH_MIN  # clamped to 1980-01-01
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_timestamp(tmp_path) == 1700000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(BuildError, match="SOURCE_DATE_EPOCH"):
        build_timestamp(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_timestamp(tmp_path) == FALLBACK_EPOCH  # not a git checkout
    # A checkout whose HEAD was committed at a known time, 2024-02-29T12:00:00Z (not the
    # fallback's 2025-12-01, so the git path is what answers).
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    committed = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_AUTHOR_DATE": "2024-02-29T12:00:00Z",
        "GIT_COMMITTER_DATE": "2024-02-29T12:00:00Z",
    }
    for name, value in committed.items():
        monkeypatch.setenv(name, value)
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "stamp"]):
        subprocess.run(["git", *command], cwd=checkout, check=True, capture_output=True)
    assert build_timestamp(checkout) == 1_709_208_000


def test_no_license_id_rule_matches_facts() -> None:
    # FACTS.md: sha1_hex(id + lastChangedTime + "STARFACE"), checked on a real export
    from sfm_format.integrity import no_license_id, write_hash

    module_id = "1f410088-4882-4403-a7ea-c594a9be70ca"
    assert no_license_id(module_id, 1709845628402) == "60df661bd753d9f332d766432cca253cdfd9bc4c"
    assert write_hash(module_id) == hashlib.sha1(module_id.encode()).hexdigest()
