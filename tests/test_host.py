"""The host built from the data folder: `sfm call` routes through the installed module's
instances; configuration changes and upgrades take effect without a restart; the log follows
the instance's level; an expired trial turns the module off, never the call."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime import db
from runtime.host import Host, open_host
from runtime.modules import instances, store
from tests.built_modules import running_build
from tests.data.sfm_crafted import (
    MODULE_ID,
    TEAMLEITER_TOML,
    run_sfm,
    sfm_files,
    with_version,
)

__all__ = ["sfm_files"]

DIRECTORY = """\
[pbx]
version = "8.1.0.4"
country_code = "49"
area_code = "251"
international_prefix = "00"
national_prefix = "0"

[[users]]
id = "boss"
name = "Max Mustermann"
numbers = ["201", "00492515906201"]
dnd = true

[[users]]
id = "lead"
name = "Erika Team"
numbers = ["205", "00492515906850"]

[[users]]
id = "other"
name = "Otto Normal"
numbers = ["209"]
"""


@pytest.fixture(autouse=True)
def _travels_are_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A travel here stands for days that really pass (the machine runs all along)."""
    from tests.machine_clocks import time_travel_is_real_time

    time_travel_is_real_time(monkeypatch)


@pytest.fixture()
def data(tmp_path: Path, sfm_files: dict[str, Path], jvm: None) -> Path:
    """Breakthrough installed from the vendor build, a directory loaded, one instance."""
    folder = tmp_path / "data"
    directory = tmp_path / "pbx.toml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    assert run_sfm("--data", folder, "pbx", "load", directory)[0] == 0
    assert run_sfm("--data", folder, "module", "install", sfm_files["current"])[0] == 0
    config = tmp_path / "teamleiter.toml"
    config.write_text(TEAMLEITER_TOML, encoding="utf-8")
    assert run_sfm("--data", folder, "instance", "create", "--config", config)[0] == 0
    return folder


@pytest.fixture()
def host(data: Path) -> Iterator[Host]:
    running = open_host(data)
    yield running
    running.close()


def _call(data: Path, caller: str, called: str) -> dict[str, object]:
    code, out, err = run_sfm("--data", data, "--json", "call", "--from", caller, "--to", called)
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_sfm_call_routes_through_the_installed_instances(data: Path) -> None:
    # the team lead (caller pattern *2515906850) reaches the boss through DND
    result = _call(data, "00492515906850", "201")
    assert result["outcome"] == "ring" and result["rings"] == ["boss"]
    assert result["applied"] == [
        {"instance": "Teamleiter", "effects": ["bypass_dnd", "bypass_redirects"]}
    ]
    # anybody else meets the DND
    other = _call(data, "209", "201")
    assert other["outcome"] == "busy" and other["applied"] == []
    # the called number on the exception list is left alone
    assert run_sfm("--data", data, "instance", "update", "Teamleiter",
                   "--called-exception", "201")[0] == 0
    assert _call(data, "00492515906850", "201")["applied"] == []


def test_log_lines_at_the_instance_level_readable_and_downloadable(
    data: Path, tmp_path: Path
) -> None:
    _call(data, "00492515906850", "201")  # a match: logged at DEBUG
    _call(data, "209", "201")  # no match: TRACE, below the instance's DEBUG
    code, out, err = run_sfm("--data", data, "instance", "log", "Teamleiter")
    assert code == 0, err
    assert " DEBUG " in out and "2515906850" in out
    assert "caller 209" not in out
    target = tmp_path / "log.zip"
    assert run_sfm("--data", data, "instance", "log", "Teamleiter", "--download", target)[0] == 0
    archive = zipfile.ZipFile(io.BytesIO(target.read_bytes()))
    assert archive.namelist() == ["Teamleiter/instance.log"]
    assert archive.read("Teamleiter/instance.log").decode() == out


def test_a_configuration_change_is_swapped_in_without_a_restart(data: Path, host: Host) -> None:
    assert host.route("00492515906850", "201")["applied"]
    conn = db.connect(data)
    try:
        instance = store.find_instance(conn, "Teamleiter")
    finally:
        conn.close()
    instances.set_active(data, instance.id, False)
    host.reload_instances(MODULE_ID)
    assert host.route("00492515906850", "201")["applied"] == []
    instances.set_active(data, instance.id, True)
    host.reload_instances(MODULE_ID)
    assert host.route("00492515906850", "201")["applied"]
    # a second instance: both apply, their effects add up
    instances.create(
        data,
        MODULE_ID,
        {"name": "Anklopfen", "numbers": {"called": {"active": ["201"]},
                                          "caller": {"active": ["*"]}},
         "settings": {"force_call_waiting": True}},
        "test",
    )
    host.reload_instances(MODULE_ID)
    applied = host.route("00492515906850", "201")["applied"]
    assert [a["instance"] for a in applied] == ["Teamleiter", "Anklopfen"]  # type: ignore[index]


