"""`kill -9` in the middle of a change leaves the previous state whole (issue 11): an upgrade,
a rollback, an instance edit and a licence import, each killed (SIGKILL, no clean-up) at
every commit of the database and at times spread over its run. Afterwards the data folder is
either as before or as after the change, never in between, and the change can be made again.
(Install has its own kill tests in test_module_install.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.licensing.hardware_id import hardware_id
from sfm_build.signing import with_signature
from tests.browser.harness import REPO, sample_folder_with_instance
from tests.data.sfm_crafted import (
    MODULE_ID,
    entries,
    run_sfm,
    sfm_files,
    with_version,
    write_zip,
)
from tests.test_licence_harness import dev_licence

__all__ = ["sfm_files"]

# `sfm ARGV` with the database's commits counted; with a number N it stops for good right
# before the N-th COMMIT (or right after it, with "after"), says PAUSED and waits for the kill.
PAUSE_AT_COMMIT = """
import sys, time
from runtime import db
where, stop = sys.argv[1], int(sys.argv[2])
commits = 0
real_exit = db.transaction.__exit__

def exit_(self, exc_type, exc, tb):
    global commits
    if exc_type is None:
        commits += 1
        if commits == stop and where == "before":
            print("PAUSED", flush=True)
            time.sleep(600)
    real_exit(self, exc_type, exc, tb)
    if exc_type is None and commits == stop and where == "after":
        print("PAUSED", flush=True)
        time.sleep(600)

db.transaction.__exit__ = exit_
import sfm_cli.main
code = sfm_cli.main.main(sys.argv[3:])
print(f"COMMITS {commits}", flush=True)
sys.exit(code)
"""

Operation = Callable[[Path, Path], list[str]]  # (data folder, tmp) -> sfm arguments


def versioned(source: Path, target: Path, version: int) -> Path:
    """The module as build `version`, signed again (with the development key) as a vendor's
    build of that number would be."""
    changed = with_version(source, target, version, tag=str(version))
    return write_zip(target, with_signature(entries(changed), MODULE_ID))


def _state(data: Path) -> dict[str, object]:
    """What a change could leave half-done: the module manager's rows and the files of the
    builds they name, the instances, the licences (times of writing left out)."""
    conn = sqlite3.connect(data / "pbx.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        def rows(sql: str, drop: tuple[str, ...] = ()) -> list[dict[str, object]]:
            return [
                {k: row[k] for k in row.keys() if k not in drop}  # noqa: SIM118 (a Row)
                for row in conn.execute(sql)
            ]

        modules = rows("SELECT * FROM modules ORDER BY id", ("installed_at", "updated_at"))
        builds = rows("SELECT * FROM module_builds ORDER BY build", ("installed_at",))
        instances = rows("SELECT * FROM instances ORDER BY id", ("created_at", "updated_at"))
        licences = rows("SELECT * FROM licence_licences ORDER BY module_id", ("stored_at",))
    finally:
        conn.close()
    files = {}
    for module in modules:
        for build in (module["current_build"], module["previous_build"]):
            if build:
                folder = data / "modules" / str(module["id"]) / str(build)
                files[str(build)] = sorted(
                    str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                )
    return {
        "modules": modules,
        "builds": builds,
        "instances": instances,
        "licences": licences,
        "files": files,
    }


def _usable(data: Path) -> None:
    """The data folder works: the module list, the instance's export, the licence status."""
    for argv in (
        ("module", "list"),
        ("instance", "export", "Teamleiter"),
        ("licence", "status", "--module", MODULE_ID),
    ):
        code, _, err = run_sfm("--data", data, *argv)
        assert code == 0, (argv, err)


def _run(
    data: Path, argv: list[str], where: str = "before", stop: int = 0
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PAUSE_AT_COMMIT, where, str(stop), "--data", str(data), *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture()
def base(tmp_path: Path, sfm_files: dict[str, Path]) -> Path:
    """A data folder with build 261, then 262 installed (so there is a rollback), and an
    instance."""
    data = sample_folder_with_instance(tmp_path / "base", sfm_files["current"])
    v262 = versioned(sfm_files["current"], tmp_path / "v262.sfm", 262)
    code, _, err = run_sfm("--data", data, "module", "install", v262)
    assert code == 0, err
    return data


def _upgrade(data: Path, tmp: Path) -> list[str]:
    newer = versioned(tmp / "v262.sfm", tmp / "v263.sfm", 263)
    return ["module", "install", str(newer)]


def _rollback(data: Path, tmp: Path) -> list[str]:
    return ["module", "rollback", MODULE_ID]


def _instance_edit(data: Path, tmp: Path) -> list[str]:
    return ["instance", "update", "Teamleiter", "--log-level", "TRACE", "--caller", "202"]


def _licence_import(data: Path, tmp: Path) -> list[str]:
    licence = tmp / "dev.licence"
    licence.write_text(dev_licence(hardware_id(data), max_build=999))
    return ["licence", "import", str(licence), "--module", MODULE_ID]


OPERATIONS: dict[str, Operation] = {
    "upgrade": _upgrade,
    "rollback": _rollback,
    "instance edit": _instance_edit,
    "licence import": _licence_import,
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_kill_at_every_commit_leaves_the_state_before_or_after(
    base: Path, tmp_path: Path, name: str
) -> None:
    before = _state(base)
    argv = OPERATIONS[name](base, tmp_path)
    # The change made whole, once, in a copy: the state after, and how many commits it makes.
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    done = _run(reference, argv)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    commits = int(out.rsplit("COMMITS ", 1)[1])
    assert commits >= 1
    after = _state(reference)
    assert after != before, "the change changed nothing: the test would prove nothing"
    seen = set()
    for stop in range(1, commits + 1):
        for where in ("before", "after"):
            data = tmp_path / f"killed-{stop}-{where}"
            shutil.copytree(base, data)
            process = _run(data, argv, where, stop)
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.strip() == "PAUSED", (line, process.stderr.read() if process.stderr else "")
            _kill(process)
            state = _state(data)
            assert state in (before, after), f"{name}: killed {where} commit {stop}: half done"
            seen.add("before" if state == before else "after")
            _usable(data)
            if state == before:  # and the change can be made again, to the same end
                code, _, err = run_sfm("--data", data, *argv)
                assert code == 0, err
                assert _state(data) == after
            shutil.rmtree(data)
    # The main commit is among them: killed before it, nothing changed; after it, all.
    assert seen == {"before", "after"}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_kill_at_any_moment_leaves_the_state_before_or_after(
    base: Path, tmp_path: Path, name: str
) -> None:
    """A plain `sfm` process killed after delays spread over its run (not at a chosen line)."""
    before = _state(base)
    argv = OPERATIONS[name](base, tmp_path)
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    started = time.monotonic()
    code = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "--data", str(reference), *argv],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    ).returncode
    took = time.monotonic() - started
    assert code == 0
    after = _state(reference)
    for step in range(8):
        data = tmp_path / f"killed-{step}"
        shutil.copytree(base, data)
        process = subprocess.Popen(
            [sys.executable, "-m", "sfm_cli.main", "--data", str(data), *argv],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(took * (0.3 + 0.1 * step))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        state = _state(data)
        assert state in (before, after), f"{name}: killed after {step}: half done"
        _usable(data)
        shutil.rmtree(data)
    assert json.dumps(after, sort_keys=True) != json.dumps(before, sort_keys=True)
