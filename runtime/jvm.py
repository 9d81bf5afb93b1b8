"""The one JVM of this process: compiling the host's Java sources and starting the JVM.

`runtime/jvm_src` (the module API and the routing core) is compiled with javac into
`runtime/jvm_classes/<sha256 of the sources>/`, only when no folder for the current sources
exists yet. Compilation goes to a temporary folder that is renamed into place, so two processes
compiling at the same moment cannot see (or leave) a half-written class folder.

JPype allows one JVM per process and no restart, so `ensure_jvm()` starts it once, with that
folder on the class path, and every later call returns at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import jpype

from runtime.errors import Refused

SOURCE_DIR = Path(__file__).with_name("jvm_src")
CLASSES_ROOT = Path(__file__).with_name("jvm_classes")
# The core uses Java 11 APIs; the module API inside it stays Java 8 compatible on its own.
JAVA_RELEASE = "11"

_lock = threading.Lock()


def java_sources() -> list[Path]:
    """Every .java file under runtime/jvm_src, in a stable order."""
    return sorted(SOURCE_DIR.rglob("*.java"))


def sources_digest() -> str:
    """sha256 over the relative paths and contents of the Java sources."""
    digest = hashlib.sha256()
    digest.update(f"release={JAVA_RELEASE}\n".encode())
    for path in java_sources():
        digest.update(path.relative_to(SOURCE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def find_javac() -> str:
    """The javac to use: $JAVA_HOME/bin/javac, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "javac"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("javac")
    if found is None:
        raise RuntimeError("javac was not found (set JAVA_HOME or put a JDK on PATH)")
    return found


def compiled_classes() -> Path:
    """The class folder for the current sources, compiling them first if it does not exist.

    Safe against concurrent callers in other processes: each compiles into its own temporary
    folder and renames it into place; the first rename wins, later ones discard their copy.
    """
    target = CLASSES_ROOT / sources_digest()
    if target.is_dir():
        return target
    CLASSES_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".compile-", dir=CLASSES_ROOT))
    try:
        result = subprocess.run(
            [
                find_javac(),
                "--release",
                JAVA_RELEASE,
                "-encoding",
                "UTF-8",
                "-nowarn",
                "-d",
                str(work),
                *[str(p) for p in java_sources()],
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"javac failed on runtime/jvm_src:\n{result.stderr}")
        try:
            work.rename(target)
        except OSError:
            # Another process renamed its (identical) result into place first.
            if not target.is_dir():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def ensure_jvm() -> None:
    """Start this process's JVM with the host classes on the class path; idempotent, thread-safe.

    If the JVM was already started elsewhere without our classes, that is refused with a
    message, because JPype cannot add a class folder to a running JVM reliably.
    """
    with _lock:
        if jpype.isJVMStarted():
            try:
                jpype.JClass("de.sfhost.module.api.LogLevel")
            except Exception as exc:  # JPype raises a Java NoClassDefFoundError here
                raise Refused(
                    "The JVM of this process was started without the host classes "
                    "(runtime/jvm_classes); start it with runtime.jvm.ensure_jvm()."
                ) from exc
            return
        classes = compiled_classes()
        jpype.startJVM(
            "-Dfile.encoding=UTF-8",
            "-Xss1m",
            classpath=[str(classes)],
            convertStrings=False,
        )
