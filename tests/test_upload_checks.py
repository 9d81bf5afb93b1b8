"""Every refusal of an uploaded .sfm: exit 2, a message naming the file and the reason, and the
data folder (database and installed files) byte-for-byte as it was."""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import Refused
from runtime.modules import installer
from runtime.modules.upload_checks import Limits, check_archive
from sfm_format.integrity import no_license_id as product_no_license_id
from tests.data.sfm_crafted import (
    TEAMLEITER_TOML,
    entries,
    no_license_id,
    rewrite,
    run_sfm,
    sfm_files,
    tree_digest,
    with_version,
    write_zip,
)

__all__ = ["sfm_files"]


@pytest.fixture()
def data(tmp_path: Path, sfm_files: dict[str, Path]) -> Path:
    """A data folder with Breakthrough installed and one instance configured."""
    folder = tmp_path / "data"
    assert run_sfm("--data", folder, "module", "install", sfm_files["current"])[0] == 0
    config = tmp_path / "teamleiter.toml"
    config.write_text(TEAMLEITER_TOML, encoding="utf-8")
    assert run_sfm("--data", folder, "instance", "create", "--config", config)[0] == 0
    return folder


def _zip_with_info(dst: Path, base: Path, info: zipfile.ZipInfo, data: bytes) -> Path:
    items = entries(base)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in items.items():
            archive.writestr(name, content)
        archive.writestr(info, data)
    return dst


def _symlink(dst: Path, base: Path) -> Path:
    info = zipfile.ZipInfo("python/breakthrough/evil.py")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip_with_info(dst, base, info, b"/etc/passwd")


def _duplicate(dst: Path, base: Path) -> Path:
    items = entries(base)
    with zipfile.ZipFile(dst, "w") as archive:
        for name, content in items.items():
            archive.writestr(name, content)
        with pytest.warns(UserWarning):
            archive.writestr("module-descriptor.xml", items["module-descriptor.xml"])
    return dst


def _bomb(dst: Path, base: Path) -> Path:
    # 1 MiB of zeros deflates to about 1 KiB: a ratio of about 1000:1.
    return rewrite(base, dst, add={"res/padding.bin": bytes(1024 * 1024)})


