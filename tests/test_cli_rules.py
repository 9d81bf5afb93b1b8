"""`sfm rules check`: the JSON of INTERFACES.md, the number plan, and refusals with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sfm_cli.main import main

INSTANCES = Path(__file__).parent / "data" / "instances"
TEAMLEITER = INSTANCES / "teamleiter.toml"

AUSTRIAN_PBX = """\
[pbx]
version = "8.1.0.4"
country_code = "43"
area_code = "1"
international_prefix = "00"
national_prefix = "0"

[[users]]
id = "boss"
name = "Max Mustermann"
numbers = ["201"]
"""


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rules", "check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = check(capsys, *args, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert isinstance(document, dict)
    return document


class TestDecisions:
    def test_json_has_exactly_the_interfaces_keys(self, capsys: pytest.CaptureFixture[str]) -> None:
        document = check_json(
            capsys, "--config", str(TEAMLEITER), "--called", "201", "--caller", "00492515906850"
        )
        assert set(document) == {"match", "effects", "explanation"}
        assert document["match"] is True
        assert document["effects"] == ["bypass_dnd", "bypass_redirects"]
        assert isinstance(document["explanation"], str)
        assert "'*2515906850'" in document["explanation"]

    def test_exception_and_withheld_are_normal_answers(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        excepted = check_json(
            capsys, "--config", str(TEAMLEITER), "--called", "02515906299", "--caller", "201"
        )
        assert excepted["match"] is False and excepted["effects"] == []
        assert "'00492515906299'" in str(excepted["explanation"])
        withheld = check_json(
            capsys, "--config", str(TEAMLEITER), "--called", "201", "--caller", "anonymous"
        )
        assert withheld["match"] is False and withheld["effects"] == []

    def test_global_options_may_come_first(self, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(
            [
                "--json",
                "rules",
                "check",
                "--config",
                str(TEAMLEITER),
                "--called",
                "201",
                "--caller",
                "201",
            ]
        )
        out, _ = capsys.readouterr()
        assert code == 0 and json.loads(out)["match"] is True

    def test_text_output_names_match_effects_and_plan(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = check(
            capsys, "--config", str(TEAMLEITER), "--called", "201", "--caller", "201"
        )
        assert code == 0
        assert "match:       yes" in out
        assert "bypass_dnd, bypass_redirects" in out
        # Without --pbx the plan is spelt out, not named ("default German plan" said little).
        assert "no --pbx given, so the number plan country code 49, area code 251" in out

    def test_pbx_file_gives_the_number_plan(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # Caller 015906850 is +43 1 5906850 (Vienna) under the Austrian plan but +49 15906850
        # under the default German one; a pattern for the Vienna number catches it only with
        # --pbx.
        config = tmp_path / "wien.toml"
        config.write_text(
            'name = "Wien"\n[numbers.called]\nactive = ["*"]\n'
            '[numbers.caller]\nactive = ["+4315906850"]\n[settings]\nbypass_dnd = true\n',
            encoding="utf-8",
        )
        pbx = tmp_path / "pbx.toml"
        pbx.write_text(AUSTRIAN_PBX, encoding="utf-8")
        args = ("--config", str(config), "--called", "201", "--caller", "015906850")
        assert check_json(capsys, *args, "--pbx", str(pbx))["match"] is True
        assert check_json(capsys, *args)["match"] is False

    def test_help_says_which_plan_is_the_default(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "sfm_cli.main", "rules", "check", "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        help_text = " ".join(result.stdout.split())
        assert "without it: country code 49" in help_text
        assert "country code 49" in help_text and "area code 251" in help_text


class TestRefusals:
    @pytest.mark.parametrize(
        "args, culprit",
        [
            (
                ("--config", str(INSTANCES / "bad_pattern.toml")),
                "numbers.caller.active line 3: '12a4' has 'a'",
            ),
            (
                ("--config", str(INSTANCES / "bad_settings.toml")),
                "settings.bypass_self_redirects_only",
            ),
            (("--config", str(INSTANCES / "missing.toml")), "missing.toml: cannot read"),
            (
                ("--config", str(TEAMLEITER), "--pbx", str(TEAMLEITER)),
                "teamleiter.toml: has no [pbx] table",
            ),
        ],
    )
    def test_bad_files_exit_2_naming_them(
        self, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], culprit: str
    ) -> None:
        code, out, err = check(capsys, *args, "--called", "201", "--caller", "202")
        assert code == 2
        assert out == ""
        assert culprit in err
        assert "Traceback" not in err

    @pytest.mark.parametrize(
        "called, caller, culprit",
        [
            ("2o1", "202", "called number '2o1' has 'o'"),
            ("201", "0251+5", "caller number '0251+5'"),
        ],
    )
    def test_bad_numbers_exit_2_naming_them(
        self, capsys: pytest.CaptureFixture[str], called: str, caller: str, culprit: str
    ) -> None:
        code, out, err = check(
            capsys, "--config", str(TEAMLEITER), "--called", called, "--caller", caller, "--json"
        )
        assert (code, out) == (2, "")
        assert culprit in err

    @pytest.mark.parametrize(
        "pbx_text, culprit",
        [
            ("[pbx\ncountry_code = 49", "is not valid TOML"),
            ('[pbx]\ncountry_code = "49"\n', "[pbx] has no area_code"),
            (AUSTRIAN_PBX.replace('"43"', "43"), "country_code must be a quoted string"),
            (AUSTRIAN_PBX.replace('"43"', '"4a"'), "country_code '4a' must be digits"),
        ],
    )
    def test_a_broken_pbx_file_exits_2_naming_it(
        self, tmp_path: Path, pbx_text: str, culprit: str
    ) -> None:
        # As a real process: the exit code and stderr people see, and no traceback.
        pbx = tmp_path / "anlage.toml"
        pbx.write_text(pbx_text, encoding="utf-8")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sfm_cli.main",
                "rules",
                "check",
                "--config",
                str(TEAMLEITER),
                "--pbx",
                str(pbx),
                "--called",
                "201",
                "--caller",
                "202",
                "--json",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2
        assert result.stdout == ""
        assert "anlage.toml" in result.stderr and culprit in result.stderr
        assert "Traceback" not in result.stderr
