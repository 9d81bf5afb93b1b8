"""`sfm inspect` and `runtime.sfm_file.read_sfm` on real STARFACE exports and on broken files.

The real manifests and descriptors are the reference exports in tests/data/reference; the test
packs them into small .sfm files and checks the integrity rules of FACTS.md, computed here
independently of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runtime.errors import Refused
from runtime.sfm_file import read_sfm
from sfm_cli.main import main
from tests.data.sfm_crafted import REFERENCE

REAL_EXPORTS = ("reloader", "gui-example", "ttslib")
REPO = Path(__file__).resolve().parents[1]


def pack(
    tmp_path: Path,
    name: str,
    manifest: bytes,
    descriptor: bytes,
    extra: dict[str, bytes] | None = None,
) -> Path:
    path = tmp_path / f"{name}.sfm"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest)
        archive.writestr("module-descriptor.xml", descriptor)
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return path


def real_export(tmp_path: Path, name: str) -> Path:
    return pack(
        tmp_path,
        name,
        (REFERENCE / f"{name}.MANIFEST.MF").read_bytes(),
        (REFERENCE / f"{name}.module-descriptor.xml").read_bytes(),
    )


def root_attribute(descriptor: str, attr: str) -> str:
    """An attribute of the <module> start tag, read with a regex (not with the code under test)."""
    start = re.search(r"<module\s[^>]*>", descriptor)
    assert start
    found = re.search(rf'\s{attr}="([^"]*)"', start.group(0))
    assert found, attr
    return found.group(1)


def inspect_json(path: Path) -> dict:
    """The `sfm inspect --json` document of `path`, run as a user runs it (a new process)."""
    result = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", REAL_EXPORTS)
def test_real_export_identity_and_integrity(tmp_path: Path, name: str) -> None:
    descriptor = (REFERENCE / f"{name}.module-descriptor.xml").read_text("utf-8")
    module_id = root_attribute(descriptor, "id")
    last_changed = root_attribute(descriptor, "lastChangedTime")
    stated = re.search(r"<noLicenseId>([0-9a-f]{40})</noLicenseId>", descriptor)
    assert stated
    expected = hashlib.sha1(f"{module_id}{last_changed}STARFACE".encode()).hexdigest()
    assert stated.group(1) == expected  # FACTS.md's rule holds for the reference file itself

    document = inspect_json(real_export(tmp_path, name))
    assert document["id"] == module_id
    assert document["version"] == int(root_attribute(descriptor, "version"))
    assert document["name"] == root_attribute(descriptor, "name")
    assert document["display_version"] is None
    assert document["variant"] is None
    assert document["min_pbx_version"] is None
    assert document["spec_version"] == 5
    assert document["integrity"]["manifest_matches_descriptor"] is True
    assert document["integrity"]["no_license_id_valid"] is True
    assert document["files"] == ["META-INF/MANIFEST.MF", "module-descriptor.xml"]
    assert list(document) == [
        "id",
        "name",
        "vendor",
        "version",
        "display_version",
        "spec_version",
        "variant",
        "min_pbx_version",
        "entry_points",
        "integrity",
        "files",
    ]


def test_real_export_entry_points(tmp_path: Path) -> None:
    document = inspect_json(real_export(tmp_path, "gui-example"))
    assert {"kind": "lifeCycleEntryPoint", "stage": "InstanceChanged", "name": ""} in document[
        "entry_points"
    ]
    assert {"kind": "timerEntryPoint", "stage": None, "name": "NewTimer"} in document[
        "entry_points"
    ]
    reloader = inspect_json(real_export(tmp_path, "reloader"))
    assert reloader["entry_points"] == [{"kind": "rpcEntryPoint", "stage": None, "name": "reload"}]


def test_resources_complete_needs_every_listed_file(tmp_path: Path) -> None:
    # gui-example lists five .class files: missing from the archive, then present.
    manifest = (REFERENCE / "gui-example.MANIFEST.MF").read_bytes()
    descriptor = (REFERENCE / "gui-example.module-descriptor.xml").read_bytes()
    listed = re.findall(rb'<file [^>]*name="([^"]+)"', descriptor)
    assert len(listed) == 5
    bare = pack(tmp_path, "bare", manifest, descriptor)
    assert read_sfm(bare).integrity.resources_complete is False
    full = pack(tmp_path, "full", manifest, descriptor, {n.decode(): b"\xca\xfe" for n in listed})
    assert read_sfm(full).integrity.resources_complete is True
    stray = pack(
        tmp_path,
        "stray",
        manifest,
        descriptor,
        {**{n.decode(): b"\xca\xfe" for n in listed}, "notes.txt": b"unlisted"},
    )
    assert read_sfm(stray).integrity.resources_complete is False
    # A class listed by its simple name but stored by its package path is there.
    by_package = pack(
        tmp_path,
        "by_package",
        manifest,
        descriptor,
        {f"de/example/{n.decode()}": b"\xca\xfe" for n in listed},
    )
    assert read_sfm(by_package).integrity.resources_complete is True


def test_unlisted_classes_do_not_make_a_real_export_incomplete(tmp_path: Path) -> None:
    # The real reloader export (1qubit-org/starface-modules, bin/module-reloader) ships
    # ModuleReloader.class at the root and lists no file at all in <resources/>.
    manifest = (REFERENCE / "reloader.MANIFEST.MF").read_bytes()
    descriptor = (REFERENCE / "reloader.module-descriptor.xml").read_bytes()
    assert b"<resources/>" in descriptor
    shipped = pack(tmp_path, "reloader", manifest, descriptor, {"ModuleReloader.class": b"\xca"})
    assert read_sfm(shipped).integrity.resources_complete is True


def test_tampered_last_changed_time_breaks_no_license_id(tmp_path: Path) -> None:
    manifest = (REFERENCE / "reloader.MANIFEST.MF").read_bytes()
    descriptor = (REFERENCE / "reloader.module-descriptor.xml").read_bytes()
    tampered = descriptor.replace(b'lastChangedTime="1709845628402"', b'lastChangedTime="1"')
    assert tampered != descriptor
    info = read_sfm(pack(tmp_path, "tampered", manifest, tampered))
    assert info.integrity.no_license_id_valid is False
    assert info.integrity.manifest_matches_descriptor is True


def test_manifest_for_another_module_does_not_match(tmp_path: Path) -> None:
    info = read_sfm(
        pack(
            tmp_path,
            "mixed",
            (REFERENCE / "ttslib.MANIFEST.MF").read_bytes(),
            (REFERENCE / "reloader.module-descriptor.xml").read_bytes(),
        )
    )
    assert info.integrity.manifest_matches_descriptor is False


def test_spec_version_above_five_does_not_match(tmp_path: Path) -> None:
    manifest = (
        (REFERENCE / "reloader.MANIFEST.MF")
        .read_bytes()
        .replace(b"StarfaceModule_SpecVersion: 5", b"StarfaceModule_SpecVersion: 6")
    )
    descriptor = (REFERENCE / "reloader.module-descriptor.xml").read_bytes()
    assert read_sfm(pack(tmp_path, "spec6", manifest, descriptor)).integrity.ok is False


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    descriptor = (
        f'<?xml version="1.0"?><!DOCTYPE module [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<module id="1f410088-4882-4403-a7ea-c594a9be70ca" name="&x;" vendor="v" '
        'version="1" specVersion="5" lastChangedTime="1"></module>'
    ).encode()
    manifest = (REFERENCE / "reloader.MANIFEST.MF").read_bytes()
    with pytest.raises(Refused) as refused:
        read_sfm(pack(tmp_path, "xxe", manifest, descriptor))
    # Refused for the entity it would have read, naming the file; the secret is not read.
    message = str(refused.value)
    assert "xxe.sfm: module-descriptor.xml" in message
    assert "external entity 'x'" in message
    assert "TOPSECRET" not in message


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda p: p.write_bytes(b"not a zip at all"), "not a ZIP"),
        (lambda p: zipfile.ZipFile(p, "w").close(), "MANIFEST.MF is missing"),
    ],
)
def test_refuses_what_is_not_a_module(tmp_path: Path, make, named: str, capsys) -> None:
    path = tmp_path / "broken.sfm"
    make(path)
    with pytest.raises(Refused, match=named):
        read_sfm(path)
    assert main(["inspect", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert "broken.sfm" in err and named in err and "Traceback" not in err


def test_refuses_descriptor_that_is_not_xml(tmp_path: Path) -> None:
    path = pack(tmp_path, "badxml", b"Manifest-Version: 1.0\r\n\r\n", b"<module id=")
    with pytest.raises(Refused, match="module-descriptor.xml is not well-formed"):
        read_sfm(path)


def test_refuses_non_integer_version(tmp_path: Path) -> None:
    descriptor = (
        (REFERENCE / "reloader.module-descriptor.xml")
        .read_bytes()
        .replace(b'version="24030722"', b'version="2.6.1"')
    )
    path = pack(tmp_path, "ver", (REFERENCE / "reloader.MANIFEST.MF").read_bytes(), descriptor)
    with pytest.raises(Refused, match="@version"):
        read_sfm(path)


def test_refuses_unsafe_member_names(tmp_path: Path) -> None:
    path = pack(
        tmp_path,
        "slip",
        (REFERENCE / "reloader.MANIFEST.MF").read_bytes(),
        (REFERENCE / "reloader.module-descriptor.xml").read_bytes(),
        {"../../evil.py": b"x"},
    )
    with pytest.raises(Refused, match="unsafe path"):
        read_sfm(path)
