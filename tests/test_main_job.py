"""The README's first command, `scripts/run.sh`, does the main job on a fresh data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_run_script_builds_installs_and_serves(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {**os.environ, "SFM_HOME": str(data)}
    done = subprocess.run(
        ["scripts/run.sh", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Both builds and the download page were written.
    for name in ("Breakthrough-2.6.1-current.sfm", "Breakthrough-2.6.1-legacy.sfm", "index.html"):
        assert (REPO / "dist" / name).is_file()
    # The web page answered, and the first start offered the one-time setup link.
    assert "answered on http://127.0.0.1:" in done.stdout
    assert "/setup/" in done.stdout
    # The fresh build is installed in the data folder with the sample PBX, and its trial runs.
    listed = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "--data", str(data), "module", "list", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert [m["name"] for m in json.loads(listed.stdout)] == ["Breakthrough"]
    status = subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", "--data", str(data), "licence", "status", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(status.stdout)["state"] == "trial"
    assert json.loads(status.stdout)["days_left"] == 14
    assert (data / "pbx.toml").is_file()
