"""The whole story on the PBX: trial, expiry, verification by e-mail against the real licence
service and a real SMTP server, through the `sfm licence` command; and the service's rules
(one-time codes, 15 minutes, 5 tries, rate limits, no probing who bought)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine

from runtime.db import connect
from runtime.licensing.hardware_id import hardware_id
from runtime.licensing.server.app import add_purchase
from runtime.licensing.status import ModuleGate, licence_status
from runtime.licensing.trial import record_install
from sfm_cli.main import main
from tests.machine_clocks import time_travel_is_real_time
from tests.test_licence_harness import (
    BUILD,
    MODULE,
    Inbox,
    code_from,
    free_port,
    running_inbox,
    running_service,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here a travel stands for days that really pass (the machine runs all along)."""
    time_travel_is_real_time(monkeypatch)
BUYER = "chef@example.com"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as box:
        yield box


@pytest.fixture
def service_db(tmp_path: Path) -> Path:
    return tmp_path / "service"


@pytest.fixture
def service(service_db: Path, inbox: Inbox) -> Iterator[str]:
    with running_service(service_db, inbox.port) as url:
        yield url


def sfm(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run `sfm ARGV` in this process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str], data: Path) -> dict[str, object]:
    code, out, err = sfm(capsys, "licence", "status", "--data", data, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"state", "days_left", "email", "expires"}
    return dict(document)


def install(data: Path) -> None:
    conn = connect(data)
    record_install(conn, MODULE)
    conn.close()


def test_trial_then_expired_then_verified_by_mail(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    inbox: Inbox,
    service: str,
    service_db: Path,
) -> None:
    data = tmp_path / "pbx"
    with time_machine.travel(T0, tick=False) as clock:
        install(data)
        assert status_json(capsys, data) == {
            "state": "trial",
            "days_left": 14,
            "email": None,
            "expires": "2026-11-16",
        }
        clock.move_to(T0 + timedelta(days=15))
        assert status_json(capsys, data) == {
            "state": "expired",
            "days_left": 0,
            "email": None,
            "expires": "2026-11-16",
        }
        conn = connect(data)
        expired = licence_status(conn, data, MODULE)
        assert "trial ended" in expired.reason
        assert not ModuleGate.from_status(expired).allows()

        add_purchase(service_db, BUYER, MODULE, BUILD, int(time.time()))
        code, out, err = sfm(
            capsys, "licence", "verify", "--data", data, "--email", BUYER, "--server", service
        )
        assert code == 0, err
        (mail,) = inbox.wait_for(1)
        assert mail["To"] == BUYER
        code, out, err = sfm(
            capsys, "licence", "confirm", "--data", data, "--code", code_from(mail)
        )
        assert code == 0, err
        assert status_json(capsys, data) == {
            "state": "licensed",
            "days_left": None,
            "email": BUYER,
            "expires": None,
        }
        licensed = licence_status(conn, data, MODULE)
        assert ModuleGate.from_status(licensed).allows()
        # A licence never runs out with time.
        clock.move_to(T0 + timedelta(days=3650))
        assert status_json(capsys, data)["state"] == "licensed"


def test_unknown_address_gets_the_same_answer_and_no_mail(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    inbox: Inbox,
    service: str,
    service_db: Path,
) -> None:
    add_purchase(service_db, BUYER, MODULE, BUILD, int(time.time()))
    hw = "b" * 32
    known = httpx.post(
        f"{service}/api/v1/verify", json={"module_id": MODULE, "hardware_id": hw, "email": BUYER}
    )
    unknown = httpx.post(
        f"{service}/api/v1/verify",
        json={"module_id": MODULE, "hardware_id": hw, "email": "nobody@example.com"},
    )
    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json()) == {"request_id", "expires_in", "message"}
    assert known.json()["message"] == unknown.json()["message"]
    assert known.json()["expires_in"] == unknown.json()["expires_in"] == 15 * 60
    # A second request for the buyer, after the unknown one: once both buyer mails are in, a
    # mail for the unknown address would have been sent before the second.
    again = httpx.post(
        f"{service}/api/v1/verify", json={"module_id": MODULE, "hardware_id": hw, "email": BUYER}
    )
    assert again.status_code == 202
    inbox.wait_for(2)
    assert [to for to, _ in inbox.messages] == [[BUYER], [BUYER]]
    # No code opens the unknown address's request; it fails like a wrong code.
    wrong = httpx.post(
        f"{service}/api/v1/confirm",
        json={"request_id": unknown.json()["request_id"], "code": "000000"},
    )
    assert wrong.status_code == 400 and "wrong code" in wrong.json()["error"]


