"""The environment every host in the tests runs in (tests/conftest.py's autouse fixture, and
the SIP tests' hosts that live as long as their test module)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def development_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Development mode (the tests' builds are signed with the development key), the trial
    copy that lives outside the data folder in a fresh folder of its own (never the real home),
    and no licence service unless a test names one; yields that state folder. A MonkeyPatch of
    its own, so a test's `monkeypatch.undo()` does not drop these."""
    state = tmp_path_factory.mktemp("user-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SFM_DEV", "1")
        patch.setenv("SFM_STATE_DIR", str(state))
        patch.setenv("SFM_LICENCE_SERVICE", "")
        yield state
