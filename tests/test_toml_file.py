"""The one TOML reader of the build, the host and the CLI: every fault refused in words, as the
caller's own refusal type, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import Refused
from sfm_build.errors import BuildError
from sfm_format.toml_file import parse_toml, read_toml_file


def test_a_good_file_is_its_document(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('[pbx]\nversion = "8.1.0.4"\nlist = [1, 2]\n', encoding="utf-8")
    assert read_toml_file(path, Refused) == {"pbx": {"version": "8.1.0.4", "list": [1, 2]}}


@pytest.mark.parametrize("refusal", [Refused, BuildError])
def test_broken_toml_is_refused_with_the_line_as_the_callers_type(
    tmp_path: Path, refusal: type[ValueError]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[pbx]\nversion = "8.1\n', encoding="utf-8")
    with pytest.raises(refusal) as caught:
        read_toml_file(path, refusal)
    message = str(caught.value)
    assert message.startswith(f"{path}: is not valid TOML (")
    assert "line 2" in message


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Müller"\n'.encode("latin-1"))
    with pytest.raises(Refused, match=r"latin1\.toml: is not UTF-8 text\.$"):
        read_toml_file(path, Refused)


def test_a_missing_file_is_refused_in_the_callers_words(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(BuildError, match=r"nope\.toml: the form is missing\.$"):
        read_toml_file(path, BuildError, missing="the form is missing")
    with pytest.raises(Refused, match=r"nope\.toml: cannot read the file \(No such file"):
        read_toml_file(path, Refused)


def test_a_folder_is_refused_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(Refused, match=r"cannot read the file \(Is a directory\)"):
        read_toml_file(tmp_path, Refused)


def test_text_from_a_request_names_its_source() -> None:
    assert parse_toml(b"a = 1", "toml", Refused) == {"a": 1}
    with pytest.raises(Refused, match=r"^toml: is not valid TOML \(.*line 1, column 5"):
        parse_toml("a = b", "toml", Refused)
