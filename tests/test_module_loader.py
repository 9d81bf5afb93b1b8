"""The installed build's Python package runs on its own, independent of the host's copy."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from runtime.errors import Refused
from runtime.modules.loader import load_package

MODULE_PACKAGE = Path(__file__).resolve().parents[1] / "module_src" / "breakthrough"


def test_module_code_imports_its_siblings_only_relatively() -> None:
    # An absolute `breakthrough.x` import would bind to the host's copy, and an upgrade
    # would not change that part of the running code.
    offenders = []
    for source in sorted(MODULE_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                if (node.module or "").split(".")[0] == "breakthrough":
                    offenders.append(f"{source.name}:{node.lineno}")
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{source.name}:{node.lineno}"
                    for alias in node.names
                    if alias.name.split(".")[0] == "breakthrough"
                ]
    assert offenders == []


def test_loaded_build_uses_its_own_copy_of_every_submodule(tmp_path: Path) -> None:
    build_dir = tmp_path / "modules" / "some-id" / "7"
    shutil.copytree(
        MODULE_PACKAGE,
        build_dir / "python" / "breakthrough",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # Mark the build's copy so we can tell it from the host's.
    errors = build_dir / "python" / "breakthrough" / "errors.py"
    errors.write_text(errors.read_text("utf-8") + "\nMARK = 'build 7'\n", "utf-8")

    loaded = load_package(build_dir)

    import breakthrough.errors as host_errors

    assert loaded.errors.MARK == "build 7"
    assert not hasattr(host_errors, "MARK")
    # The config module of the build raises the build's own ConfigError.
    assert loaded.config.ConfigError is loaded.errors.ConfigError
    assert loaded.config.ConfigError is not host_errors.ConfigError


def test_a_build_whose_code_does_not_import_is_refused_in_words(tmp_path: Path) -> None:
    build_dir = tmp_path / "modules" / "some-id" / "8"
    shutil.copytree(
        MODULE_PACKAGE,
        build_dir / "python" / "breakthrough",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    hook = build_dir / "python" / "breakthrough" / "hook.py"
    hook.write_text("from .rules import no_such_name\n", "utf-8")

    with pytest.raises(Refused, match=r"code does not load \(ImportError: .*no_such_name"):
        load_package(build_dir)
    # Nothing of the failed build stays imported: a second try fails the same way.
    with pytest.raises(Refused, match="no_such_name"):
        load_package(build_dir)
