"""Licensing with a real .sfm built by `sfm_build` and installed by the module manager:
the trial starts at install, survives removal and re-adding, licences are checked with the
trusted key that signed the installed module, and an update needs a licence covering its
build."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from runtime.licensing.hardware_id import hardware_id
from sfm_build.build import BuildOptions, build
from tests.machine_clocks import time_travel_is_real_time
from tests.test_licence_flow import sfm
from tests.test_licence_harness import BUILD, MODULE, dev_licence
from tests.vendor_keys import new_vendor_key, signing_with

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here a travel stands for days that really pass (the machine runs all along)."""
    time_travel_is_real_time(monkeypatch)


def build_variant(tmp: Path, name: str, edit: object = None) -> Path:
    """Build the current variant from a copy of module_src (edited by `edit(source)`)."""
    source = tmp / f"src-{name}"
    shutil.copytree(
        REPO / "module_src", source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    if callable(edit):
        edit(source)
    result = build(
        BuildOptions(
            source=source, out=tmp / f"dist-{name}", variants=("current",), report=lambda s: None
        )
    )
    (sfm,) = [a.path for a in result.artifacts if a.path.suffix == ".sfm"]
    return sfm


def next_build(source: Path) -> None:
    toml = source / "module.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("build_number = 261", "build_number = 262").replace(
            'display_version = "2.6.1"', 'display_version = "2.6.2"'
        )
        + '\n[[changelog]]\nversion = "2.6.2"\nkind = "Bugfix"\nde = "Test."\nen = "Test."\n',
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def sfm_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("builds")
    foreign, _ = new_vendor_key(tmp, "foreign-vendor")
    with signing_with(foreign):
        foreign_build = build_variant(tmp, "foreign")
    yield {
        "261": build_variant(tmp, "261"),
        "262": build_variant(tmp, "262", next_build),
        "foreign-key": foreign_build,
        "foreign-trust": tmp / "trusted",
    }


def status(capsys: pytest.CaptureFixture[str], data: Path) -> dict[str, object]:
    code, out, err = sfm(capsys, "licence", "status", "--data", data, "--json")
    assert code == 0, err
    return dict(json.loads(out))


def test_trial_starts_at_install_and_survives_removal(
    tmp_path: Path, sfm_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pbx"
    with time_machine.travel(T0, tick=False) as clock:
        assert sfm(capsys, "module", "install", sfm_files["261"], "--data", data)[0] == 0
        assert status(capsys, data)["days_left"] == 14
        clock.move_to(T0 + timedelta(days=4))
        assert sfm(capsys, "module", "remove", MODULE, "--data", data)[0] == 0
        # Removed: still known to licensing by its trial, so --module may be left out.
        assert status(capsys, data) == {
            "state": "trial",
            "days_left": 10,
            "email": None,
            "expires": "2026-11-16",
        }
        clock.move_to(T0 + timedelta(days=6))
        assert sfm(capsys, "module", "install", sfm_files["261"], "--data", data)[0] == 0
        assert status(capsys, data)["days_left"] == 8
        clock.move_to(T0 + timedelta(days=15))
        assert status(capsys, data)["state"] == "expired"
        assert sfm(capsys, "module", "install", sfm_files["261"], "--data", data)[0] == 0
        assert status(capsys, data)["state"] == "expired"


def test_update_needs_a_licence_covering_its_build(
    tmp_path: Path, sfm_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pbx"
    with time_machine.travel(T0, tick=False) as clock:
        assert sfm(capsys, "module", "install", sfm_files["261"], "--data", data)[0] == 0
        clock.move_to(T0 + timedelta(days=20))
        licence = tmp_path / "261.licence"
        licence.write_text(dev_licence(hardware_id(data), max_build=BUILD))
        assert sfm(capsys, "licence", "import", licence, "--data", data)[0] == 0
        assert status(capsys, data)["state"] == "licensed"
        code, _, err = sfm(capsys, "module", "install", sfm_files["262"], "--data", data)
        assert code == 0, err
        assert status(capsys, data)["state"] == "expired"
        code, out, _ = sfm(capsys, "licence", "status", "--data", data)
        assert "covers builds up to 261, but build 262 is installed" in out
        code, _, err = sfm(capsys, "licence", "import", licence, "--data", data)
        assert code == 2 and "covers builds up to 261" in err
        update = tmp_path / "262.licence"
        update.write_text(dev_licence(hardware_id(data), max_build=262))
        assert sfm(capsys, "licence", "import", update, "--data", data)[0] == 0
        assert status(capsys, data)["state"] == "licensed"


def test_licence_is_checked_with_the_installed_modules_key(
    tmp_path: Path,
    sfm_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The module was signed by another vendor (a key this host trusts): a licence signed with
    the development key is not that vendor's."""
    monkeypatch.setenv("SFM_DEV_TRUSTED_KEYS", str(sfm_files["foreign-trust"]))
    data = tmp_path / "pbx"
    assert sfm(capsys, "module", "install", sfm_files["foreign-key"], "--data", data)[0] == 0
    licence = tmp_path / "dev.licence"
    licence.write_text(dev_licence(hardware_id(data)))
    code, _, err = sfm(capsys, "licence", "import", licence, "--data", data)
    assert code == 2 and "not issued by this module's vendor" in err
    assert status(capsys, data)["state"] == "trial"
