"""Every command of the README, as written, on a fresh copy of the repository.

The copy holds what a clone holds (the files git tracks, or would track). Its virtualenv is
made the way scripts/setup.sh would, except that the packages are borrowed from this
checkout's .venv instead of downloaded again (a .pth file), and the project itself is put on
the path of the copy's .venv as an editable install would: that keeps the test at a minute or
two. The README's first command, `scripts/run.sh`, serves until Ctrl-C, so it runs as the
README's `scripts/run.sh --check`; `scripts/test.sh` is this test suite itself and is left out.
Every other command runs exactly as written, in the order written, each in a shell that has
done the activation and exports written before it. The two that need the vendor's licence
service (`sfm licence verify` and `confirm`, written in the prose) must refuse in a sentence,
not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def shell_blocks(text: str) -> list[list[str]]:
    """The commands of each ```sh block: one per line, comments and blank lines dropped."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        lines = []
        joined = re.sub(r"\\[ \t]*(?:#[^\n]*)?\n\s*", " ", block)  # continuation lines
        for line in joined.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                lines.append(command)
        blocks.append(lines)
    return blocks


def fresh_copy(target: Path) -> Path:
    """The repository's files as a clone would have them, with a borrowed-package .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    venv = target / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    )
    ours = Path(sysconfig.get_path("purelib"))
    (site / "borrowed_packages.pth").write_text(f"{ours}\n", encoding="utf-8")
    (site / "project_editable.pth").write_text(
        f"{target}\n{target / 'module_src'}\n", encoding="utf-8"
    )
    script = venv / "bin" / "sfm"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom sfm_cli.main import main\n"
        "sys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    # scripts/setup.sh installs only what is missing: the stamp says the project is in.
    (venv / ".installed[test]").touch()
    return target


def clean_env(home: Path) -> dict[str, str]:
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYTHONPATH", "SFM_HOME", "SFM_DEV"}
    }
    env.update(
        PATH=os.pathsep.join(path),
        SFM_STATE_DIR=str(home / "user-state"),  # the trial's copy outside the data folder
        SFM_LICENCE_SERVICE="",
    )
    return env


def run(
    command: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_readme_is_read_as_commands() -> None:
    blocks = shell_blocks(README.read_text(encoding="utf-8"))
    assert blocks[0] == ["scripts/run.sh", "scripts/test.sh"]
    assert blocks[1][0] == ". .venv/bin/activate"
    assert any(line.startswith("sfm call --from 201") for line in blocks[1])


def test_every_readme_command_as_written(tmp_path: Path) -> None:
    clone = fresh_copy(tmp_path / "clone")
    env = clean_env(tmp_path)
    blocks = shell_blocks(README.read_text(encoding="utf-8"))

    first = run("scripts/run.sh --check", clone, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run.sh --check: the PBX host answered" in first.stdout
    assert (clone / "var" / "pbx.sqlite3").is_file()
    assert (clone / "dist" / "Breakthrough-2.6.1-current.sfm").is_file()

    # What a shell keeps from one command to the next: the activation and exported variables.
    kept: list[str] = []
    for block in blocks[1:]:
        for command in block:
            if command.startswith((". ", "export ")):
                kept.append(command)
                continue
            script = "; ".join([*kept, command])
            answer = run(script, clone, env)
            assert answer.returncode == 0, f"{command}\n{answer.stdout}\n{answer.stderr}"
            assert "Traceback" not in answer.stderr, command
            if "--json" in command:
                json.loads(answer.stdout)

    # The licence commands the prose names: refused in a sentence without the service.
    activate = ". .venv/bin/activate; "
    for command in (
        "sfm licence verify --email admin@example.com",
        "sfm licence confirm --code 123456",
    ):
        answer = run(activate + command, clone, env)
        assert answer.returncode == 2, command
        assert answer.stderr.startswith("sfm: ") and "Traceback" not in answer.stderr
        assert answer.stderr.count("\n") == 1, answer.stderr

    # run.sh honours --data: the install goes there, not into ./var.
    other = tmp_path / "other-data"
    second = run(f"scripts/run.sh --check --data {other}", clone, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (other / "pbx.sqlite3").is_file() and (other / "pbx.toml").is_file()
    assert f"data folder {other}" in second.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_run_sh_help_in_a_fresh_copy_writes_nothing(tmp_path: Path, flag: str) -> None:
    clone = fresh_copy(tmp_path / "clone")
    before = sorted(p.relative_to(clone) for p in clone.rglob("*"))
    answer = run(f"scripts/run.sh {flag}", clone, clean_env(tmp_path), timeout=30)
    assert answer.returncode == 0 and answer.stdout.startswith("usage: scripts/run.sh")
    assert sorted(p.relative_to(clone) for p in clone.rglob("*")) == before
