"""Offline licences: `sfm licence import FILE`, checked with the vendor's public key only.

A tampered, foreign (other PBX, other module) or too old (entitlement below the installed
build) licence is refused with exit 2 naming why, and nothing changes."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.db import connect
from runtime.errors import Refused
from runtime.licensing.hardware_id import hardware_id
from runtime.licensing.licence import DEVELOPMENT_PUBLIC_KEY, read_licence
from runtime.licensing.licence_store import store_licence
from runtime.licensing.status import licence_status
from runtime.licensing.trial import record_install
from sfm_cli.main import main
from tests.test_licence_harness import BUILD, MODULE, dev_licence

OTHER_PBX = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "pbx"
    conn = connect(folder)
    record_install(conn, MODULE)
    conn.close()
    return folder


def run_import(capsys: pytest.CaptureFixture[str], data: Path, file: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["licence", "import", str(file), "--data", str(data), "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def stored_count(data: Path) -> int:
    with sqlite3.connect(data / "pbx.sqlite3") as raw:
        return int(raw.execute("SELECT COUNT(*) FROM licence_licences").fetchone()[0])


def test_valid_licence_file_licenses_the_module(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "breakthrough.licence"
    file.write_text(dev_licence(hardware_id(data)))
    code, out, err = run_import(capsys, data, file)
    assert code == 0, err
    assert json.loads(out) == {
        "state": "licensed",
        "days_left": None,
        "email": "chef@example.com",
        "expires": None,
    }


def _tamper_payload(document: str) -> str:
    outer = json.loads(document)
    payload = json.loads(base64.b64decode(outer["payload"]))
    payload["entitlement"]["max_build"] = 999
    outer["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(outer)


def _tamper_signature(document: str) -> str:
    outer = json.loads(document)
    signature = bytearray(base64.b64decode(outer["signature"]))
    signature[0] ^= 1
    outer["signature"] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(outer)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda hw: _tamper_payload(dev_licence(hw)), "signature does not match"),
        (lambda hw: _tamper_signature(dev_licence(hw)), "signature does not match"),
        (lambda hw: dev_licence(OTHER_PBX), f"hardware id {OTHER_PBX}"),
        (lambda hw: dev_licence(hw, module_id="another-module"), "module another-module"),
        (lambda hw: "not a licence", "not a licence file"),
        (lambda hw: json.dumps({"format": "something else"}), "not a licence file"),
    ],
    ids=["payload-edited", "signature-edited", "other-pbx", "other-module", "garbage", "format"],
)
def test_bad_licence_file_is_refused_naming_why(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, why: str
) -> None:
    file = tmp_path / "bad.licence"
    file.write_text(make(hardware_id(data)))  # type: ignore[operator]
    before = licence_status(connect(data), data, MODULE).to_json()
    code, out, err = run_import(capsys, data, file)
    assert code == 2
    assert str(file) in err and why in err and "Traceback" not in err
    assert out == ""
    assert stored_count(data) == 0
    assert licence_status(connect(data), data, MODULE).to_json() == before


def test_missing_file_is_refused(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_import(capsys, data, tmp_path / "nowhere.licence")
    assert code == 2 and "nowhere.licence" in err


def test_entitlement_below_the_installed_build_is_refused(data: Path) -> None:
    conn = connect(data)
    with pytest.raises(Refused, match="covers builds up to 261, but build 262 is installed"):
        store_licence(
            conn,
            dev_licence(hardware_id(data), max_build=BUILD),
            module_id=MODULE,
            hardware_id=hardware_id(data),
            build=BUILD + 1,
            public_key_pem=DEVELOPMENT_PUBLIC_KEY.read_bytes(),
            source="update.licence",
            now_epoch=0,
        )
    assert stored_count(data) == 0


def test_licence_from_another_vendor_key_is_refused(data: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(Refused, match="not issued by this module's vendor"):
        read_licence(dev_licence(hardware_id(data)), pem, "x.licence")


def test_stored_licence_edited_in_the_database_is_refused_not_a_crash(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "ok.licence"
    file.write_text(dev_licence(hardware_id(data)))
    assert run_import(capsys, data, file)[0] == 0
    with sqlite3.connect(data / "pbx.sqlite3") as raw:
        raw.execute(
            "UPDATE licence_licences SET document = ?", (_tamper_payload(file.read_text()),)
        )
    status = licence_status(connect(data), data, MODULE)
    assert status.state == "trial"  # the trial still runs; the licence no longer counts
    assert "stored licence" in status.reason and "signature does not match" in status.reason


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_change_to_the_signed_payload_is_refused(data: Path, position: int, flip: int) -> None:
    """Reference: a licence is accepted only if its payload bytes are exactly the signed ones."""
    outer = json.loads(dev_licence(hardware_id(data)))
    payload = bytearray(base64.b64decode(outer["payload"]))
    payload[position % len(payload)] ^= flip
    outer["payload"] = base64.b64encode(bytes(payload)).decode()
    with pytest.raises(Refused, match=r"^mutated\.licence: the licence's signature does not match"):
        read_licence(json.dumps(outer), DEVELOPMENT_PUBLIC_KEY.read_bytes(), "mutated.licence")
