"""The one JVM of this process: compiling the host's Java sources and starting the JVM.

`runtime/jvm_src` (the module API and the routing core) is compiled with javac into
`<user cache>/sfm/jvm_classes/<sha256 of the sources>/core` (`$XDG_CACHE_HOME`, else
`~/.cache`: never the package folder, so a read-only install works), only when no folder for
the current sources exists yet; each flavour of the module API's log part
(`runtime/jvm_src/flavors/`, see its README) into `.../<flavour>` beside it. Compilation goes
to a temporary folder that is renamed into place, so two processes compiling at the same
moment cannot see (or leave) a half-written class folder.

JPype allows one JVM per process and no restart, so `ensure_jvm()` starts it once, with the
core folder on the class path, and every later call returns at once. `api_class_loader(flavour)`
gives the class loader of one flavour (made once per process); module builds load their
classes in a loader whose parent is the flavour of the PBX version the host runs as.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

import jpype

from runtime.errors import Refused
from sfm_format.toml_file import read_toml_file

SOURCE_DIR = Path(__file__).with_name("jvm_src")
FLAVORS = "flavors"  # under SOURCE_DIR: the module API's log flavours (see their README)
SHARED_FLAVOR = "shared"
LOG_APIS = "log_apis.toml"


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sfm"


CLASSES_ROOT = _user_cache() / "jvm_classes"
# The core uses Java 17 APIs (Unix domain sockets: de.sfhost.core.CallChannel); the module API
# inside it stays Java 8 compatible on its own.
JAVA_RELEASE = "17"

_lock = threading.Lock()


def java_sources() -> list[Path]:
    """The .java files of the host core (everything under runtime/jvm_src but the flavours)."""
    flavors = SOURCE_DIR / FLAVORS
    return sorted(p for p in SOURCE_DIR.rglob("*.java") if flavors not in p.parents)


def log_apis() -> dict[str, dict[str, Any]]:
    """flavour -> {jars: [...], from_pbx: "7.3"} (runtime/jvm_src/flavors/log_apis.toml)."""
    return _read_log_apis(SOURCE_DIR / FLAVORS / LOG_APIS)


@cache
def _read_log_apis(path: Path) -> dict[str, dict[str, Any]]:
    return read_toml_file(path, Refused)


def flavor_sources(flavor: str) -> list[Path]:
    """The .java files of one flavour of the module API (its own and the shared ones)."""
    flavors = SOURCE_DIR / FLAVORS
    return sorted((flavors / SHARED_FLAVOR).rglob("*.java")) + sorted(
        (flavors / flavor).rglob("*.java")
    )


def log_api_for(pbx_version: str) -> str:
    """The flavour (log API) of the module API a PBX of this version offers its modules."""
    have = _version_key(pbx_version)
    best = max(
        (name for name, api in log_apis().items() if _version_key(api["from_pbx"]) <= have),
        key=lambda name: _version_key(log_apis()[name]["from_pbx"]),
    )
    return best


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def sources_digest() -> str:
    """sha256 over the relative paths and contents of the Java sources (core and flavours)."""
    digest = hashlib.sha256()
    digest.update(f"release={JAVA_RELEASE}\n".encode())
    for path in sorted(SOURCE_DIR.rglob("*.java")) + [SOURCE_DIR / FLAVORS / LOG_APIS]:
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


def _javac(out: Path, sources: list[Path], classpath: list[str], what: str) -> None:
    out.mkdir(parents=True)
    command = [find_javac(), "--release", JAVA_RELEASE, "-encoding", "UTF-8", "-nowarn"]
    if classpath:
        command += ["-cp", os.pathsep.join(classpath)]
    result = subprocess.run(
        [*command, "-d", str(out), *[str(p) for p in sources]],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"javac failed on {what}:\n{result.stderr}")


def compiled_classes() -> Path:
    """The host core's class folder for the current sources (compiling everything first if it
    does not exist); each flavour's folder is its sibling (`flavor_classes`).

    Safe against concurrent callers in other processes: each compiles into its own temporary
    folder and renames it into place; the first rename wins, later ones discard their copy.
    """
    target = CLASSES_ROOT / sources_digest()
    if target.is_dir():
        return target / "core"
    CLASSES_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".compile-", dir=CLASSES_ROOT))
    try:
        _javac(work / "core", java_sources(), [], "runtime/jvm_src")
        for flavor, api in log_apis().items():
            _javac(
                work / flavor,
                flavor_sources(flavor),
                [str(work / "core"), *api["jars"]],
                f"runtime/jvm_src/flavors/{flavor}",
            )
        try:
            work.rename(target)
        except OSError:
            # Another process renamed its (identical) result into place first.
            if not target.is_dir():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target / "core"


def flavor_classes(flavor: str) -> Path:
    """The class folder of one flavour of the module API (compiled with the core)."""
    return compiled_classes().parent / flavor


_loaders: dict[str, Any] = {}


def api_class_loader(flavor: str) -> Any:
    """The Java class loader of one flavour of the module API (its classes and its log API's
    jars; parent: the host core), made once per process. Starts the JVM if needed."""
    ensure_jvm()
    with _lock:
        loader = _loaders.get(flavor)
        if loader is None:
            if flavor not in log_apis():
                raise Refused(f"this host has no module API with log API {flavor!r}")
            url = jpype.JClass("java.net.URL")
            paths = [flavor_classes(flavor), *map(Path, log_apis()[flavor]["jars"])]
            urls = jpype.JArray(url)(
                [url(p.resolve().as_uri() + ("/" if p.is_dir() else "")) for p in paths]
            )
            loader = jpype.JClass("java.net.URLClassLoader")(
                urls, jpype.JClass("java.lang.ClassLoader").getSystemClassLoader()
            )
            _loaders[flavor] = loader
        return loader


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
                    f"({CLASSES_ROOT}); start it with runtime.jvm.ensure_jvm()."
                ) from exc
            return
        classes = compiled_classes()
        jpype.startJVM(
            "-Dfile.encoding=UTF-8",
            "-Xss1m",
            # JPype calls System.gc() when Python's heap grows; a full collection stops every
            # call for 10-30 ms (measured under SIP load), a concurrent cycle does not.
            "-XX:+ExplicitGCInvokesConcurrent",
            classpath=[str(classes)],
            convertStrings=False,
        )