def test_an_upgrade_in_a_running_host_changes_the_code_and_keeps_instances(
    data: Path, host: Host, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262, tag="v262")
    assert run_sfm("--data", data, "module", "install", newer)[0] == 0
    first = running_build(host, MODULE_ID)
    host.reload_module(MODULE_ID)
    upgraded = running_build(host, MODULE_ID)
    init = upgraded / "python" / "breakthrough" / "__init__.py"
    assert upgraded.name.startswith("v262")
    assert init.read_text("utf-8").endswith("BUILD_TAG = 'v262'\n")
    assert host.route("00492515906850", "201")["applied"]
    assert run_sfm("--data", data, "module", "rollback", MODULE_ID)[0] == 0
    host.reload_module(MODULE_ID)
    assert running_build(host, MODULE_ID) == first != upgraded
    assert host.route("00492515906850", "201")["applied"]
    assert host.problems == []



def test_an_expired_trial_turns_the_module_off_but_calls_go_through(data: Path) -> None:
    import time_machine

    with time_machine.travel(datetime.now(UTC) + timedelta(days=15), tick=True):
        running = open_host(data)
        try:
            result = running.route("00492515906850", "201")
        finally:
            running.close()
    assert result["applied"] == []
    assert result["outcome"] == "busy"  # the boss's DND, as without the module


def test_a_removed_module_is_dropped_by_the_running_host(data: Path, host: Host) -> None:
    assert run_sfm("--data", data, "module", "remove", MODULE_ID, "--with-instances")[0] == 0
    host.reload_module(MODULE_ID)
    assert host.module_ids() == ()
    assert host.route("00492515906850", "201")["applied"] == []


def _hook_source(sfm: Path) -> bytes:
    from tests.data.sfm_crafted import entries

    return entries(sfm)["python/breakthrough/hook.py"]


def test_a_build_whose_code_does_not_load_is_skipped_and_calls_go_on(
    data: Path, host: Host, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    from tests.data.sfm_crafted import rewrite

    broken = rewrite(
        with_version(sfm_files["current"], tmp_path / "v262.sfm", 262),
        tmp_path / "broken.sfm",
        replace={"python/breakthrough/hook.py": b"raise RuntimeError('kaputt beim Laden')\n"},
    )
    assert run_sfm("--data", data, "module", "install", broken)[0] == 0
    host.reload_module(MODULE_ID)
    assert any("kaputt beim Laden" in p for p in host.problems)
    result = host.route("00492515906850", "201")
    assert result["applied"] == [] and result["outcome"] == "busy"


def test_a_hook_that_raises_leaves_the_call_alone_and_the_log_says_why(
    data: Path, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    from tests.data.sfm_crafted import rewrite

    raising = _hook_source(sfm_files["current"]) + (
        b"\n\ndef _boom(self, called, caller):\n"
        b"    raise RuntimeError('kaputt im Anruf')\n\n\n"
        b"BreakthroughHook.on_call = _boom\n"
    )
    bad = rewrite(
        with_version(sfm_files["current"], tmp_path / "v262.sfm", 262),
        tmp_path / "raising.sfm",
        replace={"python/breakthrough/hook.py": raising},
    )
    assert run_sfm("--data", data, "module", "install", bad)[0] == 0
    result = _call(data, "00492515906850", "201")
    assert result["outcome"] == "busy" and result["applied"] == []
    assert any("kaputt im Anruf" in str(e) for e in result["module_errors"])  # type: ignore[attr-defined]
    code, out, _ = run_sfm("--data", data, "instance", "log", "Teamleiter")
    assert code == 0 and "kaputt im Anruf" in out


def test_a_trial_that_ends_while_the_host_runs_stops_changing_calls(
    data: Path, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.machine_clocks import real_time_passes

    assert host.route("00492515906850", "201")["applied"]
    with real_time_passes(monkeypatch, (14 * 24 + 1) * 3600):
        late = host.route("00492515906850", "201")
    assert late["applied"] == [] and late["outcome"] == "busy"
