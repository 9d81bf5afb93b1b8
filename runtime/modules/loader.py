"""Loading an installed module's own Python package (the copy inside its build folder), and
running code within a time limit.

The code that was uploaded runs, not a package the host was itself installed with, so that an
upgrade or a rollback changes the code. The package is the one folder `python/<any name>/` of
the build with an `__init__.py`. It is imported in the build's own process
(runtime/modules/module_process.py), never in the host's, under a name of its own, with
`submodule_search_locations` so the package's relative imports find its siblings. The module's
code imports its siblings only relatively (a test in test_module_loader.py says so).

`run_uploaded` runs a function on a thread of its own and gives up after a time limit,
catching anything it raises (SystemExit and KeyboardInterrupt included); the host runs the
modules' Java life-cycle functions this way. The failure comes back in words.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from runtime.errors import Refused

PYTHON_DIR = "python"
# Seconds uploaded code may take to start or to take a configuration (compiling 10 instances
# of 4 x 10,000 patterns takes a few seconds), and to import (`sfm call` pays it per run).
TIME_LIMIT = 20.0
IMPORT_TIME_LIMIT = 5.0

_lock = threading.Lock()
_loaded: dict[Path, LoadedPackage] = {}
T = TypeVar("T")


class UploadedCodeFailed(Exception):
    """Uploaded code raised or did not return in time; the message says which and why."""


def run_uploaded(function: Callable[[], T], what: str, time_limit: float | None = None) -> T:
    """`function()` on a thread of its own; UploadedCodeFailed naming `what` when it raises
    anything (BaseException included) or has not returned after `time_limit` seconds (the
    thread is then left behind: Python cannot stop it)."""
    outcome: list[object] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            outcome.append(function())
        except BaseException as exc:  # uploaded code: SystemExit and KeyboardInterrupt too
            failure.append(exc)

    thread = threading.Thread(target=body, name=f"sfhost-uploaded: {what}"[:60], daemon=True)
    thread.start()
    limit = TIME_LIMIT if time_limit is None else time_limit
    thread.join(limit)
    if thread.is_alive():
        raise UploadedCodeFailed(f"{what} did not finish within {limit:g} s")
    if failure:
        exc = failure[0]
        raise UploadedCodeFailed(f"{what} failed ({_describe(exc)})") from exc
    return outcome[0]  # type: ignore[return-value]


def _describe(exc: BaseException) -> str:
    """A Java exception's class and message, or a Python one's type and text."""
    java_name = getattr(exc, "getClass", None)
    if java_name is not None:
        try:
            return f"{exc.getClass().getName()}: {exc.getMessage()}"  # type: ignore[attr-defined]
        except Exception:
            pass
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class LoadedPackage:
    """An installed build's package."""

    name: str  # the unique name it is imported under
    folder: Path
    package: ModuleType

    def submodule(self, name: str) -> ModuleType:
        """A submodule of this build's package (`sfm_module`, ...), imported already."""
        return importlib.import_module(f"{self.name}.{name}")

    @property
    def config(self) -> ModuleType:
        return self.submodule("config")

    @property
    def errors(self) -> ModuleType:
        return self.submodule("errors")

    def config_error(self) -> type[BaseException]:
        """This build's own ConfigError class, if it has one (else ValueError)."""
        try:
            error = getattr(self.errors, "ConfigError", None)
        except ImportError:
            return ValueError
        return error if isinstance(error, type) else ValueError


def package_folder(build_dir: Path) -> Path | None:
    """The build's Python package folder (`python/<name>/` with an `__init__.py`), or None."""
    found = sorted(init.parent for init in (build_dir / PYTHON_DIR).glob("*/__init__.py"))
    return found[0] if found else None


def _unique_name(build_dir: Path) -> str:
    module_id, build = build_dir.parent.name, build_dir.name
    return "sfm_installed_" + re.sub(r"\W", "_", f"{module_id}__{build}")


def load_package(build_dir: Path, time_limit: float | None = None) -> LoadedPackage:
    """Import the build's package (once per process per build), every submodule included.

    Raises Refused when the build has no Python package (an inspect-only module), or when
    its code raises anything while it is imported or does not finish within `time_limit`.
    """
    found = package_folder(build_dir)
    if found is None:
        raise Refused(f"{build_dir}: this module has no Python package; it is inspect only")
    folder = found.resolve()
    init = folder / "__init__.py"
    with _lock:
        cached = _loaded.get(folder)
        if cached is not None:
            return cached
        name = _unique_name(build_dir)
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot make an import spec for {init}")
        package = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def do_import() -> None:
            sys.modules[name] = package
            loader.exec_module(package)
            # Import every submodule now, so that a broken build is refused at load time
            # and not on the first call that needs it.
            for source in sorted(folder.glob("*.py")):
                if source.stem != "__init__":
                    importlib.import_module(f"{name}.{source.stem}")

        try:
            limit = IMPORT_TIME_LIMIT if time_limit is None else time_limit
            run_uploaded(do_import, "importing the module's Python code", limit)
        except UploadedCodeFailed as exc:
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]
            cause = exc.__cause__
            reason = _describe(cause) if cause is not None else str(exc)
            raise Refused(f"{build_dir}: the module's code does not load ({reason})") from None
        loaded = LoadedPackage(name=name, folder=folder, package=package)
        _loaded[folder] = loaded
        return loaded
