"""`sfm build --source DIR` reads everything from DIR: module.toml, the form, the Python package
and the Java sources; the build imports no module's code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from sfm_build.errors import BuildError
from sfm_build.form import parse_form
from sfm_cli.main import main

REPO = Path(__file__).resolve().parents[1]
MODULE_SRC = REPO / "module_src"


def copy_source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    shutil.copytree(MODULE_SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def descriptor_of(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("module-descriptor.xml"))


def test_a_label_changed_in_a_copied_source_lands_in_the_descriptor(tmp_path: Path) -> None:
    source = copy_source(tmp_path)
    form = source / "breakthrough" / "form.toml"
    text = form.read_text("utf-8")
    assert 'de = "Ruhe umgehen"' in text
    form.write_text(text.replace('de = "Ruhe umgehen"', 'de = "Nicht-stören ignorieren"'), "utf-8")
    out = tmp_path / "out"
    code = main(["build", "--source", str(source), "--out", str(out), "--variant", "current"])
    assert code == 0
    (built,) = out.glob("*.sfm")
    root = descriptor_of(built)
    names = [w.get("name") for w in root.iter("checkbox")]
    assert "Nicht-stören ignorieren" in names
    assert "Ruhe umgehen" not in names
    keys = {
        e.findtext("value")
        for keys in root.iter("resourceKeys")
        for e in keys.iterfind("entries")
        if e.findtext("key") == "de"
    }
    assert "Nicht-stören ignorieren" in keys
    # ...and the packaged form.toml is the copied one, too
    with zipfile.ZipFile(built) as archive:
        assert "Nicht-stören ignorieren" in archive.read(
            "python/breakthrough/form.toml"
        ).decode("utf-8")


def test_the_build_imports_no_module_code(tmp_path: Path) -> None:
    source = copy_source(tmp_path)
    # A package of another name in a folder outside the repository: the build must find it
    # by listing the source, and must not import it (nor the repository's `breakthrough`).
    (source / "breakthrough").rename(source / "renamed_pkg")
    (source / "renamed_pkg" / "__init__.py").write_text(
        "raise SystemExit('the build imported the module')\n", "utf-8"
    )
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sfm_build.build import BuildOptions, build\n"
        f"build(BuildOptions(source=Path({str(source)!r}), out=Path({str(tmp_path / 'out')!r}),"
        " variants=('legacy',)))\n"
        "code = 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('breakthrough', 'renamed_pkg'))\n"
        "print(code, loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 []"
    (built,) = (tmp_path / "out").glob("*.sfm")
    with zipfile.ZipFile(built) as archive:
        assert "python/renamed_pkg/form.toml" in archive.namelist()


def test_sfm_build_names_no_module_package() -> None:
    for path in (REPO / "sfm_build").rglob("*.py"):
        text = path.read_text("utf-8")
        assert "import breakthrough" not in text and "from breakthrough" not in text, path


def test_function_ids_are_simple_class_names_with_their_implementation_file(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    assert main(["build", "--out", str(out), "--variant", "current"]) == 0
    (built,) = out.glob("*.sfm")
    root = descriptor_of(built)
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    functions = root.find("children").findall("function")
    assert functions
    for function in functions:
        # real exports (reloader, gui-example): id == name == the class's simple name
        assert function.get("id") == function.get("name")
        implementation = function.findtext("implementationFile")
        assert implementation in names
        assert implementation.rsplit("/", 1)[-1] == function.get("name") + ".class"
    targets = {ref.get("targetId") for ref in root.iter("functionReference")}
    assert targets == {f.get("id") for f in functions}


def _form(fields: list[dict[str, object]]) -> dict[str, object]:
    return {"tabs": [{"id": "t", "label": {"de": "T", "en": "T"}, "fields": fields}]}


LABEL = {"de": "X", "en": "X"}


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ([{"variable": "a", "widget": "slider", "label": LABEL}], "widget 'slider'"),
        (
            [
                {"variable": "a", "widget": "checkbox", "label": LABEL},
                {"variable": "a", "widget": "checkbox", "label": LABEL},
            ],
            "variable 'a' is used twice",
        ),
        (
            [{"variable": "a", "widget": "textChoice", "label": LABEL, "choices": ["x"],
              "default": "y"}],
            "default 'y' is not one of the choices",
        ),
        ([{"variable": "a", "widget": "textChoice", "label": LABEL}], "needs choices"),
        (
            [{"variable": "n", "widget": "numberChoice", "label": LABEL, "choices": ["1"]}],
            "whole numbers",
        ),
        ([{"variable": "name", "widget": "textInput", "label": LABEL}], "instance's own name"),
        ([{"variable": "a", "widget": "checkbox", "label": {"de": "X"}}], "label.en is missing"),
        ([{"widget": "headline", "variable": "h", "label": LABEL}], "binds no variable"),
    ],
)
def test_bad_forms_are_refused_naming_the_field(
    fields: list[dict[str, object]], complaint: str
) -> None:
    with pytest.raises(BuildError) as refused:
        parse_form(_form(fields), "form.toml")
    assert complaint in str(refused.value)
    assert "form.toml: tab t field" in str(refused.value)
