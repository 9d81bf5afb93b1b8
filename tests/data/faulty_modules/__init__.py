"""The faulty test modules (README.md here): their sources, ids, builds, and a data folder with
Breakthrough and one of them installed, all made through the `sfm` command in processes of
their own (as an admin would). Used by bench/call_load.py and tests/test_call_load.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SOURCES = Path(__file__).resolve().parent
FAULTS = ("throwing", "hanging", "gil_holding")
SAMPLE_PBX = REPO / "runtime" / "web" / "sample_pbx.toml"
FAULTY_INSTANCE_TOML = 'name = "Faulty"\nactive = true\n'


def module_id(source: Path) -> str:
    """The module id of a module source folder (its module.toml)."""
    module = tomllib.loads((source / "module.toml").read_text("utf-8"))["module"]
    return str(module["id"])


def faulty_id(fault: str) -> str:
    """The module id of the faulty module `fault` (one of FAULTS)."""
    return module_id(SOURCES / fault)


def sfm(state: Path, *argv: str | Path) -> str:
    """`sfm ARGV...` as a process of its own in development mode (the builds are signed with
    the development key), with its trial state in `state` and no licence service; its stdout.
    RuntimeError with its stderr when it fails."""
    env = dict(os.environ, SFM_DEV="1", SFM_STATE_DIR=str(state), SFM_LICENCE_SERVICE="")
    done = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", *map(str, argv)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        command = " ".join(map(str, argv))
        raise RuntimeError(f"sfm {command} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def build(state: Path, source: Path, out: Path) -> Path:
    """`sfm build --source SOURCE --out OUT --variant current`; the .sfm it wrote."""
    sfm(state, "build", "--source", source, "--out", out, "--variant", "current")
    (built,) = out.glob("*-current.sfm")
    return built


def prepare_data(
    folder: Path, breakthrough: Path, teamleiter_toml: str, faulty: Path | None
) -> tuple[Path, str]:
    """`folder`/data with the sample PBX, the Breakthrough build `breakthrough` with the
    instance `teamleiter_toml`, and the faulty build `faulty` (when given) with one active
    instance "Faulty"; the data folder and an API token for it. The trial state goes to
    `folder`/user-state, where tests.browser.harness.ServeProcess puts it too."""
    data = folder / "data"
    state = folder / "user-state"
    configs = folder / "configs"
    configs.mkdir(parents=True)
    sfm(state, "--data", data, "pbx", "load", SAMPLE_PBX)
    sfm(state, "--data", data, "module", "install", breakthrough)
    teamleiter = configs / "teamleiter.toml"
    teamleiter.write_text(teamleiter_toml, "utf-8")
    breakthrough_id = module_id(REPO / "module_src")
    sfm(state, "--data", data, "instance", "create", "--module", breakthrough_id,
        "--config", teamleiter)  # fmt: skip
    if faulty is not None:
        installed = json.loads(sfm(state, "--data", data, "--json", "module", "install", faulty))
        config = configs / "faulty.toml"
        config.write_text(FAULTY_INSTANCE_TOML, "utf-8")
        sfm(state, "--data", data, "instance", "create", "--module", installed["module"]["id"],
            "--config", config)  # fmt: skip
    token = json.loads(sfm(state, "--data", data, "--json", "admin", "token", "create", "load"))
    return data, str(token["token"])
