"""Loading an installed module's own Python package (the copy inside its build folder).

The host runs the code that was uploaded, not the `breakthrough` package it was itself installed
with, so that an upgrade or a rollback changes the code. Each build is imported under a name of
its own (two builds may be loaded in one process, e.g. a long-running `sfm serve` across an
upgrade), with `submodule_search_locations` so the package's relative imports find its siblings.
The module's code imports its siblings only relatively (a test in test_module_loader.py says so).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from runtime.errors import Refused

PYTHON_DIR = "python"  # the module's one package is python/<any name>/ (MODULE_CONTRACT.md)

_lock = threading.Lock()
_loaded: dict[Path, LoadedPackage] = {}


@dataclass(frozen=True)
class LoadedPackage:
    """An installed build's package and the submodules the host uses."""

    name: str  # the unique name it is imported under
    folder: Path
    package: ModuleType

    def submodule(self, name: str) -> ModuleType:
        """`config`, `rules`, `hook`, `numbers`, `errors` ... of this build."""
        return importlib.import_module(f"{self.name}.{name}")

    @property
    def config(self) -> ModuleType:
        return self.submodule("config")

    @property
    def errors(self) -> ModuleType:
        return self.submodule("errors")

    def config_error(self) -> type[BaseException]:
        """This build's own ConfigError class (not the host's `breakthrough.errors` one)."""
        error = getattr(self.errors, "ConfigError", None)
        return error if isinstance(error, type) else ValueError


def package_folder(build_dir: Path) -> Path:
    """The build's Python package: the one folder python/<name>/ with an __init__.py."""
    found = sorted(init.parent for init in (build_dir / PYTHON_DIR).glob("*/__init__.py"))
    return found[0] if found else build_dir / PYTHON_DIR / "_none"


def _unique_name(build_dir: Path) -> str:
    module_id, build = build_dir.parent.name, build_dir.name
    return "sfm_installed_" + re.sub(r"\W", "_", f"{module_id}__{build}")


def load_package(build_dir: Path) -> LoadedPackage:
    """Import the package in `build_dir/python/<package>` (once per process per build).

    Raises Refused when the build has no Python package (an inspect-only module) or when
    its code raises while it is imported.
    """
    folder = package_folder(build_dir).resolve()
    init = folder / "__init__.py"
    with _lock:
        cached = _loaded.get(folder)
        if cached is not None:
            return cached
        if not init.is_file():
            raise Refused(f"{build_dir}: this module has no Python package; it is inspect only")
        name = _unique_name(build_dir)
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot make an import spec for {init}")
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        try:
            spec.loader.exec_module(package)
            # Import every submodule now, so that a broken build is refused at load time
            # and not on the first call that needs it.
            for source in sorted(folder.glob("*.py")):
                if source.stem != "__init__":
                    importlib.import_module(f"{name}.{source.stem}")
        except BaseException as exc:
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]
            if isinstance(exc, Exception):  # uploaded code: whatever it raises is its fault
                raise Refused(
                    f"{build_dir}: the module's code does not load "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            raise
        loaded = LoadedPackage(name=name, folder=folder, package=package)
        _loaded[folder] = loaded
        return loaded


def forget(build_dir: Path) -> None:
    """Drop a removed build from the cache and sys.modules (its folder is gone)."""
    folder = package_folder(build_dir).resolve()
    with _lock:
        loaded = _loaded.pop(folder, None)
        if loaded is None:
            return
        for key in [k for k in sys.modules if k == loaded.name or k.startswith(loaded.name + ".")]:
            del sys.modules[key]
