"""`sfm call` and `sfm pbx load` as people and scripts use them (INTERFACES.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sfm_cli.main import main

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Path(__file__).parent / "data" / "pbx" / "office.toml"
CALL_KEYS = [
    "outcome",
    "rings",
    "forwarded_to",
    "originally_called",
    "applied",
    "module_errors",
    "changed",
]

CHEF = """\
name = "Chef"
description = "Die Sekretärin erreicht den Chef"
log_level = "INFO"
active = true

[numbers.called]
active = ["201"]
exceptions = []

[numbers.caller]
active = ["*"]
exceptions = []

[settings]
bypass_dnd = false
bypass_redirects = true
bypass_self_redirects_only = true
force_call_waiting = false
"""

TEAMLEITER = """\
name = "Teamleiter"
[numbers.called]
active = ["*"]
[numbers.caller]
active = ["*2515906850"]
[settings]
bypass_dnd = true
"""


@pytest.fixture
def chef(tmp_path: Path) -> Path:
    path = tmp_path / "chef.toml"
    path.write_text(CHEF, encoding="utf-8")
    return path


@pytest.fixture
def teamleiter(tmp_path: Path) -> Path:
    path = tmp_path / "teamleiter.toml"
    path.write_text(TEAMLEITER, encoding="utf-8")
    return path


def sfm_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    document: dict[str, Any] = json.loads(out)
    return document


def test_simulation_prints_the_call_document(
    jvm: None, capsys: pytest.CaptureFixture[str], chef: Path, tmp_path: Path
) -> None:
    # The secretary (202) calls the boss (201), who forwards to her; "Chef" bypasses only
    # redirects to the caller: the boss rings. Exactly the keys of INTERFACES.md.
    data = tmp_path / "untouched"
    doc = sfm_json(
        capsys,
        "--data",
        str(data),
        "call",
        "--from",
        "202",
        "--to",
        "201",
        "--pbx",
        str(OFFICE),
        "--instance",
        str(chef),
    )
    assert list(doc) == CALL_KEYS
    assert doc == {
        "outcome": "ring",
        "rings": ["boss"],
        "forwarded_to": [],
        "originally_called": None,
        "applied": [
            {"instance": "Chef", "effects": ["bypass_redirects", "bypass_self_redirects_only"]}
        ],
        "module_errors": [],
        # Either bypass alone undoes the forward to the caller: both changed the call.
        "changed": [
            {"instance": "Chef", "effects": ["bypass_redirects", "bypass_self_redirects_only"]}
        ],
    }
    # a simulation reads and writes no data folder
    assert not data.exists()


def test_simulation_with_several_instances(
    jvm: None, capsys: pytest.CaptureFixture[str], chef: Path, teamleiter: Path
) -> None:
    # A customer calls the boss: forwarded to the secretary ("Chef" matched, but the forward
    # is not to the caller); the team lead calls the lead in DND: rings.
    doc = sfm_json(
        capsys,
        "call",
        "--from",
        "0049301234567",
        "--to",
        "201",
        "--pbx",
        str(OFFICE),
        "--instance",
        str(chef),
        "--instance",
        str(teamleiter),
    )
    assert (doc["outcome"], doc["rings"], doc["forwarded_to"]) == ("ring", ["secretary"], ["202"])
    assert doc["originally_called"] == "Max Mustermann"
    assert [a["instance"] for a in doc["applied"]] == ["Chef"]
    doc = sfm_json(
        capsys,
        "call",
        "--from",
        "+492515906850",
        "--to",
        "203",
        "--pbx",
        str(OFFICE),
        "--instance",
        str(chef),
        "--instance",
        str(teamleiter),
    )
    assert (doc["outcome"], doc["rings"]) == ("ring", ["lead"])


def test_simulation_without_instances_is_the_plain_pbx(
    jvm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = sfm_json(capsys, "call", "--from", "anonymous", "--to", "203", "--pbx", str(OFFICE))
    assert (doc["outcome"], doc["applied"]) == ("busy", [])


def test_human_output_is_one_or_two_lines(
    jvm: None, capsys: pytest.CaptureFixture[str], chef: Path
) -> None:
    code = main(
        [
            "call",
            "--from",
            "0049301234567",
            "--to",
            "201",
            "--pbx",
            str(OFFICE),
            "--instance",
            str(chef),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert 1 <= len(lines) <= 2
    assert "secretary" in lines[0] and "Max Mustermann" in lines[0]
    assert "Chef" in out


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["--to", "201", "--from", "202", "--instance", "x.toml"], "--pbx"),
        (["--to", "999", "--from", "202", "--pbx", str(OFFICE)], "999"),
        (["--to", "201", "--from", "20a2", "--pbx", str(OFFICE)], "caller number"),
        (["--to", "201", "--from", "202", "--pbx", "missing.toml"], "missing.toml"),
    ],
)
def test_refusals_exit_2_and_name_the_culprit(
    jvm: None, capsys: pytest.CaptureFixture[str], argv: list[str], culprit: str
) -> None:
    assert main(["call", *argv]) == 2
    err = capsys.readouterr().err
    assert culprit in err and "Traceback" not in err


def test_bad_instance_file_is_refused(
    jvm: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "X"\n[numbers.caller]\nactive = ["02x1"]\n', encoding="utf-8")
    assert (
        main(["call", "--from", "1", "--to", "201", "--pbx", str(OFFICE), "--instance", str(bad)])
        == 2
    )
    err = capsys.readouterr().err
    assert "bad.toml" in err and "numbers.caller.active" in err


def test_pbx_load_stores_and_refusal_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    doc = sfm_json(capsys, "--data", str(data), "pbx", "load", str(OFFICE))
    assert (doc["users"], doc["groups"], doc["version"]) == (4, 1, "8.1.0.4")
    assert (data / "pbx.toml").read_bytes() == OFFICE.read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text(OFFICE.read_text(encoding="utf-8").replace('"202", "00492515906202"', '"201"'))
    assert main(["--data", str(data), "pbx", "load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "users[1]" in err and "numbers[0]" in err
    assert (data / "pbx.toml").read_bytes() == OFFICE.read_bytes()


def test_call_through_the_data_folder_as_a_real_process(tmp_path: Path) -> None:
    # The console path end to end: `sfm pbx load`, then `sfm call` without --pbx routes
    # through the host built from the data folder (no module installed: the plain PBX).
    data = tmp_path / "data"
    run = [sys.executable, "-m", "sfm_cli.main", "--data", str(data)]
    loaded = subprocess.run(
        [*run, "pbx", "load", str(OFFICE)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    called = subprocess.run(
        [*run, "call", "--from", "0049301234567", "--to", "201", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert called.returncode == 0, called.stderr
    doc = json.loads(called.stdout)
    assert list(doc) == CALL_KEYS
    assert (doc["outcome"], doc["rings"], doc["forwarded_to"]) == ("ring", ["secretary"], ["202"])
