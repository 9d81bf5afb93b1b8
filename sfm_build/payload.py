"""The files every variant ships beside its classes: the module's Python package and the
licence public key.

The host loads the module's rule engine from `python/breakthrough/` inside the .sfm, so the
package goes in as it is in `module_src/breakthrough/` (every .py file and form.toml; never
`__pycache__`). `licence-public-key.pem` goes in at the root when `module_src/` has one.
"""

from __future__ import annotations

from pathlib import Path

from sfm_build.errors import BuildError

PYTHON_PACKAGE = "breakthrough"
PYTHON_PREFIX = "python/breakthrough/"
FORM_FILE = "form.toml"
PUBLIC_KEY_FILE = "licence-public-key.pem"


def module_payload(source: Path) -> dict[str, bytes]:
    """{path inside the .sfm: bytes} of the Python package and the public key under `source`
    (the module_src folder)."""
    package = source / PYTHON_PACKAGE
    if not package.is_dir():
        raise BuildError(f"{package}: the module's Python package is missing.")
    files: dict[str, bytes] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts or any(p.startswith(".") for p in relative.parts):
            continue
        files[PYTHON_PREFIX + relative.as_posix()] = path.read_bytes()
    if PYTHON_PREFIX + "__init__.py" not in files:
        raise BuildError(f"{package}: __init__.py is missing; it is not a Python package.")
    form = package / FORM_FILE
    if not form.is_file():
        raise BuildError(f"{form}: the configuration form is missing.")
    files[PYTHON_PREFIX + FORM_FILE] = form.read_bytes()
    key = source / PUBLIC_KEY_FILE
    if key.is_file():
        data = key.read_bytes()
        if b"-----BEGIN PUBLIC KEY-----" not in data:
            raise BuildError(f"{key}: not a PEM public key (no BEGIN PUBLIC KEY line).")
        files[PUBLIC_KEY_FILE] = data
    return files