def _set_root_attr(name: str, value: str) -> Callable[[str], str]:
    import re

    def edit(text: str) -> str:
        return re.sub(rf'(<module [^>]*?\s{name}=")[^"]*(")', rf"\g<1>{value}\g<2>", text, count=1)

    return edit


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE module [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
"""

CASES: list[tuple[str, Callable[[Path, Path], Path], str]] = [
    ("not a zip", lambda d, b: (d.write_bytes(b"PK? no, just text\n" * 10), d)[1], "not an .sfm"),
    ("zip bomb", _bomb, "ZIP bomb"),
    (
        "dot-dot name",
        lambda d, b: rewrite(b, d, add={"python/../../../evil.py": b"x = 1\n"}),
        "'..'",
    ),
    ("absolute name", lambda d, b: rewrite(b, d, add={"/etc/cron.d/evil": b"x"}), "absolute"),
    ("symlink", _symlink, "symbolic link"),
    ("duplicate", _duplicate, "appears twice"),
    (
        "missing manifest",
        lambda d, b: rewrite(b, d, replace={"META-INF/MANIFEST.MF": None}),
        "has no META-INF/MANIFEST.MF",
    ),
    (
        "manifest id differs",
        lambda d, b: rewrite(
            b,
            d,
            edit_manifest=lambda t: re.sub(
                r"ObjectId: [^\r\n]*", "ObjectId: 00000000-0000-0000-0000-000000000000", t
            ),
        ),
        "ObjectId",
    ),
    (
        "descriptor not well-formed",
        lambda d, b: rewrite(b, d, edit_descriptor=lambda t: t.replace("</module>", "</modul>")),
        "not well-formed",
    ),
    (
        "descriptor with DTD and entities",
        lambda d, b: rewrite(
            b,
            d,
            edit_descriptor=lambda t: (
                BILLION_LAUGHS
                + t.split("?>", 1)[1].replace("<description>", "<description>&lol3;", 1)
            ),
        ),
        "DTD",
    ),
    (
        "descriptor breaks the XSD",
        lambda d, b: rewrite(
            b, d, edit_descriptor=lambda t: t.replace("</module>", "<smuggled/></module>")
        ),
        "breaks the module schema",
    ),
    (
        "wrong noLicenseId",
        lambda d, b: rewrite(
            b,
            d,
            edit_descriptor=lambda t: t.replace(
                "<noLicenseId>", "<noLicenseId>" + "0" * 40 + "<!--", 1
            ).replace("</noLicenseId>", "--></noLicenseId>", 1),
        ),
        "noLicenseId",
    ),
    (
        "spec version 6",
        lambda d, b: rewrite(
            b,
            d,
            edit_manifest=lambda t: t.replace(
                "StarfaceModule_SpecVersion: 5", "StarfaceModule_SpecVersion: 6"
            ),
            edit_descriptor=_set_root_attr("specVersion", "6"),
        ),
        "StarfaceModule_SpecVersion is 6",
    ),
]


@pytest.mark.parametrize(
    ("craft", "reason"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_upload_is_refused_and_changes_nothing(
    data: Path,
    tmp_path: Path,
    sfm_files: dict[str, Path],
    craft: Callable[[Path, Path], Path],
    reason: str,
) -> None:
    bad = craft(tmp_path / "hostile.sfm", sfm_files["current"])
    before = tree_digest(data)
    code, out, err = run_sfm("--data", data, "module", "install", bad)
    assert code == 2, (out, err)
    assert "hostile.sfm" in err
    assert reason in err
    assert "Traceback" not in err
    assert tree_digest(data) == before


def test_refusal_on_an_empty_data_folder_does_not_even_create_the_database(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "x.sfm"
    bad.write_text("hello")
    folder = tmp_path / "fresh"
    code, _, err = run_sfm("--data", folder, "module", "install", bad)
    assert code == 2 and "x.sfm" in err
    assert not folder.exists() or tree_digest(folder) == {}


def test_build_for_a_newer_pbx_is_refused_naming_the_legacy_build(
    data: Path, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    (data / "pbx.toml").write_text('[pbx]\nversion = "7.3.0.5"\n', encoding="utf-8")
    newer = with_version(sfm_files["current"], tmp_path / "newer.sfm", 262)
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "module", "install", newer)
    assert code == 2
    assert "newer.sfm" in err and "8.1.0.4" in err and "7.3.0.5" in err
    assert "legacy build" in err
    assert tree_digest(data) == before
    # the legacy build fits that PBX
    legacy = with_version(sfm_files["legacy"], tmp_path / "legacy.sfm", 262)
    assert run_sfm("--data", data, "module", "install", legacy)[0] == 0


def test_downgrade_is_refused_unless_allowed(
    data: Path, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    older = with_version(sfm_files["current"], tmp_path / "older.sfm", 250)
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "module", "install", older)
    assert code == 2
    assert "older.sfm" in err and "--allow-downgrade" in err
    assert tree_digest(data) == before
    code, out, err = run_sfm(
        "--data", data, "--json", "module", "install", "--allow-downgrade", older
    )
    assert code == 0, err
    assert '"version": 250' in out


def test_caps_on_total_and_entry_size_are_parameters(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    base = sfm_files["current"]
    biggest = max(len(v) for v in entries(base).values())
    with pytest.raises(Refused, match="above the limit of"):
        check_archive(base, Limits(max_entry_bytes=biggest - 1))
    total = sum(len(v) for v in entries(base).values())
    with pytest.raises(Refused, match="ZIP bomb"):
        check_archive(base, Limits(max_total_bytes=total - 1))
    assert check_archive(base).runnable


def test_an_entry_that_lies_about_its_size_is_caught_while_reading(tmp_path: Path) -> None:
    """The ZIP directory claims 10 bytes; the stream holds 1 MiB: refused, not unpacked."""
    payload = bytes(1024 * 1024)
    bad = write_zip(tmp_path / "liar.sfm", {"a.bin": payload})
    raw = bytearray(bad.read_bytes())
    # rewrite the uncompressed size (offset 24 in the central directory entry) to 10
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    local = raw.find(b"PK\x03\x04")
    raw[local + 22 : local + 26] = (10).to_bytes(4, "little")
    bad.write_bytes(bytes(raw))
    with pytest.raises(Refused) as info:
        check_archive(bad, Limits(max_entry_bytes=512 * 1024))
    message = str(info.value)
    assert "liar.sfm" in message and "a.bin" in message
    assert "damaged" in message or "unpacks to more than" in message


@given(st.uuids(), st.integers(min_value=0, max_value=10**13))
def test_crafted_files_carry_the_no_license_id_the_product_checks(
    module_id: object, last_changed: int
) -> None:
    # The crafted uploads of these tests are only "valid but for X" if their noLicenseId is
    # the one the product computes (itself checked against a real export in test_descriptor).
    assert no_license_id(str(module_id), str(last_changed)) == product_no_license_id(
        str(module_id), last_changed
    )


def test_install_of_missing_file_is_refused(tmp_path: Path) -> None:
    code, _, err = run_sfm("--data", tmp_path / "d", "module", "install", tmp_path / "nope.sfm")
    assert code == 2 and "nope.sfm" in err


def test_pbx_version_default_and_from_directory(tmp_path: Path) -> None:
    assert installer.pbx_version(tmp_path) == "8.1.0.4"
    (tmp_path / "pbx.toml").write_text('[pbx]\nversion = "7.0.0.2"\n')
    assert installer.pbx_version(tmp_path) == "7.0.0.2"


@given(st.text(alphabet="ab./\\:C\x00", min_size=0, max_size=12))
def test_an_accepted_entry_name_never_leaves_the_install_folder(name: str) -> None:
    from runtime.modules.upload_checks import _check_name

    root = Path("/install/root")
    info = zipfile.ZipInfo()
    info.filename = name  # set directly: ZipInfo() would normalise it
    try:
        _check_name(Path("x.sfm"), info)
    except Refused:
        return
    parts = name.rstrip("/").split("/")
    assert ".." not in parts and "\\" not in name and not name.startswith("/")
    target = Path(os.path.normpath(root / name))
    assert root in target.parents
