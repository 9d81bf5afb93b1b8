"""Crafting .sfm files for the module manager's tests: good ones and hostile ones.

`build_dist(tmp)` makes the real `.sfm` files with `sfm build` (what a vendor ships);
`rewrite(src, dst, ...)` copies one entry by entry with changes, for the hostile variants;
`real_export(dst)` packs a real STARFACE export's descriptor and manifest (from
../shared/reference) the way the Module Designer does, without a Python runtime.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO.parent / "shared" / "reference" / "starface-sfm"
MODULE_ID = "8c0b5a4e-6f1d-4b7a-9e3c-2d5f7a1b9c64"


def build_dist(out: Path, variant: str = "all") -> dict[str, Path]:
    """Run the vendor's build into `out`; the .sfm files by variant name."""
    from sfm_cli.main import main

    out.mkdir(parents=True, exist_ok=True)
    code = main(["build", "--variant", variant, "--out", str(out)])
    assert code == 0, f"sfm build failed with exit {code}"
    found: dict[str, Path] = {}
    for path in sorted(out.glob("*.sfm")):
        found["legacy" if "legacy" in path.name else "current"] = path
    return found


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}


def write_zip(dst: Path, items: Mapping[str, bytes]) -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return dst


def rewrite(
    src: Path,
    dst: Path,
    *,
    replace: Mapping[str, bytes | None] | None = None,
    add: Mapping[str, bytes] | None = None,
    edit_descriptor: Callable[[str], str] | None = None,
    edit_manifest: Callable[[str], str] | None = None,
) -> Path:
    """A copy of `src` with entries replaced (None: dropped), added, or edited as text."""
    items = entries(src)
    for name, data in (replace or {}).items():
        if data is None:
            items.pop(name, None)
        else:
            items[name] = data
    if edit_descriptor is not None:
        items["module-descriptor.xml"] = edit_descriptor(
            items["module-descriptor.xml"].decode("utf-8")
        ).encode("utf-8")
    if edit_manifest is not None:
        items["META-INF/MANIFEST.MF"] = edit_manifest(
            items["META-INF/MANIFEST.MF"].decode("utf-8")
        ).encode("utf-8")
    items.update(add or {})
    return write_zip(dst, items)


def no_license_id(module_id: str, last_changed: str) -> str:
    return hashlib.sha1((module_id + last_changed + "STARFACE").encode()).hexdigest()


def with_version(src: Path, dst: Path, version: int, *, tag: str = "") -> Path:
    """The same module as another build number (descriptor version attribute), still valid.

    `tag` is written into the Python package so the two builds' code can be told apart.
    """
    def edit(text: str) -> str:
        return re.sub(r'(<module [^>]*?\sversion=")\d+(")', rf"\g<1>{version}\g<2>", text, count=1)

    add = {}
    if tag:
        init = entries(src)["python/breakthrough/__init__.py"]
        add["python/breakthrough/__init__.py"] = init + f"\nBUILD_TAG = {tag!r}\n".encode()
    return rewrite(src, dst, edit_descriptor=edit, add=add)


def real_export(dst: Path, name: str = "reloader") -> Path:
    """A real STARFACE export (Module Designer): manifest, descriptor, a class, no Python."""
    manifest = (REFERENCE / f"{name}.MANIFEST.MF").read_bytes()
    descriptor = (REFERENCE / f"{name}.module-descriptor.xml").read_bytes()
    return write_zip(
        dst,
        {
            "META-INF/MANIFEST.MF": manifest,
            "module-descriptor.xml": descriptor,
            "de/vendor/Reloader.class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34",
        },
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256), to show nothing changed."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def assemble_from_module_src(
    dst: Path,
    *,
    variant: str = "current",
    min_pbx_version: str = "8.1.0.4",
    version: int = 261,
) -> Path:
    """An .sfm of Breakthrough put together from module_src/ without `sfm build`.

    A stand-in for the build's output while it is not there: a real export's descriptor
    (valid under the schema) retargeted to Breakthrough's id, our manifest headers, the
    module's Python package and the licence public key.
    """
    last_changed = "1764547200000"
    descriptor = (REFERENCE / "reloader.module-descriptor.xml").read_text("utf-8")
    old_id = "1f410088-4882-4403-a7ea-c594a9be70ca"
    root_old = re.search(r"<module [^>]*>", descriptor)
    assert root_old is not None
    root_new = (
        f'<module lastChangedTime="{last_changed}" moduleType="EXTENDED" '
        f'createTime="1764000000000" id="{MODULE_ID}" name="Breakthrough" specVersion="5" '
        f'vendor="o-byte.com" version="{version}">'
    )
    descriptor = descriptor.replace(root_old.group(0), root_new)
    descriptor = re.sub(
        r"<noLicenseId>[^<]*</noLicenseId>",
        f"<noLicenseId>{no_license_id(MODULE_ID, last_changed)}</noLicenseId>",
        descriptor,
    )
    assert old_id not in descriptor.split("<children>")[0]
    manifest = (
        "Manifest-Version: 1.0\r\n"
        f"ObjectId: {MODULE_ID}\r\n"
        "StarfaceModule_SpecVersion: 5\r\n"
        "Created-By: STARFACE Version 8.1.2.2\r\n"
        "Module-Display-Version: 2.6.1\r\n"
        f"Module-Variant: {variant}\r\n"
        f"Module-Min-Pbx-Version: {min_pbx_version}\r\n\r\n"
    )
    items: dict[str, bytes] = {
        "META-INF/MANIFEST.MF": manifest.encode(),
        "module-descriptor.xml": descriptor.encode("utf-8"),
        "licence-public-key.pem": (REPO / "module_src" / "licence-public-key.pem").read_bytes(),
    }
    package = REPO / "module_src" / "breakthrough"
    for source in sorted(package.iterdir()):
        if source.suffix in (".py", ".toml"):
            items[f"python/breakthrough/{source.name}"] = source.read_bytes()
    return write_zip(dst, items)


def module_files(out: Path) -> dict[str, Path]:
    """The vendor's .sfm files, made by `sfm build` (current and legacy)."""
    built = build_dist(out)
    assert set(built) == {"current", "legacy"}, built
    return built


# ----------------------------------------------------------------------------- fixtures
# Imported by the module manager's test files (`from tests.data.sfm_crafted import ...`).

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sfm_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The vendor's .sfm files (current and legacy), made once per test session."""
    return module_files(tmp_path_factory.mktemp("dist"))


def run_sfm(*argv: str | Path) -> tuple[int, str, str]:
    """`sfm ARGV...` in this process: exit code, stdout, stderr."""
    import contextlib
    import io

    from sfm_cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


TEAMLEITER_TOML = """\
name = "Teamleiter"
description = "Team leads reach everyone"
log_level = "DEBUG"
active = true

[numbers.called]
active = ["*"]
exceptions = ["00492515906299"]

[numbers.caller]
active = ["*2515906850", "201"]
exceptions = []

[settings]
bypass_dnd = true
bypass_redirects = true
bypass_self_redirects_only = false
force_call_waiting = false
"""
