"""Building the two modules of this repository for tests: Breakthrough (module_src) and the
example Sperrliste (examples/sperrliste), each with `sfm build --source`, and a source copy with
changes (for upgrade cases)."""

from __future__ import annotations

import shutil
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BREAKTHROUGH_SRC = REPO / "module_src"
SPERRLISTE_SRC = REPO / "examples" / "sperrliste"
BREAKTHROUGH_ID: str = tomllib.loads((BREAKTHROUGH_SRC / "module.toml").read_text("utf-8"))[
    "module"
]["id"]
SPERRLISTE_ID: str = tomllib.loads((SPERRLISTE_SRC / "module.toml").read_text("utf-8"))["module"][
    "id"
]


def build(source: Path, out: Path, variant: str = "current") -> Path:
    """`sfm build --source SOURCE --out OUT --variant VARIANT`; the .sfm it wrote."""
    from sfm_cli.main import main

    out.mkdir(parents=True, exist_ok=True)
    code = main(["build", "--source", str(source), "--out", str(out), "--variant", variant])
    assert code == 0, f"sfm build --source {source} failed with exit {code}"
    (built,) = [p for p in out.glob("*.sfm") if p.name.endswith(f"-{variant}.sfm")]
    return built


def changed_copy(source: Path, into: Path, edits: dict[str, Callable[[str], str]]) -> Path:
    """A copy of the module source `source` with each file of `edits` (relative path) changed."""
    shutil.copytree(source, into, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, edit in edits.items():
        path = into / relative
        text = path.read_text("utf-8")
        changed = edit(text)
        assert changed != text, f"the edit of {relative} changed nothing"
        path.write_text(changed, "utf-8")
    return into


def unpack(sfm: Path, into: Path) -> Path:
    """The .sfm unpacked as the module manager does (a build folder)."""
    into.mkdir(parents=True)
    with zipfile.ZipFile(sfm) as archive:
        archive.extractall(into)
    return into


def running_build(host: Any, module_id: str) -> Path:
    """The build folder whose Python code the module's running process runs (its command
    line's last argument) in `host` (a runtime.host.Host)."""
    pid = host.module_process_id(module_id)
    assert pid is not None, "the module's Python process is not running"
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    return Path(argv[-1].decode())
