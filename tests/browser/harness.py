"""A real `sfm serve` for tests: a subprocess on a free port of 127.0.0.1, against a tmp data
folder, with its printed setup link and URL read from its stdout."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PBX = REPO / "runtime" / "web" / "sample_pbx.toml"
URL_LINE = re.compile(r"the PBX host runs on (http://\S+/)")
SETUP_LINE = re.compile(r"^\s+(http://\S+/setup/\S+)$")


def build_sfm(out: Path) -> Path:
    """Build the module with `sfm build` into `out`; the current variant's .sfm."""
    from sfm_cli.main import main

    code = main(["build", "--out", str(out)])
    assert code == 0, f"sfm build failed with exit code {code}"
    (current,) = sorted(out.glob("*-current.sfm"))
    return current


def load_sample_pbx(data_dir: Path) -> None:
    """Make the sample PBX directory the data folder's directory (as `sfm pbx load` does)."""
    from runtime.pbx_directory import store_directory

    store_directory(SAMPLE_PBX, data_dir)


def sample_folder_with_instance(data_dir: Path, sfm_file: Path) -> Path:
    """`data_dir` with the sample PBX, `sfm_file` installed and the Teamleiter instance made
    through the CLI (each step must succeed); returns `data_dir`."""
    from tests.data.sfm_crafted import MODULE_ID, TEAMLEITER_TOML, run_sfm

    load_sample_pbx(data_dir)
    code, _, err = run_sfm("--data", data_dir, "module", "install", sfm_file)
    assert code == 0, err
    config = data_dir.parent / "teamleiter.toml"
    config.write_text(TEAMLEITER_TOML, encoding="utf-8")
    code, _, err = run_sfm(
        "--data", data_dir, "instance", "create", "--module", MODULE_ID, "--config", config
    )
    assert code == 0, err
    return data_dir


class ServeProcess:
    """`sfm serve --port 0` running on `data_dir` until `stop()`."""

    def __init__(
        self, data_dir: Path, startup_timeout: float = 90.0, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.url = ""
        self.setup_link: str | None = None
        # The tests' builds are signed with the development key: development mode. The trial
        # copy kept outside the data folder goes next to it, never into the real home; no
        # licence service is asked about trials. (The autouse fixture of tests/conftest.py
        # sets the same, but module-scoped servers start before it; a test that set its own
        # values, e.g. a licence service to ask, keeps them.)
        env = {
            "SFM_DEV": "1",
            "SFM_STATE_DIR": str(data_dir.parent / "user-state"),
            "SFM_LICENCE_SERVICE": "",
            **os.environ,
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "sfm_cli.main", "serve", "--data", str(data_dir), "--port", "0"),
                *extra_args,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_ready(startup_timeout)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("sfm serve ended early:\n" + "\n".join(self.lines))
            for line in list(self.lines):
                if match := URL_LINE.search(line):
                    self.url = match.group(1)
                if match := SETUP_LINE.match(line):
                    self.setup_link = match.group(1)
            if self.url:
                try:
                    if httpx.get(self.url + "login", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("sfm serve did not answer in time:\n" + "\n".join(self.lines))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        """End the server we started (by its own process handle) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextmanager
def sample_server(factory: pytest.TempPathFactory, name: str) -> Iterator[ServeProcess]:
    """A server on a fresh data folder holding the sample PBX, stopped on leaving.

    Module-scoped servers start before the per-test environment (conftest's licensing
    fixture) is set, so the server is given the same: development mode for the test builds,
    a state folder of its own, no licence service.
    """
    data = factory.mktemp(name) / "data"
    load_sample_pbx(data)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SFM_DEV", "1")
        env.setenv("SFM_STATE_DIR", str(factory.mktemp(f"{name}-state")))
        env.setenv("SFM_LICENCE_SERVICE", "")
        serve = ServeProcess(data)
    try:
        yield serve
    finally:
        serve.stop()


def instance_rows(data_dir: Path) -> list[tuple]:
    """The stored instances, as rows."""
    conn = sqlite3.connect(data_dir / "pbx.sqlite3")
    try:
        return conn.execute("SELECT * FROM instances ORDER BY id").fetchall()
    finally:
        conn.close()


def manager_state(data_dir: Path) -> tuple[list[tuple], list[tuple], dict[str, bytes]]:
    """The module manager's rows (modules; builds and instances) and installed files: what a
    refused upload or change must leave as it was."""
    conn = sqlite3.connect(data_dir / "pbx.sqlite3")
    try:
        modules = conn.execute("SELECT * FROM modules ORDER BY id").fetchall()
        builds = conn.execute("SELECT * FROM module_builds ORDER BY build").fetchall()
    finally:
        conn.close()
    folder = data_dir / "modules"
    files = snapshot(folder) if folder.exists() else {}
    return modules, builds + instance_rows(data_dir), files


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (except the SQLite WAL side files) with its bytes."""
    result = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm")):
            result[str(path.relative_to(folder))] = path.read_bytes()
    return result
