"""What the licence state does to calls, through the real host and Java routing core:
in trial the instances act; once the trial ran out unlicensed they change no call (calls route
exactly as without the module); verifying by e-mail brings them back for the next call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from runtime.licensing.server.app import add_purchase
from sfm_build.build import BuildOptions, build
from sfm_cli.main import main
from tests.test_licence_harness import (
    BUILD,
    MODULE,
    Inbox,
    code_from,
    running_inbox,
    running_service,
)

REPO = Path(__file__).resolve().parents[1]
OFFICE = REPO / "tests" / "data" / "pbx" / "office.toml"
SECRETARY_RULE = REPO / "tests" / "data" / "instances" / "sekretariat.toml"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A travel here stands for days that really pass (the machine runs all along)."""
    from tests.machine_clocks import time_travel_is_real_time

    time_travel_is_real_time(monkeypatch)


@pytest.fixture(scope="module")
def sfm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = build(BuildOptions(out=out, variants=("current",), report=lambda s: None))
    (path,) = [a.path for a in result.artifacts if a.path.suffix == ".sfm"]
    return path


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as box:
        yield box


def sfm(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def call(capsys: pytest.CaptureFixture[str], data: Path) -> dict[str, object]:
    """The secretary (202) calls the boss (201), who forwards everything to her."""
    return dict(
        json.loads(sfm(capsys, "call", "--data", data, "--from", "202", "--to", "201", "--json"))
    )


def test_expired_trial_changes_no_call_and_verifying_restores_it(
    jvm: None,
    tmp_path: Path,
    sfm_file: Path,
    inbox: Inbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "pbx"
    # The reference: the same call on the same PBX with no module at all.
    without_module = dict(
        json.loads(sfm(capsys, "call", "--pbx", OFFICE, "--from", "202", "--to", "201", "--json"))
    )
    assert without_module["applied"] == []

    with time_machine.travel(T0, tick=False) as clock:
        sfm(capsys, "module", "install", sfm_file, "--data", data)
        sfm(capsys, "pbx", "load", OFFICE, "--data", data)
        sfm(
            capsys,
            "instance",
            "create",
            "--module",
            MODULE,
            "--config",
            SECRETARY_RULE,
            "--data",
            data,
        )
        in_trial = call(capsys, data)
        assert [a["instance"] for a in in_trial["applied"]] == ["Sekretariat"]  # type: ignore[index,union-attr]
        assert in_trial["rings"] == ["boss"]

        clock.move_to(T0 + timedelta(days=15))
        expired = call(capsys, data)
        assert expired == without_module
        status = sfm(capsys, "licence", "status", "--data", data)
        assert "expired" in status and "change no call" in status
        # The instance is still configured.
        assert "Sekretariat" in sfm(capsys, "instance", "list", "--data", data)

        with running_service(tmp_path / "service", inbox.port) as url:
            add_purchase(tmp_path / "service", "chef@example.com", MODULE, BUILD, int(time.time()))
            sfm(
                capsys,
                "licence",
                "verify",
                "--data",
                data,
                "--email",
                "chef@example.com",
                "--server",
                url,
            )
            sfm(
                capsys,
                "licence",
                "confirm",
                "--data",
                data,
                "--code",
                code_from(inbox.wait_for(1)[0]),
            )
        assert call(capsys, data) == in_trial
