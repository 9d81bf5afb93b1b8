"""The trial's start: first install only, never restarted, signed, clock set back ignored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from runtime.db import connect
from runtime.licensing.trial import TRIAL_DAYS, read_trial, record_install
from tests.data.sfm_crafted import MODULE_ID
from tests.machine_clocks import SimulatedMachine

MODULE = MODULE_ID
T0 = int(datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp())
DAY = 86400


def test_first_install_starts_a_14_day_trial(tmp_path: Path) -> None:
    machine = SimulatedMachine(T0)
    conn = connect(tmp_path)
    record_install(conn, MODULE, clock=machine)
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and trial.authentic
    assert trial.days_left == TRIAL_DAYS == 14
    machine.run(13 * DAY + 23 * 3600)
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and trial.running and trial.days_left == 1
    machine.run(3600)
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and not trial.running and trial.days_left == 0


def test_reinstall_later_does_not_restart_the_trial(tmp_path: Path) -> None:
    machine = SimulatedMachine(T0)
    conn = connect(tmp_path)
    record_install(conn, MODULE, clock=machine)
    machine.run(10 * DAY)
    record_install(conn, MODULE, clock=machine)
    conn.close()
    conn = connect(tmp_path)  # a restart of the host
    machine.run(10 * DAY)
    record_install(conn, MODULE, clock=machine)
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and trial.started_at == T0
    assert not trial.running


def test_clock_set_back_does_not_give_back_days(tmp_path: Path) -> None:
    machine = SimulatedMachine(T0)
    conn = connect(tmp_path)
    record_install(conn, MODULE, clock=machine)
    machine.run(10 * DAY)
    record_install(conn, MODULE, clock=machine)  # reinstall on day 10
    machine.step(-9 * DAY)  # the wall clock set back to day 1
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and trial.days_left == 4
    record_install(conn, MODULE, clock=machine)  # a checkpoint written on the set-back clock
    machine.reboot(3600)  # ... and a reboot: a gap from the set-back clock counts as is
    trial = read_trial(conn, MODULE, clock=machine)
    assert trial is not None and trial.days_left == 4


def test_trial_keyed_by_hardware_id(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, hardware_id="a" * 32)
    assert read_trial(conn, MODULE, hardware_id="b" * 32) is None


def test_edited_trial_row_is_not_authentic(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE)
    with sqlite3.connect(tmp_path / "pbx.sqlite3") as raw:
        raw.execute("UPDATE licence_trials SET used = 0, started_at = started_at + 30 * 86400")
    trial = read_trial(conn, MODULE)
    assert trial is not None and not trial.authentic and trial.altered == ("database",)
    assert not trial.running


def test_record_install_joins_the_callers_transaction(tmp_path: Path) -> None:
    from runtime.db import transaction

    conn = connect(tmp_path)
    with transaction(conn):
        record_install(conn, MODULE)
    assert read_trial(conn, MODULE) is not None
    try:
        with transaction(conn):
            record_install(conn, "another-module")
            raise RuntimeError("the install failed")
    except RuntimeError:
        pass
    assert read_trial(conn, "another-module") is None


def test_hardware_id_from_machine_id_is_hashed_and_stable(tmp_path: Path) -> None:
    from runtime.licensing.hardware_id import hardware_id

    machine_id = tmp_path / "machine-id"
    machine_id.write_text("4b1f0c6e2d3a4f5b8c9d0e1f2a3b4c5d\n")
    first = hardware_id(tmp_path / "a", machine_id_file=machine_id)
    assert first == hardware_id(tmp_path / "b", machine_id_file=machine_id)
    assert len(first) == 32 and "4b1f0c6e" not in first


def test_hardware_id_without_machine_id_is_created_once_per_data_folder(tmp_path: Path) -> None:
    from runtime.licensing.hardware_id import hardware_id

    missing = tmp_path / "no-machine-id"
    first = hardware_id(tmp_path / "a", machine_id_file=missing)
    assert first == hardware_id(tmp_path / "a", machine_id_file=missing)
    assert first != hardware_id(tmp_path / "b", machine_id_file=missing)
    assert (tmp_path / "a" / "licensing" / "hardware-id").read_text() == first
