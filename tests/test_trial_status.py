"""The trial as `licence_status` reports it: 14 days from the first install, no reset by
reinstall or a clock set back, and an altered record counts as an ended trial (no crash)."""

from __future__ import annotations

import math
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.db import connect
from runtime.licensing.status import ModuleGate, licence_status
from runtime.licensing.trial import record_install
from tests.machine_clocks import time_travel_is_real_time
from tests.test_licence_harness import MODULE

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here a travel stands for days that really pass (the machine runs all along)."""
    time_travel_is_real_time(monkeypatch)


def at(data: Path, moment: datetime) -> tuple[str, int | None]:
    """(state, days_left) at `moment`, read from disk by a fresh connection (as after a restart)."""
    with time_machine.travel(moment, tick=False):
        conn = connect(data)
        try:
            status = licence_status(conn, data, MODULE)
        finally:
            conn.close()
    return status.state, status.days_left


def install(data: Path, moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        conn = connect(data)
        record_install(conn, MODULE)
        conn.close()


def test_fresh_install_has_14_days_then_expires(tmp_path: Path) -> None:
    install(tmp_path, T0)
    assert at(tmp_path, T0) == ("trial", 14)
    assert at(tmp_path, T0 + timedelta(days=1)) == ("trial", 13)
    assert at(tmp_path, T0 + timedelta(days=13, hours=23, minutes=59)) == ("trial", 1)
    assert at(tmp_path, T0 + timedelta(days=14)) == ("expired", 0)
    assert at(tmp_path, T0 + timedelta(days=15)) == ("expired", 0)


def test_clock_set_back_after_expiry_stays_expired(tmp_path: Path) -> None:
    install(tmp_path, T0)
    assert at(tmp_path, T0 + timedelta(days=15))[0] == "expired"
    assert at(tmp_path, T0 + timedelta(days=2)) == ("expired", 0)
    assert at(tmp_path, T0 - timedelta(days=400)) == ("expired", 0)


def test_clock_set_back_during_trial_gives_no_days_back(tmp_path: Path) -> None:
    install(tmp_path, T0)
    assert at(tmp_path, T0 + timedelta(days=10)) == ("trial", 4)
    assert at(tmp_path, T0 + timedelta(days=1)) == ("trial", 4)


def test_reinstall_and_readding_do_not_reset_the_trial(tmp_path: Path) -> None:
    install(tmp_path, T0)
    install(tmp_path, T0 + timedelta(days=5))  # upgrade
    assert at(tmp_path, T0 + timedelta(days=5)) == ("trial", 9)
    install(tmp_path, T0 + timedelta(days=20))  # removed, then added again after expiry
    assert at(tmp_path, T0 + timedelta(days=20)) == ("expired", 0)
    install(tmp_path, T0 + timedelta(days=3))  # ... even with the clock set back
    assert at(tmp_path, T0 + timedelta(days=3)) == ("expired", 0)


def test_never_installed_module_is_expired_with_reason(tmp_path: Path) -> None:
    status = licence_status(connect(tmp_path), tmp_path, MODULE)
    assert status.state == "expired" and "never installed" in status.reason


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE licence_trials SET started_at = started_at + 86400 * 30",
        "UPDATE licence_trials SET latest_seen = latest_seen - 86400 * 30",
        "UPDATE licence_trials SET mac = substr(mac, 2) || substr(mac, 1, 1)",
    ],
    ids=["start-moved", "latest-seen-moved", "signature-edited"],
)
def test_tampered_trial_record_is_refused(tmp_path: Path, edit: str) -> None:
    install(tmp_path, T0)
    with sqlite3.connect(tmp_path / "pbx.sqlite3") as raw:
        raw.execute(edit)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        status = licence_status(connect(tmp_path), tmp_path, MODULE)
        assert status.state == "expired"
        assert "altered" in status.reason
        assert not ModuleGate.from_status(status).allows()


def test_lost_pbx_key_makes_the_record_unverifiable(tmp_path: Path) -> None:
    install(tmp_path, T0)
    (tmp_path / "licensing" / "pbx.key").unlink()
    state, _ = at(tmp_path, T0 + timedelta(days=1))
    assert state == "expired"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(elapsed=st.integers(min_value=0, max_value=40 * 86400))
def test_days_left_is_the_rounded_up_rest_of_14_days(
    tmp_path_factory: pytest.TempPathFactory, elapsed: int
) -> None:
    """Reference: days_left = ceil((14 days - elapsed) / 1 day) while positive, else expired."""
    data = tmp_path_factory.mktemp("pbx")
    os.environ["SFM_STATE_DIR"] = str(data / "user-state")  # each example a machine of its own
    install(data, T0)
    rest = 14 * 86400 - elapsed
    expected = ("trial", math.ceil(rest / 86400)) if rest > 0 else ("expired", 0)
    assert at(data, T0 + timedelta(seconds=elapsed)) == expected
