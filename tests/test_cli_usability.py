"""What a newcomer meets on the command line: refusals as JSON with --json, refused commands
that leave nothing behind, modules named by name, help for users, wording, and build.py and
scripts/run.sh without the virtualenv or side effects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfm_cli.main import main
from tests.browser.harness import SAMPLE_PBX, build_sfm

REPO = Path(__file__).resolve().parents[1]


def sfm(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_refusal_with_json_is_one_json_document_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = sfm(capsys, "--json", "--data", str(tmp_path / "d"), "licence", "confirm",
                         "--code", "12")  # fmt: skip
    assert code == 2 and out == ""
    assert json.loads(err) == {
        "error": "--module: no module is installed on this PBX",
        "field": "module",
    }
    missing = tmp_path / "nothing-here.toml"
    code, out, err = sfm(capsys, "rules", "check", "--config", str(missing), "--called", "201",
                         "--caller", "202", "--json")  # fmt: skip
    document = json.loads(err)
    assert code == 2 and out == ""
    assert set(document) == {"error", "field"}
    assert str(missing) in document["error"] and document["field"] == str(missing)
    # Without --json the same refusal is one plain sentence.
    code, _, err = sfm(capsys, "rules", "check", "--config", str(missing), "--called", "201",
                       "--caller", "202")  # fmt: skip
    assert code == 2 and err.startswith("sfm: ") and not err.lstrip().startswith("{")


def test_a_usage_error_with_json_is_json_too(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "--json", "call", "--from", "201"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'module_src'}"},
    )
    assert answer.returncode == 2 and answer.stdout == ""
    assert json.loads(answer.stderr) == {
        "error": "sfm call: the following arguments are required: --to",
        "field": "to",
    }


@pytest.mark.parametrize("exists", [False, True])
def test_a_refused_command_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, exists: bool
) -> None:
    empty = tmp_path / "EMPTY"
    if exists:
        empty.mkdir()
    code, _, err = sfm(capsys, "--data", str(empty), "call", "--from", "201", "--to", "203")
    assert code == 2 and "PBX directory" in err
    if exists:
        assert list(empty.iterdir()) == []
    else:
        assert not empty.exists()
    code, out, _ = sfm(capsys, "--data", str(empty), "module", "list")
    assert code == 0 and out.strip() == "No modules are installed."
    assert empty.exists() == exists


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sfm(tmp_path_factory.mktemp("dist"))


@pytest.fixture()
def installed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dist: Path
) -> Iterator[Path]:
    data = tmp_path / "data"
    assert sfm(capsys, "--data", str(data), "pbx", "load", str(SAMPLE_PBX))[0] == 0
    assert sfm(capsys, "--data", str(data), "--dev", "module", "install", str(dist))[0] == 0
    yield data


def test_a_module_is_named_by_its_name(
    capsys: pytest.CaptureFixture[str], installed: Path
) -> None:
    code, _, err = sfm(capsys, "--data", str(installed), "module", "remove", "Nope")
    assert code == 2
    assert "Nope: there is no such module (installed: Breakthrough (" in err
    code, out, _ = sfm(capsys, "--data", str(installed), "module", "remove", "breakthrough")
    assert code == 0 and out.startswith("Removed Breakthrough 2.6.1")
    code, out, _ = sfm(capsys, "--data", str(installed), "module", "list")
    assert out.strip() == "No modules are installed."


def test_licence_status_says_the_state_once(
    capsys: pytest.CaptureFixture[str], installed: Path
) -> None:
    code, out, _ = sfm(capsys, "--data", str(installed), "licence", "status")
    assert code == 0
    assert out.count("trial") + out.count("Trial") == 1, out
    assert len(out.strip().splitlines()) == 1


def test_pbx_load_counts_in_words(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = sfm(capsys, "--data", str(tmp_path / "d"), "pbx", "load", str(SAMPLE_PBX))
    assert code == 0
    assert ": 5 users, 1 group, PBX version 8.1.0.4" in out


def test_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for developer_word in ("INTERFACES", "../shared", "sfm_cli.commands", "wires them"):
        assert developer_word not in text
    assert "docs/USING.md" in text and (REPO / "docs" / "USING.md").is_file()
    with pytest.raises(SystemExit):
        main(["rules", "check", "--help"])
    assert "--data" not in capsys.readouterr().out
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme and "INTERFACES.md" not in readme
    code, out, _ = sfm(capsys, "rules", "check", "--config",
                       str(REPO / "tests/data/instances/teamleiter.toml"), "--called", "201",
                       "--caller", "202")  # fmt: skip
    assert "German plan" not in out


def _without_venv() -> dict[str, str]:
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join(path)
    return env


def _system_python() -> str:
    found = shutil.which("python3", path=_without_venv()["PATH"])
    assert found is not None
    return found


def test_build_py_runs_without_the_venv_active(tmp_path: Path) -> None:
    answer = subprocess.run(
        [_system_python(), str(REPO / "build.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_without_venv(),
    )
    assert answer.returncode == 0, answer.stderr
    assert "--variant" in answer.stdout and "Traceback" not in answer.stderr


def test_build_py_without_any_venv_says_how_to_get_one(tmp_path: Path) -> None:
    shutil.copy(REPO / "build.py", tmp_path / "build.py")  # a clone before scripts/setup.sh
    answer = subprocess.run(
        [_system_python(), "build.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_without_venv(),
    )
    assert answer.returncode == 2
    assert "Traceback" not in answer.stderr
    assert answer.stderr.count("\n") == 1 and "scripts/setup.sh" in answer.stderr


def test_run_sh_help_changes_nothing() -> None:
    before = {p: p.exists() for p in (REPO / "var", REPO / "dist", REPO / ".venv")}
    dist_files = sorted((REPO / "dist").glob("*")) if (REPO / "dist").exists() else []
    stamps = {p: p.stat().st_mtime_ns for p in dist_files}
    answer = subprocess.run(
        [str(REPO / "scripts" / "run.sh"), "--help"], capture_output=True, text=True, timeout=30
    )
    assert answer.returncode == 0
    assert answer.stdout.startswith("usage: scripts/run.sh") and "--data DIR" in answer.stdout
    assert {p: p.exists() for p in before} == before
    assert {p: p.stat().st_mtime_ns for p in dist_files} == stamps


def test_licence_verify_needs_no_module_when_one_is_installed(
    capsys: pytest.CaptureFixture[str], installed: Path
) -> None:
    # A port nobody listens on: the refusal must be about the service, never about --module.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    code, out, err = sfm(capsys, "--data", str(installed), "licence", "verify",
                         "--email", "admin@example.com",
                         "--server", f"http://127.0.0.1:{closed}")  # fmt: skip
    assert code == 2 and out == ""
    assert "--module" not in err
    assert f"127.0.0.1:{closed}" in err and err.count("\n") == 1
