"""The trial's start: first install only, never restarted, signed, clock set back ignored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.db import connect
from runtime.licensing.trial import TRIAL_DAYS, read_trial, record_install
from tests.data.sfm_crafted import MODULE_ID

MODULE = MODULE_ID
T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def test_first_install_starts_a_14_day_trial(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, T0)
    trial = read_trial(conn, MODULE)
    assert trial is not None and trial.authentic
    assert trial.days_left(int(T0.timestamp())) == TRIAL_DAYS == 14
    assert trial.running(int((T0 + timedelta(days=13, hours=23)).timestamp()))
    assert not trial.running(int((T0 + timedelta(days=14)).timestamp()))


def test_reinstall_later_does_not_restart_the_trial(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, T0)
    record_install(conn, MODULE, T0 + timedelta(days=10))
    conn.close()
    conn = connect(tmp_path)  # a restart of the host
    record_install(conn, MODULE, T0 + timedelta(days=20))
    trial = read_trial(conn, MODULE)
    assert trial is not None and trial.started_at == int(T0.timestamp())
    assert not trial.running(int((T0 + timedelta(days=20)).timestamp()))


def test_clock_set_back_does_not_give_back_days(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, T0)
    record_install(conn, MODULE, T0 + timedelta(days=10))  # reinstall on day 10
    trial = read_trial(conn, MODULE)
    assert trial is not None
    assert trial.days_left(int((T0 + timedelta(days=1)).timestamp())) == 4


def test_trial_keyed_by_hardware_id(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, T0, hardware_id="a" * 32)
    assert read_trial(conn, MODULE, hardware_id="b" * 32) is None


def test_edited_trial_row_is_not_authentic(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    record_install(conn, MODULE, T0)
    later = int((T0 + timedelta(days=30)).timestamp())
    with sqlite3.connect(tmp_path / "pbx.sqlite3") as raw:
        raw.execute("UPDATE licence_trials SET started_at = ?", (later,))
    trial = read_trial(conn, MODULE)
    assert trial is not None and not trial.authentic
    assert not trial.running(later)


def test_record_install_joins_the_callers_transaction(tmp_path: Path) -> None:
    from runtime.db import transaction

    conn = connect(tmp_path)
    with transaction(conn):
        record_install(conn, MODULE, T0)
    assert read_trial(conn, MODULE) is not None
    try:
        with transaction(conn):
            record_install(conn, "another-module", T0)
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
