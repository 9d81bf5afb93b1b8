"""Compiling the host's Java sources: by source hash, safe when two compile at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runtime import jvm


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A copy of runtime/jvm_src and an empty class root, used instead of the real ones."""
    sources = tmp_path / "jvm_src"
    shutil.copytree(jvm.SOURCE_DIR, sources)
    classes = tmp_path / "jvm_classes"
    monkeypatch.setattr(jvm, "SOURCE_DIR", sources)
    monkeypatch.setattr(jvm, "CLASSES_ROOT", classes)
    return sources, classes


def test_two_compiles_at_once_agree_and_leave_no_temporary_folder(
    sandbox: tuple[Path, Path],
) -> None:
    sources, classes = sandbox
    results: list[Path] = []
    errors: list[BaseException] = []

    def compile_now() -> None:
        try:
            results.append(jvm.compiled_classes())
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=compile_now) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # the core's classes, beside each flavour of the module API's log part
    assert results[0] == results[1] == classes / jvm.sources_digest() / "core"
    for flavor in jvm.log_apis():
        assert (results[0].parent / flavor / "de" / "sfhost" / "module" / "runtime").is_dir()
    assert (results[0] / "de" / "sfhost" / "core" / "RoutingCore.class").is_file()
    assert (results[0] / "de" / "sfhost" / "module" / "api" / "KernelHook.class").is_file()
    assert [p.name for p in classes.iterdir()] == [jvm.sources_digest()]

    # Unchanged sources: no new compilation, the same folder.
    assert jvm.compiled_classes() == results[0]
    # A changed source: a new folder for the new hash.
    core = sources / "de" / "sfhost" / "core" / "RoutingCore.java"
    core.write_text(core.read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8")
    changed = jvm.compiled_classes()
    assert changed != results[0] and changed.parent.name == jvm.sources_digest()


def test_broken_source_is_reported_with_javac_output(sandbox: tuple[Path, Path]) -> None:
    sources, classes = sandbox
    (sources / "de" / "sfhost" / "core" / "Broken.java").write_text(
        "package de.sfhost.core; class Broken { int x = ; }", encoding="utf-8"
    )
    with pytest.raises(RuntimeError, match="Broken.java"):
        jvm.compiled_classes()
    assert not any(classes.iterdir())


def test_module_api_compiles_for_java_8(tmp_path: Path) -> None:
    # The legacy build compiles the module's entry classes against this API with --release 8.

    api = sorted((jvm.SOURCE_DIR / "de" / "sfhost" / "module" / "api").glob("*.java"))
    result = subprocess.run(
        [jvm.find_javac(), "--release", "8", "-d", str(tmp_path), *map(str, api)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_read_only_install_compiles_into_the_user_cache(tmp_path: Path) -> None:
    # A copy of the package that nobody may write to, as a system-wide install is: the classes
    # go to $XDG_CACHE_HOME/sfm/jvm_classes/<hash of the sources>, the package stays as it was.
    install = tmp_path / "install"
    shutil.copytree(
        Path(jvm.__file__).parent,
        install / "runtime",
        ignore=shutil.ignore_patterns("jvm_classes", "__pycache__"),
    )
    before = sorted(str(p.relative_to(install)) for p in install.rglob("*"))
    for path in [install, *install.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    cache = tmp_path / "cache"
    try:
        result = subprocess.run(
            [sys.executable, "-B", "-c", "from runtime import jvm; print(jvm.compiled_classes())"],
            env={**os.environ, "PYTHONPATH": str(install), "XDG_CACHE_HOME": str(cache)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for path in [install, *install.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert result.returncode == 0, result.stderr
    core = Path(result.stdout.strip())
    assert core.parent.parent == cache / "sfm" / "jvm_classes"
    assert (core / "de" / "sfhost" / "core" / "RoutingCore.class").is_file()
    assert sorted(str(p.relative_to(install)) for p in install.rglob("*")) == before
