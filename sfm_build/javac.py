"""Compiling the module's Java entry classes once per variant, against the host's module API.

Sources: `module_src/jvm_src/common/` plus `module_src/jvm_src/<variant>/` (where the PBX API
differs, e.g. the log adapter). The API (`runtime/jvm_src`, package de.sfhost.module.api) is only
looked up (`-sourcepath ... -implicit:none`), never compiled into the module. `-g:none` keeps
machine-specific paths out of the class files, so the bytes depend on the sources and the JDK.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sfm_build.errors import BuildError


@dataclass(frozen=True)
class CompileJob:
    """One javac run: the variant's name, its --release and its source folders."""

    variant: str
    release: int
    source_dirs: tuple[Path, ...]


def find_javac() -> str:
    """The javac on PATH; BuildError telling how to get one if there is none."""
    javac = shutil.which("javac")
    if javac is None:
        raise BuildError(
            "javac was not found on PATH; install a JDK 11 or later (scripts/setup.sh does)."
        )
    return javac


def _sources(job: CompileJob) -> list[Path]:
    files: list[Path] = []
    for folder in job.source_dirs:
        if not folder.is_dir():
            raise BuildError(
                f"{folder}: the Java source folder of variant {job.variant} is missing."
            )
        files.extend(sorted(folder.rglob("*.java")))
    if not files:
        raise BuildError(f"variant {job.variant}: no .java files in {job.source_dirs[0]}.")
    return files


def compile_all(jobs: Sequence[CompileJob], api_source: Path) -> dict[str, dict[str, bytes]]:
    """Compile every job (concurrently: javac is slow to start) and return, per variant, the
    class files as {path inside the JAR: bytes}. BuildError with javac's messages on failure."""
    javac = find_javac()
    if not api_source.is_dir():
        raise BuildError(f"{api_source}: the host's module API sources are missing.")
    with tempfile.TemporaryDirectory(prefix="sfm-javac-") as scratch:
        running = []
        for job in jobs:
            out = Path(scratch) / job.variant
            out.mkdir()
            command = [
                javac,
                "--release",
                str(job.release),
                "-encoding",
                "UTF-8",
                "-g:none",
                "-implicit:none",
                "-nowarn",
                "-Xlint:-options",
                "-sourcepath",
                str(api_source),
                "-d",
                str(out),
                *(str(path) for path in _sources(job)),
            ]
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            running.append((job, out, process))
        results: dict[str, dict[str, bytes]] = {}
        failures = []
        for job, out, process in running:
            output, _ = process.communicate()
            if process.returncode != 0:
                failures.append(f"javac --release {job.release} ({job.variant}) failed:\n{output}")
                continue
            results[job.variant] = {
                path.relative_to(out).as_posix(): path.read_bytes()
                for path in sorted(out.rglob("*.class"))
            }
        if failures:
            raise BuildError("\n".join(failures).rstrip())
    return results
