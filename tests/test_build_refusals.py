"""A broken module.toml or template fails the build with exit 2 and a message naming the field,
and leaves the output folder exactly as it was."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sfm_build.build import BuildOptions, build
from sfm_build.errors import BuildError
from sfm_build.rendering import TEMPLATES_DIR
from sfm_cli.main import main

REPO = Path(__file__).resolve().parents[1]
MODULE_SRC = REPO / "module_src"
TOML = (MODULE_SRC / "module.toml").read_text("utf-8")


def module_copy(tmp_path: Path, toml: str) -> Path:
    source = tmp_path / "module_src"
    shutil.copytree(MODULE_SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "module.toml").write_text(toml, "utf-8")
    return source


def existing_dist(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """An output folder holding an earlier build, which a failed build must not touch."""
    out = tmp_path / "dist"
    out.mkdir()
    (out / "Breakthrough-2.6.0-current.sfm").write_bytes(b"earlier build")
    (out / "index.html").write_bytes(b"<p>earlier page</p>")
    return out, snapshot(out)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def replace_line(key: str, new: str | None) -> str:
    """module.toml with the first `key = ...` line replaced by `new` (None: removed)."""
    pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
    assert pattern.search(TOML), key
    return pattern.sub("" if new is None else new, TOML, count=1)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        (replace_line("id", None), "id is missing"),
        (replace_line("id", 'id = "not-a-uuid"'), "id = 'not-a-uuid' is not a UUID"),
        (replace_line("name", 'name = "Break<through>"'), "name = 'Break<through>' contains '<'"),
        (replace_line("name", 'name = "A & B"'), "contains '&'"),
        (replace_line("name", 'name = ""'), "name is empty"),
        (replace_line("build_number", 'build_number = "261"'), "build_number = '261'"),
        (replace_line("build_number", "build_number = 2.6"), "build_number = 2.6"),
        (replace_line("display_version", 'display_version = "2.6"'), "display_version"),
        (replace_line("min_pbx_version", 'min_pbx_version = "eight"'), "min_pbx_version"),
        (replace_line("java_release", "java_release = 9"), "java_release = 9"),
        (TOML + "\n[oops\n", "not valid TOML"),
    ],
)
def test_broken_metadata_is_refused_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, named: str
) -> None:
    source = module_copy(tmp_path, toml)
    out, before = existing_dist(tmp_path)
    code = main(["build", "--source", str(source), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err, err
    assert "module.toml" in err
    assert "Traceback" not in err
    assert snapshot(out) == before


def test_broken_metadata_does_not_create_dist(tmp_path: Path) -> None:
    source = module_copy(tmp_path, replace_line("id", None))
    out = tmp_path / "fresh" / "dist"
    with pytest.raises(BuildError, match=r"\[module\] id is missing"):
        build(BuildOptions(source=source, out=out, report=lambda line: None))
    assert not out.parent.exists()


def test_template_error_names_template_and_line(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    descriptor = templates / "module-descriptor.xml.j2"
    lines = descriptor.read_text("utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if "<createdWith>" in line)
    lines[number - 1] = "    <createdWith>{{ module.created_by_nobody }}</createdWith>\n"
    descriptor.write_text("".join(lines), "utf-8")
    out, before = existing_dist(tmp_path)
    with pytest.raises(BuildError) as caught:
        build(
            BuildOptions(
                out=out, variants=("legacy",), templates_dir=templates, report=lambda line: None
            )
        )
    message = str(caught.value)
    assert "module-descriptor.xml.j2" in message
    assert f"line {number}" in message
    assert "created_by_nobody" in message
    assert snapshot(out) == before


def test_template_syntax_error_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    page = templates / "index.html.j2"
    page.write_text(page.read_text("utf-8") + "\n{% for x in %}\n", "utf-8")
    out, before = existing_dist(tmp_path)
    with pytest.raises(BuildError, match=r"index\.html\.j2, line \d+: template error"):
        build(
            BuildOptions(
                out=out, variants=("current",), templates_dir=templates, report=lambda line: None
            )
        )
    assert snapshot(out) == before


def test_descriptor_that_breaks_the_schema_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    descriptor = templates / "module-descriptor.xml.j2"
    text = descriptor.read_text("utf-8")
    assert 'stage="{{ entry.stage }}"' in text
    descriptor.write_text(text.replace('stage="{{ entry.stage }}"', 'stage="Whenever"'), "utf-8")
    out, before = existing_dist(tmp_path)
    with pytest.raises(BuildError, match="module-descriptor.xsd.*Whenever"):
        build(
            BuildOptions(
                out=out, variants=("current",), templates_dir=templates, report=lambda line: None
            )
        )
    assert snapshot(out) == before


def test_java_compile_error_is_refused(tmp_path: Path) -> None:
    source = module_copy(tmp_path, TOML)
    broken = (
        source / "jvm_src" / "legacy" / "de" / "obyte" / "breakthrough" / "BreakthroughLog.java"
    )
    text = broken.read_text("utf-8")
    assert "log.debug(message)" in text
    broken.write_text(text.replace("log.debug(message)", "log.nope(message)"))
    out, before = existing_dist(tmp_path)
    with pytest.raises(BuildError, match=r"javac --release 8 \(legacy\) failed(.|\n)*nope"):
        build(BuildOptions(source=source, out=out, variants=("legacy",), report=lambda line: None))
    assert snapshot(out) == before
