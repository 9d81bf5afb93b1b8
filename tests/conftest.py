"""Shared pytest fixtures.

One JVM per test process: JPype cannot restart it, so the `jvm` fixture starts it once per
session (through runtime.jvm.ensure_jvm) and never shuts it down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def jvm() -> Iterator[None]:
    """The process's one JVM, with the host classes (runtime/jvm_src) on the class path."""
    from runtime.jvm import ensure_jvm

    ensure_jvm()
    yield
