"""`python build.py`: both variants, their contents, their integrity, and byte-identical rebuilds.

The build runs twice (as the vendor runs it, through build.py) into two temporary folders; every
expected value is read here from module_src/ (module.toml, form.toml) or computed by the rule of
FACTS.md, never taken from the code under test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree, html

from tests.test_inspect import inspect_json as inspect

REPO = Path(__file__).resolve().parents[1]
MODULE_SRC = REPO / "module_src"
META = tomllib.loads((MODULE_SRC / "module.toml").read_text("utf-8"))
FORM = tomllib.loads((MODULE_SRC / "breakthrough" / "form.toml").read_text("utf-8"))
MODULE_ID = META["module"]["id"]
VARIANTS = {"current": (55, "8.1.0.4"), "legacy": (52, "7.0.0.2")}  # class major, min PBX
# A fixed time so that a commit by someone else between the two builds cannot change them.
EPOCH = 1764547200  # 2025-12-01T00:00:00Z
LOCALES = ["en", "de", "es", "fr", "nl", "pl", "sv"]


def run_build(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    # Both builds read one snapshot of module_src, so that an edit in the working tree between
    # them (engineers share it) cannot tell them apart; on a clean clone this changes nothing.
    snapshot = tmp_path_factory.mktemp("src") / "module_src"
    shutil.copytree(MODULE_SRC, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
    first = tmp_path_factory.mktemp("dist1")
    second = tmp_path_factory.mktemp("dist2")
    one = run_build(first, "--source", str(snapshot))
    assert one.returncode == 0, one.stderr
    two = run_build(second, "--source", str(snapshot))
    assert two.returncode == 0, two.stderr
    return first, second, one.stdout


def sfm(dist: Path, variant: str) -> Path:
    name = f"{META['module']['name']}-{META['module']['display_version']}-{variant}.sfm"
    path = dist / name
    assert path.is_file(), sorted(p.name for p in dist.iterdir())
    return path


def descriptor(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("module-descriptor.xml"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_are_byte_identical(dists: tuple[Path, Path, str]) -> None:
    first, second, _ = dists
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert len([n for n in names if n.endswith(".sfm")]) == 2
    assert "index.html" in names
    for name in names:
        assert sha256(first / name) == sha256(second / name), name


def test_build_reports_steps_and_artifacts(dists: tuple[Path, Path, str]) -> None:
    first, _, stdout = dists
    for step in ("compile", "render", "validate", "package"):
        assert step in stdout
    for path in first.iterdir():
        line = next(line for line in stdout.splitlines() if line.endswith(sha256(path)))
        assert str(path.stat().st_size) in line and path.name in line


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_passes_inspect(dists: tuple[Path, Path, str], variant: str) -> None:
    document = inspect(sfm(dists[0], variant))
    assert document["integrity"] == {
        "manifest_matches_descriptor": True,
        "no_license_id_valid": True,
        "resources_complete": True,
    }
    assert document["variant"] == variant
    assert document["min_pbx_version"] == VARIANTS[variant][1]
    assert document["min_pbx_version"] == META["variants"][variant]["min_pbx_version"]
    assert document["id"] == MODULE_ID
    assert document["name"] == META["module"]["name"]
    assert document["vendor"] == META["module"]["vendor"]
    assert document["version"] == META["module"]["build_number"]
    assert document["display_version"] == META["module"]["display_version"]
    assert document["spec_version"] == 5
    assert {
        "kind": "agiKernelEntryPoint",
        "stage": "PostTargetDeterminationIncoming",
        "name": META["module"]["name"],
    } in document["entry_points"]
    stages = {e["stage"] for e in document["entry_points"] if e["kind"] == "lifeCycleEntryPoint"}
    assert stages == set(META["entry_points"]["life_cycle"])  # what module.toml declares
    assert stages == {"SystemStarted", "InstanceCreated", "InstanceChanged", "InstanceDeactivated"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_class_files_target_the_variants_java(dists: tuple[Path, Path, str], variant: str) -> None:
    with zipfile.ZipFile(sfm(dists[0], variant)) as archive:
        classes = [n for n in archive.namelist() if n.endswith(".class")]
        assert {n.rsplit("/", 1)[1] for n in classes} >= {
            "BreakthroughHook.class",
            "BreakthroughEntryPoint.class",
            "BreakthroughLog.class",
        }
        assert not [n for n in classes if n.startswith("de/sfhost/")]  # the host's API stays out
        for name in classes:
            data = archive.read(name)
            assert data[:4] == b"\xca\xfe\xba\xbe"
            assert int.from_bytes(data[6:8], "big") == VARIANTS[variant][0], name
            assert b"SourceFile" not in data and b"LineNumberTable" not in data  # -g:none
        log = archive.read("de/obyte/breakthrough/BreakthroughLog.class")
    # current logs through log4j2's Logger (PBX 7.3 on), legacy through commons-logging's Log
    log4j = b"org/apache/logging/log4j/Logger"
    commons = b"org/apache/commons/logging/Log"
    assert (log4j in log, commons in log) == (variant == "current", variant == "legacy")


def test_variants_differ_only_where_the_api_differs(dists: tuple[Path, Path, str]) -> None:
    with (
        zipfile.ZipFile(sfm(dists[0], "current")) as current,
        zipfile.ZipFile(sfm(dists[0], "legacy")) as legacy,
    ):
        assert current.namelist() == legacy.namelist()
        for name in current.namelist():
            if name.startswith("python/") or name.endswith(".pem"):
                assert current.read(name) == legacy.read(name), name


@pytest.mark.parametrize("variant", VARIANTS)
def test_archive_is_deterministic_jar(dists: tuple[Path, Path, str], variant: str) -> None:
    with zipfile.ZipFile(sfm(dists[0], variant)) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names[0] == "META-INF/MANIFEST.MF"
        assert names[1:] == sorted(names[1:])
        assert len(set(names)) == len(names)
        stamp = time.gmtime(EPOCH)[:6]
        for info in infos:
            assert info.date_time == stamp, info.filename
            assert info.external_attr >> 16 == 0o100644, info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert not info.is_dir()
        manifest = archive.read("META-INF/MANIFEST.MF")
    assert manifest.endswith(b"\r\n\r\n")
    assert b"\n" not in manifest.replace(b"\r\n", b"")
    lines = manifest.decode().split("\r\n")
    assert lines[:5] == [
        "Manifest-Version: 1.0",
        f"ObjectId: {MODULE_ID}",
        "StarfaceModule_SpecVersion: 5",
        "Created-By: STARFACE Version " + META["module"]["created_with"].split()[1],
        "Create-Date: "
        + datetime.fromtimestamp(META["module"]["last_changed_time"] / 1000, UTC).isoformat(),
    ]
    assert b"JDK" not in manifest and b"Build-Jdk" not in manifest
    assert all(len(line.encode()) <= 72 for line in lines)


@pytest.mark.parametrize("variant", VARIANTS)
def test_descriptor_follows_starface(dists: tuple[Path, Path, str], variant: str) -> None:
    path = sfm(dists[0], variant)
    root = descriptor(path)
    schema = etree.XMLSchema(etree.parse(str(REPO / "sfm_format/schema/module-descriptor.xsd")))
    assert schema.validate(root), schema.error_log
    assert root.get("moduleType") == "EXTENDED"
    assert root.get("version") == str(META["module"]["build_number"])
    assert root.get("id") == MODULE_ID
    last_changed = root.get("lastChangedTime")
    assert last_changed == str(META["module"]["last_changed_time"])
    assert (
        root.findtext("noLicenseId")
        == hashlib.sha1(f"{MODULE_ID}{last_changed}STARFACE".encode()).hexdigest()
    )
    assert root.findtext("writeHash") == hashlib.sha1(MODULE_ID.encode()).hexdigest()
    assert root.findtext("createdWith") == META["module"]["created_with"]
    assert [child.tag for child in root] == [
        "description", "descriptionURL", "disabled", "inputVars", "outputVars", "resources",
        "children", "createdWith", "defaultLocale", "editable", "entryPoints",
        "inputGUITabs", "inputGUITabs", "inputGUITabs", "noLicenseId",
        "resourceKeys", "resourceKeys", "shortDescription", "writeHash",
    ]  # fmt: skip
    for keys in root.iter("resourceKeys"):
        entries = keys.findall("entries")
        assert [e.findtext("key") for e in entries] == LOCALES
        texts = {e.findtext("key"): e.findtext("value") for e in entries}
        assert texts["de"] and texts["en"], keys.findtext("key")
    # resources list every file but the container's own (the manifest, the signature) and the
    # descriptor, and nothing else
    with zipfile.ZipFile(path) as archive:
        members = set(archive.namelist()) - {
            "META-INF/MANIFEST.MF",
            "module-descriptor.xml",
            "META-INF/SFM-SIGNATURE.json",  # the vendor signature (sfm_build/signing.py)
        }
    assert {f.get("name") for f in root.find("resources").iter("file")} == members


def test_form_tabs_fields_and_variables(dists: tuple[Path, Path, str]) -> None:
    root = descriptor(sfm(dists[0], "current"))
    variables = {v.get("id"): v for v in root.find("inputVars")}
    tabs = root.findall("inputGUITabs")
    assert [t.get("name") for t in tabs] == ["Allgemein", "Rufnummern", "Einstellungen"]
    assert [t["label"]["de"] for t in FORM["tabs"]] == ["Allgemein", "Rufnummern", "Einstellungen"]
    widgets = [[w.tag for w in tab.find("GUIDescriptors")] for tab in tabs]
    assert widgets == [
        ["textChoice"],
        ["headline", "textList", "textList", "headline", "textList", "textList"],
        ["checkbox"] * 4,
    ]
    # widget -> the variable type real exports bind it to (a headline binds none)
    expected_type = {"textChoice": "STRING", "textList": "LIST", "checkbox": "BOOLEAN"}
    form_fields = [f for tab in FORM["tabs"] for f in tab["fields"]]
    gui = [w for tab in tabs for w in tab.find("GUIDescriptors")]
    assert len(gui) == len(form_fields)
    for widget, field in zip(gui, form_fields, strict=True):
        labels = {
            e.findtext("key"): e.findtext("value")
            for e in widget.find("resourceKeys")
            if e.tag == "entries"
        }
        assert labels["de"] == field["label"]["de"]
        assert labels["en"] == field["label"]["en"]
        if widget.tag == "headline":
            assert "variable" not in field
            assert widget.get("variableId") not in variables
            continue
        variable = variables[widget.get("variableId")]
        assert variable.get("name") == field["variable"]
        assert variable.get("type") == expected_type[widget.tag]
    # the log level is a textChoice of the five levels, INFO preselected (as real exports
    # write a textChoice: <choices><choice>..., <defaultSelection> the default's index)
    (log_level,) = tabs[0].find("GUIDescriptors")
    assert [c.text for c in log_level.iterfind("choices/choice")] == [
        "ERROR", "WARN", "INFO", "DEBUG", "TRACE"
    ]
    assert log_level.findtext("defaultValue") == "INFO"
    assert log_level.findtext("defaultSelection") == "2"
    assert variables[log_level.get("variableId")].findtext("value") == "INFO"


def test_python_package_and_key_are_packaged(dists: tuple[Path, Path, str], tmp_path: Path) -> None:
    path = sfm(dists[0], "legacy")
    package = MODULE_SRC / "breakthrough"
    expected = {
        "python/breakthrough/" + p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts
    } | {"python/breakthrough/form.toml"}
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        python = {n for n in names if n.startswith("python/")}
        assert python == expected
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        key = MODULE_SRC / "licence-public-key.pem"
        if key.exists():
            assert archive.read("licence-public-key.pem") == key.read_bytes()
        archive.extractall(tmp_path / "x", members=sorted(python))
    # The packaged package works on its own: the host loads it from python/.
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import breakthrough, breakthrough.form as f; print(breakthrough.__file__); "
            "print(len(f.load_form()))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "x" / "python")},
        check=False,
    )
    assert check.returncode == 0, check.stderr
    file_line, tabs = check.stdout.split()
    assert file_line.startswith(str(tmp_path / "x" / "python"))
    assert int(tabs) == 3


def test_licence_public_key_is_packaged(dists: tuple[Path, Path, str]) -> None:
    key = MODULE_SRC / "licence-public-key.pem"
    if not key.exists():
        pytest.skip("module_src/licence-public-key.pem does not exist yet")
    for variant in VARIANTS:
        with zipfile.ZipFile(sfm(dists[0], variant)) as archive:
            assert archive.read("licence-public-key.pem") == key.read_bytes()


def test_variant_option_builds_one(tmp_path: Path) -> None:
    result = run_build(tmp_path, "--variant", "legacy")
    assert result.returncode == 0, result.stderr
    sfms = sorted(p.name for p in tmp_path.glob("*.sfm"))
    assert sfms == [f"{META['module']['name']}-{META['module']['display_version']}-legacy.sfm"]
    assert inspect(tmp_path / sfms[0])["variant"] == "legacy"


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    result = run_build(tmp_path / "out", "--variant", "nightly")
    assert result.returncode == 2
    assert "nightly" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_download_page(dists: tuple[Path, Path, str]) -> None:
    dist = dists[0]
    page = (dist / "index.html").read_text("utf-8")
    doc = html.fromstring(page)
    sections = {s.get("lang"): s for s in doc.iter("section")}
    assert set(sections) == {"de", "en"}
    for variant, (_, min_pbx) in VARIANTS.items():
        path = sfm(dist, variant)
        for lang, section in sections.items():
            row = section.xpath(f".//tr[@data-variant='{variant}']")[0]
            text = row.text_content()
            assert path.name in text
            assert str(path.stat().st_size) in text
            assert sha256(path) in text
            assert min_pbx in text
            assert row.xpath(".//a/@href") == [path.name], lang
    german = sections["de"].text_content()
    english = sections["en"].text_content()
    assert "Kompatibilität zur STARFACE Version" in german
    assert "14 Tage" in german and "E-Mail-Adresse verifizieren" in german
    assert "Modul-Manager" in german and "Modulinstanz" in german
    assert "14 days" in english and "e-mail" in english and "module manager" in english
    for entry in META["changelog"]:
        assert entry["de"] in german and entry["en"] in english
    # the legacy build is marked as the one for PBX versions below the current build's minimum
    legacy_row = sections["en"].xpath(".//tr[@data-variant='legacy']")[0].text_content()
    assert "below 8.1.0.4" in legacy_row
