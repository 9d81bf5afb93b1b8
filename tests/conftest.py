"""Shared pytest fixtures.

One JVM per test process: JPype cannot restart it, so the `jvm` fixture starts it once per
session (through runtime.jvm.ensure_jvm) and never shuts it down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def licensing_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every process it starts) runs the host in development mode, since the
    builds the tests make are signed with the development key; keeps the trial copy that lives
    outside the data folder in a fresh folder of its own (never the real home); and asks no
    licence service about trials unless the test names one. Yields that state folder.

    A MonkeyPatch of its own, so a test's `monkeypatch.undo()` does not drop these.
    """
    state = tmp_path_factory.mktemp("user-state")
    patch = pytest.MonkeyPatch()
    patch.setenv("SFM_DEV", "1")
    patch.setenv("SFM_STATE_DIR", str(state))
    patch.setenv("SFM_LICENCE_SERVICE", "")
    try:
        yield state
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def jvm() -> Iterator[None]:
    """The process's one JVM, with the host classes (runtime/jvm_src) on the class path."""
    from runtime.jvm import ensure_jvm

    ensure_jvm()
    yield
