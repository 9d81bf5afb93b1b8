"""Shared pytest fixtures.

One JVM per test process: JPype cannot restart it, so the `jvm` fixture starts it once per
session (through runtime.jvm.ensure_jvm) and never shuts it down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dev_environment import development_environment


@pytest.fixture(autouse=True)
def licensing_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every process it starts) runs the host in the development environment
    (tests/dev_environment.py). Yields its state folder."""
    with development_environment(tmp_path_factory) as state:
        yield state


@pytest.fixture(scope="session")
def jvm() -> Iterator[None]:
    """The process's one JVM, with the host classes (runtime/jvm_src) on the class path."""
    from runtime.jvm import ensure_jvm

    ensure_jvm()
    yield
