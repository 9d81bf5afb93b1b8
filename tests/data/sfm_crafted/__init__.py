"""Crafting .sfm files for the module manager's tests: good ones and hostile ones.

`build_dist(tmp)` makes the real `.sfm` files with `sfm build` (what a vendor ships);
`rewrite(src, dst, ...)` copies one entry by entry with changes, for the hostile variants;
`real_export(dst)` packs a real STARFACE export's descriptor and manifest (from
../shared/reference) the way the Module Designer does, without a Python runtime.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# Real exports (copied from ../shared/reference with their licence) to test against.
REFERENCE = REPO / "tests" / "data" / "reference" / "starface-sfm"
_MODULE = tomllib.loads((REPO / "module_src" / "module.toml").read_text("utf-8"))["module"]
MODULE_ID: str = _MODULE["id"]
BUILD_NUMBER: int = _MODULE["build_number"]


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
    _sign_again(items, touched={*(replace or {}), *(add or {})})
    return write_zip(dst, items)


def _sign_again(items: dict[str, bytes], touched: set[str]) -> None:
    """Re-sign a changed copy with the development key, as its vendor would after a change;
    left alone when the test set or dropped the signature entry itself."""
    from runtime.licensing.licence import load_private_key
    from sfm_build.signing import DEVELOPMENT_SIGNING_KEY
    from sfm_format.signature import SIGNATURE_ENTRY, read_listing, sign_entries

    if SIGNATURE_ENTRY not in items or SIGNATURE_ENTRY in touched:
        return
    module_id = read_listing(items[SIGNATURE_ENTRY]).module_id
    key = load_private_key(DEVELOPMENT_SIGNING_KEY.read_bytes(), "the development key")
    rest = {name: data for name, data in items.items() if name != SIGNATURE_ENTRY}
    items[SIGNATURE_ENTRY] = sign_entries(rest, module_id, key)


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
