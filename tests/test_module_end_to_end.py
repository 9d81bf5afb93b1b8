"""The README path in separate processes: `python build.py`, `sfm pbx load`, `sfm module
install`, `sfm instance create`, `sfm call` (no --pbx: the host from the data folder), and the
instance log written by the `sfm call` process before it exited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.data.sfm_crafted import REPO, TEAMLEITER_TOML
from tests.test_host import DIRECTORY


def _run(*argv: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'module_src'}"}
    env.pop("SFM_HOME", None)
    return subprocess.run(
        [sys.executable, *map(str, argv)], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120,
    )


def _sfm(data: Path, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    return _run("-m", "sfm_cli.main", "--data", data, *argv)


def test_build_install_and_call_in_separate_processes(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(REPO / "build.py", "--out", dist)
    assert built.returncode == 0, built.stderr
    [current] = [p for p in dist.glob("*.sfm") if "legacy" not in p.name]
    data = tmp_path / "data"
    (tmp_path / "pbx.toml").write_text(DIRECTORY, encoding="utf-8")
    (tmp_path / "teamleiter.toml").write_text(TEAMLEITER_TOML, encoding="utf-8")
    assert _sfm(data, "pbx", "load", tmp_path / "pbx.toml").returncode == 0
    installed = _sfm(data, "module", "install", current)
    assert installed.returncode == 0, installed.stderr
    created = _sfm(data, "instance", "create", "--config", tmp_path / "teamleiter.toml")
    assert created.returncode == 0, created.stderr

    call = _sfm(data, "--json", "call", "--from", "00492515906850", "--to", "201")
    assert call.returncode == 0, call.stderr
    result = json.loads(call.stdout)
    assert result["outcome"] == "ring" and result["rings"] == ["boss"]
    assert [a["instance"] for a in result["applied"]] == ["Teamleiter"]

    log = _sfm(data, "instance", "log", "Teamleiter")
    assert log.returncode == 0, log.stderr
    assert " DEBUG " in log.stdout and "2515906850" in log.stdout

    refused = _sfm(data, "module", "install", tmp_path / "pbx.toml")
    assert refused.returncode == 2
    assert "pbx.toml" in refused.stderr and "Traceback" not in refused.stderr
