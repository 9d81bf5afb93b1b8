"""Issue 11, finding 11: the trial is not restarted by deleting a row or a folder.

The trial lives in three signed copies (database row, data folder, the user's state folder
outside it), and the vendor's licence service remembers the first trial of each hardware id.
Deleting the row plus an upgrade, deleting `pbx.key` plus the row, or a new data folder on the
same machine give no new 14 days; a machine whose every local copy is gone gets its first
trial's start back from the service when it reaches it.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine

from runtime.db import connect
from runtime.licensing.hardware_id import hardware_id
from runtime.licensing.status import licence_status
from runtime.licensing.trial_keeper import TrialKeeper, register_trial
from tests.data.sfm_crafted import MODULE_ID, run_sfm, sfm_files, with_version
from tests.machine_clocks import time_travel_is_real_time
from tests.test_licence_harness import free_port, running_service

__all__ = ["sfm_files"]  # the session fixture, imported to be found by pytest

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here a travel stands for days that really pass (the machine runs all along)."""
    time_travel_is_real_time(monkeypatch)


def status(data: Path) -> dict[str, object]:
    code, out, err = run_sfm("--data", data, "licence", "status", "--json", "--module", MODULE_ID)
    assert code == 0, err
    return dict(json.loads(out))


def install(data: Path, sfm: Path) -> None:
    code, _, err = run_sfm("--data", data, "module", "install", sfm)
    assert code == 0, err


def delete_trial_row(data: Path) -> None:
    with sqlite3.connect(data / "pbx.sqlite3") as raw:
        assert raw.execute("DELETE FROM licence_trials").rowcount == 1


@pytest.fixture
def upgrade(tmp_path: Path, sfm_files: dict[str, Path]) -> Path:
    return with_version(sfm_files["current"], tmp_path / "v262.sfm", 262)


def test_deleting_the_row_plus_an_upgrade_gives_no_new_trial(
    tmp_path: Path, sfm_files: dict[str, Path], upgrade: Path
) -> None:
    data = tmp_path / "pbx"
    with time_machine.travel(T0, tick=False) as clock:
        install(data, sfm_files["current"])
        clock.move_to(T0 + timedelta(days=5))
        delete_trial_row(data)
        assert status(data)["days_left"] == 9  # read from the other copies
        clock.move_to(T0 + timedelta(days=15))
        assert status(data)["state"] == "expired"
        delete_trial_row(data)
        install(data, upgrade)
        assert status(data) == {
            "state": "expired",
            "days_left": 0,
            "email": None,
            "expires": "2026-11-16",
        }
        with sqlite3.connect(data / "pbx.sqlite3") as raw:  # the row is back, restored
            assert raw.execute("SELECT COUNT(*) FROM licence_trials").fetchone() == (1,)


@pytest.mark.parametrize("also", ["pbx.key", "whole licensing folder"])
def test_deleting_pbx_key_plus_the_row_gives_no_new_trial(
    tmp_path: Path, sfm_files: dict[str, Path], upgrade: Path, also: str
) -> None:
    data = tmp_path / "pbx"
    with time_machine.travel(T0, tick=False) as clock:
        install(data, sfm_files["current"])
        clock.move_to(T0 + timedelta(days=15))
        delete_trial_row(data)
        if also == "pbx.key":
            (data / "licensing" / "pbx.key").unlink()
        else:
            shutil.rmtree(data / "licensing")
        install(data, upgrade)
        assert status(data)["state"] == "expired"
        code, out, _ = run_sfm("--data", data, "licence", "status", "--module", MODULE_ID)
        if also == "pbx.key":  # the copy in the data folder no longer matches the new key
            assert "was altered" in out and "data folder" in out
        else:  # the copy outside the data folder still holds the trial and its days
            assert "trial ended" in out


