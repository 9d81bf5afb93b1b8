"""The example module Sperrliste on its own: built with `sfm build --source examples/sperrliste`
(both variants), its descriptor, its Python package shipping alone (nothing from module_src),
and its wildcard matcher against a reference."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.built_modules import BREAKTHROUGH_ID, SPERRLISTE_ID, SPERRLISTE_SRC, build

sys.path.insert(0, str(SPERRLISTE_SRC))
from sperrliste.matcher import CallerList, PatternError, Plan, clean  # noqa: E402

sys.path.remove(str(SPERRLISTE_SRC))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sperrliste")
    return {v: build(SPERRLISTE_SRC, root / v, v) for v in ("current", "legacy")}


def test_built_with_its_own_identity_form_and_functions(built: dict[str, Path]) -> None:
    for variant, path in built.items():
        assert path.name == f"Sperrliste-1.0.0-{variant}.sfm"
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            root = etree.fromstring(archive.read("module-descriptor.xml"))
        assert root.get("name") == "Sperrliste"
        assert root.get("id") == SPERRLISTE_ID != BREAKTHROUGH_ID
        variables = {v.get("name"): v.get("type") for v in root.find("inputVars")}
        assert variables == {"callers": "LIST", "answer": "STRING"}
        assert [c.text for c in root.iter("choice")] == ["busy", "voicemail"]
        (kernel,) = root.iter("agiKernelEntryPoint")
        assert kernel.get("stage") == "PostTargetDeterminationIncoming"
        assert kernel.find("functionReference").get("targetId") == "SperrlisteCall"
        assert "de/example/sperrliste/SperrlisteCall.class" in names
        assert "python/sperrliste/sfm_module.py" in names
        assert not [n for n in names if n.startswith("python/breakthrough")]


def test_its_python_ships_alone(built: dict[str, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(built["current"]) as archive:
        python = [n for n in archive.namelist() if n.startswith("python/")]
        archive.extractall(tmp_path / "x", members=python)
    script = (
        "import sys\n"
        "import sperrliste.sfm_module as m\n"
        "print(m.check_instance({'callers': ['+49 40 222 333'], 'answer': 'busy'}, 't'))\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('breakthrough', 'runtime',"
        " 'sfm_build', 'sfm_format')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "x" / "python")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    checked, loaded = result.stdout.strip().splitlines()
    assert checked == "{'callers': ['+49 40 222 333'], 'answer': 'busy'}"
    assert loaded == "[]"
    for path in (SPERRLISTE_SRC / "sperrliste").glob("*.py"):
        text = path.read_text("utf-8")
        assert not re.search(r"^\s*(from|import) (breakthrough|runtime|sfm_)", text, re.M), path


# ---- the matcher against a reference ----------------------------------------------------------

PLAN = Plan(country_code="49", international_prefix="00", national_prefix="0")
national = st.text(alphabet="123456789", min_size=1, max_size=1).flatmap(
    lambda first: st.text(alphabet="0123456789", min_size=4, max_size=10).map(
        lambda rest: first + rest
    )
)


def forms_of(digits: str) -> list[str]:
    """The reference: the three ways a German number is written (DESIGN.md)."""
    return ["0049" + digits, "+49" + digits, "0" + digits]


@settings(max_examples=80, deadline=None)
@given(digits=national, pattern_form=st.integers(0, 2), number_form=st.integers(0, 2))
def test_a_number_matches_its_own_entry_in_every_form(
    digits: str, pattern_form: int, number_form: int
) -> None:
    listed = CallerList([forms_of(digits)[pattern_form]], PLAN)
    assert listed.matches(forms_of(digits)[number_form])
    assert not listed.matches(forms_of(digits + "1")[number_form])  # one digit longer


@settings(max_examples=60, deadline=None)
@given(digits=national, cut=st.integers(1, 4), number_form=st.integers(0, 2))
def test_star_and_question_mark(digits: str, cut: int, number_form: int) -> None:
    head = digits[:-cut]
    number = forms_of(digits)[number_form]
    assert CallerList(["+49" + head + "*"], PLAN).matches(number)
    assert CallerList(["0" + head + "?" * cut], PLAN).matches(number)
    assert not CallerList(["0" + head + "?" * (cut + 1)], PLAN).matches(number)


def test_written_down_cases() -> None:
    spam = CallerList(["030111*", "+49 40 222 333"], PLAN)
    assert spam.matches("004940222333") and spam.matches("040222333")
    assert spam.matches("+49 (40) 222-333")
    assert spam.matches("0301119") and spam.matches("+4930111")
    assert not spam.matches("0302111") and not spam.matches("040222334")
    for withheld in (None, "", "anonymous"):
        assert not CallerList(["*"], PLAN).matches(withheld)
    assert CallerList(["*"], PLAN).matches("201")
    assert CallerList(["201"], PLAN).matches("201")  # an extension has one form
    assert not CallerList(["201"], PLAN).matches("0201")


@pytest.mark.parametrize(
    ("pattern", "culprit"), [("030x1", "'x'"), ("12+3", "'+'"), ("   ", "empty"), ("#1", "'#'")]
)
def test_bad_patterns_are_refused_naming_the_character(pattern: str, culprit: str) -> None:
    with pytest.raises(PatternError) as refused:
        clean(pattern)
    assert culprit in str(refused.value)
