"""The 2.6.1 lesson: nothing at night deactivates a licensed or in-trial module.

For a licensed module and for one in its trial, the clock is moved through midnight, both
Europe/Berlin DST changes of 2026, the leap day 2028-02-29, NTP steps forward and back, a
restart at night (the state rebuilt from disk at 03:00) and an unreachable licence service.
At every instant the gate the host built before the night still allows the hook, and a status
rebuilt from disk says the same state (for the trial: the days left that the 14 days give)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from runtime.db import connect
from runtime.licensing.hardware_id import hardware_id
from runtime.licensing.status import ModuleGate, licence_status
from runtime.licensing.trial import TRIAL_SECONDS, record_install
from sfm_cli.main import main
from tests.machine_clocks import time_travel_is_real_time
from tests.test_licence_harness import MODULE, dev_licence, free_port

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The nights here are time that really passes (the machine runs through them), with the
    wall clock showing each instant; clock steps that do not pass time: test_clock_steps.py."""
    time_travel_is_real_time(monkeypatch)


def berlin(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


# Each night: the instants the clock shows, in the order it shows them.
NIGHTS: dict[str, list[datetime]] = {
    "midnight": [
        berlin(2026, 11, 26, 23, 59, 59),
        berlin(2026, 11, 27, 0, 0, 0),
        berlin(2026, 11, 27, 0, 0, 1),
    ],
    # 02:00 CET -> 03:00 CEST: the hour 02:xx does not exist.
    "dst-spring-2026-03-29": [
        berlin(2026, 3, 28, 23, 59, 59),
        berlin(2026, 3, 29, 0, 0, 0),
        berlin(2026, 3, 29, 1, 59, 59),
        berlin(2026, 3, 29, 3, 0, 0),
        berlin(2026, 3, 29, 3, 30, 0),
    ],
    # 03:00 CEST -> 02:00 CET: the hour 02:xx happens twice.
    "dst-autumn-2026-10-25": [
        berlin(2026, 10, 25, 0, 0, 0),
        berlin(2026, 10, 25, 2, 30, 0, fold=0),
        berlin(2026, 10, 25, 2, 59, 59, fold=0),
        berlin(2026, 10, 25, 2, 0, 0, fold=1),
        berlin(2026, 10, 25, 2, 30, 0, fold=1),
        berlin(2026, 10, 25, 3, 0, 0),
    ],
    "leap-day-2028-02-29": [
        berlin(2028, 2, 28, 23, 59, 59),
        berlin(2028, 2, 29, 0, 0, 0),
        berlin(2028, 2, 29, 23, 59, 59),
        berlin(2028, 3, 1, 0, 0, 0),
    ],
    "ntp-step-forward": [
        berlin(2026, 11, 27, 1, 0, 0),
        berlin(2026, 11, 27, 1, 0, 1) + timedelta(hours=3),  # the clock jumps 3 h ahead
        berlin(2026, 11, 27, 4, 0, 30),
    ],
    "ntp-step-back": [
        berlin(2026, 11, 27, 2, 0, 0),
        berlin(2026, 11, 27, 1, 0, 0),  # the clock jumps 1 h back
        berlin(2026, 11, 27, 0, 0, 0),  # ... and back across midnight to the day before
        berlin(2026, 11, 26, 23, 0, 0),
        berlin(2026, 11, 27, 2, 30, 0),
    ],
    "restart-at-night": [
        berlin(2026, 11, 27, 2, 59, 59),
        berlin(2026, 11, 27, 3, 0, 0),
        berlin(2026, 11, 27, 3, 0, 5),
    ],
}


def prepare(data: Path, kind: str, night_start: datetime) -> datetime:
    """A module that is `kind` ("trial" or "licensed") when the night starts; its install time.

    The trial one was installed 5 days before the night; the licensed one 40 days before (its
    trial long over), so only the licence can keep it active.
    """
    installed = night_start - timedelta(days=5 if kind == "trial" else 40)
    with time_machine.travel(installed, tick=False):
        conn = connect(data)
        record_install(conn, MODULE)
        conn.close()
    if kind == "licensed":
        licence = data.parent / "licence.json"
        licence.write_text(dev_licence(hardware_id(data)))
        with time_machine.travel(night_start - timedelta(days=1), tick=False):
            assert main(["licence", "import", str(licence), "--data", str(data)]) == 0
    return installed


def status_from_disk(data: Path) -> tuple[str, int | None, ModuleGate]:
    """The state as a host restarting now would rebuild it: fresh connection, fresh gate."""
    conn = connect(data)
    try:
        status = licence_status(conn, data, MODULE)
    finally:
        conn.close()
    return status.state, status.days_left, ModuleGate.from_status(status)


@pytest.mark.parametrize("night", list(NIGHTS))
@pytest.mark.parametrize("kind", ["licensed", "trial"])
def test_nothing_at_night_deactivates_the_module(tmp_path: Path, kind: str, night: str) -> None:
    data = tmp_path / "pbx"
    instants = NIGHTS[night]
    installed = prepare(data, kind, instants[0])
    trial_end = installed.timestamp() + TRIAL_SECONDS
    with time_machine.travel(instants[0] - timedelta(hours=2), tick=False):
        state, _, held_gate = status_from_disk(data)  # the host starts in the evening
    assert state == kind
    latest_seen = 0.0
    for instant in instants:
        with time_machine.travel(instant, tick=False):
            now = time.time()
            assert now == instant.timestamp()
            assert time.localtime(now).tm_hour == instant.hour  # the PBX runs on Berlin time
            latest_seen = max(latest_seen, now)
            assert held_gate.allows(), f"{kind} module deactivated at {instant.isoformat()}"
            state, days_left, gate = status_from_disk(data)
            assert state == kind, f"{kind} module became {state} at {instant.isoformat()}"
            assert gate.allows()
            if kind == "trial":
                assert days_left == math.ceil((trial_end - latest_seen) / 86400)
            else:
                assert days_left is None


@pytest.mark.parametrize("kind", ["licensed", "trial"])
def test_unreachable_licence_service_at_night_changes_nothing(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pbx"
    night = berlin(2026, 10, 25, 2, 30, 0, fold=1)
    prepare(data, kind, night)
    dead = f"http://127.0.0.1:{free_port()}"
    with time_machine.travel(night, tick=False):
        before = status_from_disk(data)
        capsys.readouterr()
        code = main(
            [
                "licence",
                "verify",
                "--data",
                str(data),
                "--email",
                "chef@example.com",
                "--server",
                dead,
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and "cannot be reached" in err
        after = status_from_disk(data)
        assert after[:2] == before[:2] and after[0] == kind
        assert after[2].allows()


def test_trial_lasts_exactly_14_times_24_hours_across_a_dst_change(tmp_path: Path) -> None:
    """The end is counted in UTC seconds: a DST change in the 14 days does not move it."""
    data = tmp_path / "pbx"
    installed = berlin(2026, 10, 11, 12, 0, 0)  # CEST; the trial spans the change to CET
    with time_machine.travel(installed, tick=False):
        conn = connect(data)
        record_install(conn, MODULE)
        conn.close()
    end = installed.astimezone(UTC) + timedelta(days=14)
    with time_machine.travel(end - timedelta(seconds=1), tick=False):
        state, days_left, gate = status_from_disk(data)
        assert (state, days_left) == ("trial", 1) and gate.allows()
    with time_machine.travel(end, tick=False):
        assert status_from_disk(data)[0] == "expired"


@pytest.mark.parametrize(
    "reading",
    [
        datetime(1980, 1, 1, tzinfo=UTC),  # a PBX booting with a dead RTC battery
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # just before a DST change
        datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),  # past 32-bit seconds
        datetime(2100, 1, 1, tzinfo=UTC),
    ],
)
def test_an_imported_licence_is_licensed_at_every_clock_reading(
    tmp_path: Path, reading: datetime
) -> None:
    # The state and gate a host rebuilds from disk, not a gate made "licensed" by hand.
    data = tmp_path / "pbx"
    prepare(data, "licensed", berlin(2026, 6, 1, 0, 0, 0))
    with time_machine.travel(reading, tick=False):
        state, days_left, gate = status_from_disk(data)
        assert (state, days_left) == ("licensed", None)
        assert gate.allows(time.time())


@given(
    end=st.integers(min_value=0, max_value=2**40),
    now=st.floats(min_value=-1e12, max_value=1e13, allow_nan=False),
)
def test_a_trial_gate_is_one_comparison_with_the_fixed_end(end: int, now: float) -> None:
    """Reference: allowed exactly while the monotonic reading now < the deadline end; an
    expired gate never allows."""
    assert ModuleGate(MODULE, "trial", end, "trial").allows(now) == (now < end)
    assert not ModuleGate(MODULE, "expired", end, "expired").allows(now)


def test_a_locked_database_at_night_does_not_end_the_trial(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The trial's latest-seen mark cannot be written (another writer holds the database):
    the status is still judged on the record as read."""
    import sqlite3

    data = tmp_path / "pbx"
    night = berlin(2026, 11, 27, 3, 0, 0)
    prepare(data, "trial", night)
    blocker = sqlite3.connect(data / "pbx.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with time_machine.travel(night, tick=False):
            conn = connect(data)
            conn.execute("PRAGMA busy_timeout=50")
            status = licence_status(conn, data, MODULE)
            conn.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (status.state, status.days_left) == ("trial", 9)
    assert "could not note the time" in caplog.text
