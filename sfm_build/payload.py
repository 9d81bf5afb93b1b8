"""The files every variant ships beside its classes: the module's Python package and the
licence public key.

The host loads the module's Python code from `python/<package>/` inside the .sfm, so the one
package under the build's `--source` folder goes in as it is (every .py file and form.toml;
never `__pycache__`). `licence-public-key.pem` goes in at the root when the source has one.
"""

from __future__ import annotations

from pathlib import Path

from sfm_build.errors import BuildError
from sfm_build.form import FORM_FILE, find_package

PYTHON_ROOT = "python/"
PUBLIC_KEY_FILE = "licence-public-key.pem"


def module_payload(source: Path) -> dict[str, bytes]:
    """{path inside the .sfm: bytes} of the Python package and the public key under `source`
    (the module's source folder)."""
    package = find_package(source)
    prefix = f"{PYTHON_ROOT}{package.name}/"
    files: dict[str, bytes] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts or any(p.startswith(".") for p in relative.parts):
            continue
        files[prefix + relative.as_posix()] = path.read_bytes()
    form = package / FORM_FILE
    if not form.is_file():
        raise BuildError(f"{form}: the configuration form is missing.")
    files[prefix + FORM_FILE] = form.read_bytes()
    key = source / PUBLIC_KEY_FILE
    if key.is_file():
        data = key.read_bytes()
        if b"-----BEGIN PUBLIC KEY-----" not in data:
            raise BuildError(f"{key}: not a PEM public key (no BEGIN PUBLIC KEY line).")
        files[PUBLIC_KEY_FILE] = data
    return files