def test_a_new_data_folder_on_the_same_machine_continues_the_trial(
    tmp_path: Path, sfm_files: dict[str, Path], licensing_environment: Path
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        install(tmp_path / "first", sfm_files["current"])
        clock.move_to(T0 + timedelta(days=5))
        install(tmp_path / "second", sfm_files["current"])
        assert status(tmp_path / "second")["days_left"] == 9
        clock.move_to(T0 + timedelta(days=15))
        install(tmp_path / "third", sfm_files["current"])
        assert status(tmp_path / "third")["state"] == "expired"
        # The copy that made it so: outside every data folder, keyed by the hardware id.
        hw = hardware_id(tmp_path / "third")
        assert (licensing_environment / "trials" / hw / f"{MODULE_ID}.json").is_file()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    with running_service(tmp_path / "service", free_port()) as url:
        yield url


def test_the_licence_service_refuses_a_second_trial_for_the_same_hardware_id(
    tmp_path: Path,
    sfm_files: dict[str, Path],
    service: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every local copy gone (a new data folder and a wiped state folder): the service,
    when reached, gives the first trial's start back and its clock counts."""
    with time_machine.travel(T0, tick=False) as clock:
        first = tmp_path / "first"
        install(first, sfm_files["current"])
        registered = register_trial(first, MODULE_ID, service)
        assert registered is not None and registered.days_left == 14
        clock.move_to(T0 + timedelta(days=15))
        monkeypatch.setenv("SFM_STATE_DIR", str(tmp_path / "wiped-state"))
        again = tmp_path / "again"
        install(again, sfm_files["current"])
        assert status(again)["days_left"] == 14  # locally nothing is left to tell
        answer = httpx.post(
            service + "/api/v1/trial",
            json={"module_id": MODULE_ID, "hardware_id": hardware_id(again)},
        ).json()
        assert answer["first"] is False and answer["started_at"] == int(T0.timestamp())
        assert "no second trial" in answer["message"]
        register_trial(again, MODULE_ID, service)
        assert status(again) == {
            "state": "expired",
            "days_left": 0,
            "email": None,
            "expires": "2026-11-16",
        }


def test_the_service_answers_bad_trial_registrations_with_400(service: str) -> None:
    for body, field in [
        ({"module_id": "a/b", "hardware_id": "0" * 32}, "module_id"),
        ({"module_id": MODULE_ID, "hardware_id": "xyz"}, "hardware_id"),
    ]:
        answer = httpx.post(service + "/api/v1/trial", json=body)
        assert answer.status_code == 400 and field in answer.json()["error"]


def test_the_service_limits_new_trials_per_address_but_never_a_known_one(service: str) -> None:
    """One address may start 20 trials an hour (for made-up hardware ids, say); the 21st is
    refused with 429 and nothing is stored, while asking about a trial it already has still
    answers."""

    def register(hardware: str) -> httpx.Response:
        return httpx.post(
            service + "/api/v1/trial", json={"module_id": MODULE_ID, "hardware_id": hardware}
        )

    ids = [f"{n:032x}" for n in range(1, 22)]
    for hardware in ids[:20]:
        answer = register(hardware)
        assert answer.status_code == 200 and answer.json()["first"] is True
    refused = register(ids[20])
    assert refused.status_code == 429
    assert "127.0.0.1" in refused.json()["error"] and refused.headers["Retry-After"] == "3600"
    again = register(ids[0])
    assert again.status_code == 200 and again.json()["first"] is False
    # The refused one was not stored: it is still refused, not answered as a known trial.
    assert register(ids[20]).status_code == 429


def test_an_unreachable_service_holds_nothing_up_and_changes_nothing(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    """A service that accepts the connection and never answers: the keeper gives up after its
    timeout, the trial stays as it was, and reading the status meanwhile does not wait."""
    data = tmp_path / "pbx"
    install(data, sfm_files["current"])
    before = status(data)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        keeper = TrialKeeper(data, server=url)
        from runtime.licensing import trial_keeper

        original = trial_keeper.SERVICE_TIMEOUT_SECONDS
        trial_keeper.SERVICE_TIMEOUT_SECONDS = 2.0
        try:
            worker = threading.Thread(target=keeper.round)
            started = time.monotonic()
            worker.start()
            time.sleep(0.3)
            assert worker.is_alive()  # still waiting for the silent service ...
            conn = connect(data)
            read_at = time.monotonic()
            assert licence_status(conn, data, MODULE_ID).state == "trial"  # ... status does not
            assert time.monotonic() - read_at < 1.0
            conn.close()
            worker.join(30)
            assert not worker.is_alive() and time.monotonic() - started < 30
        finally:
            trial_keeper.SERVICE_TIMEOUT_SECONDS = original
    finally:
        silent.close()
    assert status(data) == before


def test_sfm_serve_registers_the_trial_with_the_service(
    tmp_path: Path, sfm_files: dict[str, Path], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real host process asks the service named by SFM_LICENCE_SERVICE, off the call path."""
    from tests.browser.harness import ServeProcess

    data = tmp_path / "pbx"
    install(data, sfm_files["current"])
    monkeypatch.setenv("SFM_LICENCE_SERVICE", service)
    server = ServeProcess(data)
    try:
        deadline = time.monotonic() + 60
        rows: list[tuple[str, str]] = []
        while time.monotonic() < deadline and not rows:
            with sqlite3.connect(tmp_path / "service" / "licence-service.sqlite3") as raw:
                rows = raw.execute("SELECT module_id, hardware_id FROM trials").fetchall()
            time.sleep(0.2)
        assert rows == [(MODULE_ID, hardware_id(data))], server.output()
    finally:
        server.stop()