def test_five_wrong_codes_lock_the_request(
    tmp_path: Path, inbox: Inbox, service: str, service_db: Path
) -> None:
    add_purchase(service_db, BUYER, MODULE, BUILD, int(time.time()))
    request_id = httpx.post(
        f"{service}/api/v1/verify",
        json={"module_id": MODULE, "hardware_id": "c" * 32, "email": BUYER},
    ).json()["request_id"]
    right = code_from(inbox.wait_for(1)[0])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        answer = httpx.post(
            f"{service}/api/v1/confirm", json={"request_id": request_id, "code": wrong}
        )
        assert answer.status_code == 400
        assert f"{left} tries left" in answer.json()["error"]
    fifth = httpx.post(f"{service}/api/v1/confirm", json={"request_id": request_id, "code": wrong})
    assert fifth.status_code == 423
    late = httpx.post(f"{service}/api/v1/confirm", json={"request_id": request_id, "code": right})
    assert late.status_code == 423 and "locked" in late.json()["error"]


def test_code_expires_after_15_minutes_and_is_single_use(
    tmp_path: Path, inbox: Inbox, service: str, service_db: Path
) -> None:
    add_purchase(service_db, BUYER, MODULE, BUILD, int(time.time()))
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        first = httpx.post(
            f"{service}/api/v1/verify",
            json={"module_id": MODULE, "hardware_id": "d" * 32, "email": BUYER},
        ).json()["request_id"]
        second = httpx.post(
            f"{service}/api/v1/verify",
            json={"module_id": MODULE, "hardware_id": "d" * 32, "email": BUYER},
        ).json()["request_id"]
        mails = inbox.wait_for(2)
        code_first, code_second = code_from(mails[0]), code_from(mails[1])
        clock.shift(timedelta(minutes=14, seconds=59))
        ok = httpx.post(f"{service}/api/v1/confirm", json={"request_id": first, "code": code_first})
        assert ok.status_code == 200 and "licence" in ok.json()
        again = httpx.post(
            f"{service}/api/v1/confirm", json={"request_id": first, "code": code_first}
        )
        assert again.status_code == 410
        clock.shift(timedelta(seconds=1))
        late = httpx.post(
            f"{service}/api/v1/confirm", json={"request_id": second, "code": code_second}
        )
        assert late.status_code == 410 and "expired" in late.json()["error"]


def test_rate_limits_per_address_and_per_pbx(
    tmp_path: Path, inbox: Inbox, service: str, service_db: Path
) -> None:
    def ask(hw: str, address: str) -> int:
        return httpx.post(
            f"{service}/api/v1/verify",
            json={"module_id": MODULE, "hardware_id": hw, "email": address},
        ).status_code

    # Per address: 5 an hour, across PBXs, whether or not the address bought anything.
    assert [ask(f"{i:032x}", "probe@example.com") for i in range(6)] == [202] * 5 + [429]
    # Per PBX: 10 an hour, across addresses.
    assert [ask("e" * 32, f"user{i}@example.com") for i in range(11)] == [202] * 10 + [429]


def test_service_down_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "pbx"
    install(data)
    before = status_json(capsys, data)
    dead = f"http://127.0.0.1:{free_port()}"
    code, out, err = sfm(
        capsys, "licence", "verify", "--data", data, "--email", BUYER, "--server", dead
    )
    assert code == 2
    assert "cannot be reached" in err and dead in err and "Traceback" not in err
    with sqlite3.connect(data / "pbx.sqlite3") as raw:
        assert raw.execute("SELECT COUNT(*) FROM licence_requests").fetchone()[0] == 0
    assert status_json(capsys, data) == before


def test_confirm_without_verify_and_bad_input_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pbx"
    install(data)
    code, _, err = sfm(capsys, "licence", "confirm", "--data", data, "--code", "123456")
    assert code == 2 and "licence verify" in err
    code, _, err = sfm(capsys, "licence", "confirm", "--data", data, "--code", "12x456")
    assert code == 2 and "--code" in err
    code, _, err = sfm(
        capsys, "licence", "verify", "--data", data, "--email", "chef@example.com\r\nBcc: x@y.z"
    )
    assert code == 2 and "--email" in err
    code, _, err = sfm(capsys, "licence", "status", "--data", data, "--module", "nope")
    assert code == 2 and "--module" in err


def test_confirmed_licence_is_bound_to_this_pbx(
    tmp_path: Path, inbox: Inbox, service: str, service_db: Path
) -> None:
    data = tmp_path / "pbx"
    install(data)
    add_purchase(service_db, BUYER, MODULE, BUILD, int(time.time()))
    conn = connect(data)
    from runtime.licensing.client import confirm_code, request_verification

    request_verification(conn, data, MODULE, BUYER, service)
    licence = confirm_code(conn, data, MODULE, code_from(inbox.wait_for(1)[0]))
    assert licence.hardware_id == hardware_id(data)
    assert licence.module_id == MODULE and licence.max_build == BUILD


def test_a_body_that_is_no_json_object_is_refused_in_words(service: str) -> None:
    for path in ("verify", "confirm", "trial"):
        for body, sentence in (
            (b'{"module_id": ', "request body: not JSON"),
            (b"[1, 2]", "request body: a JSON object is expected"),
        ):
            answer = httpx.post(f"{service}/api/v1/{path}", content=body)
            assert answer.status_code == 400, (path, answer.status_code)
            assert answer.json() == {"error": sentence}
