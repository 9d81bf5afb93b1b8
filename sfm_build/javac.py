"""Compiling the module's Java entry classes once per variant, against the host's module API.

Sources: `module_src/jvm_src/common/` plus `module_src/jvm_src/<variant>/` (where the PBX API
differs, e.g. the log adapter). The API (`runtime/jvm_src` and the flavour of the variant's log
API under `runtime/jvm_src/flavors/`, with that log API's Debian jar on the class path, as
`flavors/log_apis.toml` names it) is only looked up (`-sourcepath ... -implicit:none`), never
compiled into the module. `-g:none` keeps machine-specific paths out of the class files, so the
bytes depend on the sources and the JDK.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sfm_build.errors import BuildError
from sfm_format.toml_file import read_toml_file


@dataclass(frozen=True)
class CompileJob:
    """One javac run: the variant's name, its --release and its source folders."""

    variant: str
    release: int
    source_dirs: tuple[Path, ...]
    log_api: str = "log4j"  # the flavour of the module API (runtime/jvm_src/flavors/<log_api>)


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


def _api_lookup(api_source: Path, log_api: str) -> tuple[str, str]:
    """The -sourcepath and -classpath of the module API with the flavour `log_api`."""
    flavors = api_source / "flavors"
    table_file = flavors / "log_apis.toml"
    table = read_toml_file(table_file, BuildError) if table_file.is_file() else {}
    if log_api not in table:
        raise BuildError(
            f"log_api {log_api!r} is not one the host's module API offers "
            f"({', '.join(sorted(table)) or 'none'}; see {table_file})."
        )
    jars = [str(jar) for jar in table[log_api]["jars"]]
    for jar in jars:
        if not Path(jar).is_file():
            raise BuildError(
                f"{jar}: the {log_api} API jar is missing; scripts/setup.sh installs it."
            )
    sourcepath = os.pathsep.join(
        str(path) for path in (api_source, flavors / "shared", flavors / log_api)
    )
    return sourcepath, os.pathsep.join(jars)


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
            sourcepath, classpath = _api_lookup(api_source, job.log_api)
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
                sourcepath,
                "-classpath",
                classpath,
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
