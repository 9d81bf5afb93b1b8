#!/usr/bin/env python3
"""The vendor's entry point: `python build.py [--variant current|legacy|all]` is `sfm build`.

Run with any Python 3.11: without the project installed (no virtualenv active), it runs
itself again with the project's own .venv/bin/python, or says in one sentence how to make it.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE / ".venv" / "bin" / "python"
GUARD = "SFM_BUILD_REEXEC"


def _project_importable() -> bool:
    try:
        import breakthrough  # noqa: F401
        import sfm_cli.main  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


if __name__ == "__main__":
    if not _project_importable():
        if VENV_PYTHON.is_file() and not os.environ.get(GUARD):
            os.environ[GUARD] = "1"
            os.execv(
                str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]]
            )
        print(
            "build.py: the project is not installed for this Python; run scripts/setup.sh "
            "once (it makes .venv), then python build.py again.",
            file=sys.stderr,
        )
        sys.exit(2)
    from sfm_cli.main import main

    sys.exit(main(["build", *sys.argv[1:]]))
