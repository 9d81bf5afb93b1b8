"""Installing, upgrading, rolling back and removing modules: atomic, configuration kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runtime import db
from runtime.modules import installer, instances, loader, module_config, store
from tests.data.sfm_crafted import (
    MODULE_ID,
    REPO,
    TEAMLEITER_TOML,
    real_export,
    run_sfm,
    sfm_files,
    tree_digest,
    with_version,
)

__all__ = ["sfm_files"]


def _modules(data: Path) -> list[dict[str, object]]:
    code, out, err = run_sfm("--data", data, "--json", "module", "list")
    assert code == 0, err
    listed: list[dict[str, object]] = json.loads(out)
    return listed


def _install(data: Path, sfm: Path, *extra: str) -> dict[str, object]:
    code, out, err = run_sfm("--data", data, "--json", "module", "install", *extra, sfm)
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def _create_teamleiter(data: Path, tmp_path: Path) -> None:
    config = tmp_path / "teamleiter.toml"
    config.write_text(TEAMLEITER_TOML, encoding="utf-8")
    code, _, err = run_sfm("--data", data, "instance", "create", "--module", MODULE_ID,
                           "--config", config)
    assert code == 0, err


def _export(data: Path, name: str = "Teamleiter") -> str:
    code, out, err = run_sfm("--data", data, "instance", "export", name)
    assert code == 0, err
    return out


def test_the_vendor_build_installs_runnable(tmp_path: Path, sfm_files: dict[str, Path]) -> None:
    data = tmp_path / "data"
    result = _install(data, sfm_files["current"])
    assert result["action"] == "installed"
    [module] = _modules(data)
    assert module["id"] == MODULE_ID
    assert module["name"] == "Breakthrough"
    assert module["vendor"] == "o-byte.com"
    assert module["version"] == 261
    assert module["display_version"] == "2.6.1"
    assert module["runnable"] is True
    folder = data / "modules" / MODULE_ID / str(module["build"])
    assert (folder / "python" / "breakthrough" / "hook.py").is_file()
    assert (folder / "licence-public-key.pem").is_file()
    # nothing is left of the temporary unpack folder
    assert [p.name for p in (data / "modules").iterdir() if p.name.startswith(".incoming")] == []


def test_the_same_file_again_changes_nothing(tmp_path: Path, sfm_files: dict[str, Path]) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    before = tree_digest(data)
    assert _install(data, sfm_files["current"])["action"] == "unchanged"
    assert tree_digest(data) == before


def test_a_real_starface_export_installs_inspect_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    export = real_export(tmp_path / "reloader.sfm")
    code, out, err = run_sfm("--data", data, "module", "install", export)
    assert code == 0, err
    assert "inspection only" in out and "not runnable" in out
    [module] = _modules(data)
    assert module["name"] == "1QB.moduleReloader"
    assert module["vendor"] == "1 Qubit - J.Suing"
    assert module["version"] == 24030722
    assert module["runnable"] is False
    # it has only an rpcEntryPoint: nothing this host runs, and the status says so
    assert module["status"] == "inspect only: it declares no code to run"
    code, out, _ = run_sfm("--data", data, "module", "list")
    assert "inspect only" in out
    config = tmp_path / "t.toml"
    config.write_text(TEAMLEITER_TOML, encoding="utf-8")
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "instance", "create", "--module",
                           "1f410088-4882-4403-a7ea-c594a9be70ca", "--config", config)
    assert code == 2 and "inspection only" in err
    assert tree_digest(data) == before


def test_upgrade_keeps_instances_and_their_configuration_and_the_old_build(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    _create_teamleiter(data, tmp_path)
    assert run_sfm("--data", data, "instance", "deactivate", "Teamleiter")[0] == 0
    exported = _export(data)
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262, tag="v262")
    result = _install(data, newer)
    assert result["action"] == "upgraded"
    assert result["previous_version"] == 261
    [module] = _modules(data)
    assert module["version"] == 262 and module["previous_version"] == 261
    assert _export(data) == exported
    assert "active = false" in exported
    # the code that runs is the new build's
    conn = db.connect(data)
    try:
        row = store.require_module(conn, MODULE_ID)
    finally:
        conn.close()
    package = loader.load_package(installer.build_dir(data, MODULE_ID, row.current.build))
    assert package.package.BUILD_TAG == "v262"
    assert installer.build_dir(data, MODULE_ID, row.previous.build if row.previous else "").is_dir()


def test_rollback_goes_back_and_forth_keeping_instances(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    _create_teamleiter(data, tmp_path)
    code, _, err = run_sfm("--data", data, "module", "rollback", MODULE_ID)
    assert code == 2 and "no previous version" in err
    _install(data, with_version(sfm_files["current"], tmp_path / "v262.sfm", 262))
    exported = _export(data)
    assert run_sfm("--data", data, "module", "rollback", MODULE_ID)[0] == 0
    [module] = _modules(data)
    assert module["version"] == 261 and module["previous_version"] == 262
    assert _export(data) == exported
    assert run_sfm("--data", data, "module", "rollback", MODULE_ID)[0] == 0
    assert _modules(data)[0]["version"] == 262
    # a third build drops the oldest folder: current and previous are kept
    _install(data, with_version(sfm_files["current"], tmp_path / "v263.sfm", 263))
    folders = sorted(p.name for p in (data / "modules" / MODULE_ID).iterdir())
    assert len(folders) == 2 and all(f.startswith(("v262-", "v263-")) for f in folders)


def test_a_crash_between_unpack_and_switch_leaves_the_previous_version_running(
    tmp_path: Path, sfm_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    _create_teamleiter(data, tmp_path)
    before = tree_digest(data)
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262)
    real_replace = os.replace

    def crash_on_switch(src: object, dst: object) -> None:
        if ".incoming-" in str(src):
            raise OSError("simulated power cut between unpack and switch")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(installer.os, "replace", crash_on_switch)
    code, _, err = run_sfm("--data", data, "module", "install", newer)
    assert code == 1 and "simulated power cut" in err
    monkeypatch.undo()
    assert tree_digest(data) == before
    assert _modules(data)[0]["version"] == 261
    # still runnable: its code loads and its instance compiles
    conn = db.connect(data)
    try:
        module = store.require_module(conn, MODULE_ID)
        [instance] = store.list_instances(conn, MODULE_ID)
    finally:
        conn.close()
    instances.stored(instances.config_of(data, module), instance)
    from runtime.host import open_host

    running = open_host(data, register=False)
    try:
        assert running.module_problems(MODULE_ID) == []
        assert running._modules[MODULE_ID].instance_names == (instance.name,)
    finally:
        running.close()
    # and the upgrade goes through on the next try
    assert _install(data, newer)["action"] == "upgraded"


def test_a_crash_in_the_database_switch_leaves_the_previous_version(
    tmp_path: Path, sfm_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash inside the switch transaction")

    monkeypatch.setattr(store, "switch_module", crash)
    code, _, err = run_sfm("--data", data, "module", "install", newer)
    assert code == 1
    monkeypatch.undo()
    assert _modules(data)[0]["version"] == 261
    # the renamed but never used folder is swept by the next install
    assert _install(data, newer)["action"] == "upgraded"
    folders = sorted(p.name for p in (data / "modules" / MODULE_ID).iterdir())
    assert len(folders) == 2


def test_a_crash_that_kills_the_process_after_the_rename_is_swept(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    """A folder renamed into place whose row never changed (process killed): not used,
    and replaced when that build is installed again."""
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262)
    from runtime.modules.upload_checks import check_archive

    upload = check_archive(newer)
    stale = installer.build_dir(data, MODULE_ID, f"v262-{upload.sha256[:12]}")
    stale.mkdir(parents=True)
    (stale / "half-written").write_text("x")
    (data / "modules" / ".incoming-deadbeef").mkdir()
    assert _modules(data)[0]["version"] == 261
    assert _install(data, newer)["action"] == "upgraded"
    assert not (stale / "half-written").exists()
    assert (stale / "python" / "breakthrough" / "hook.py").is_file()
    assert not (data / "modules" / ".incoming-deadbeef").exists()


def test_remove_is_refused_while_instances_exist(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    _create_teamleiter(data, tmp_path)
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "module", "remove", MODULE_ID)
    assert code == 2 and "Teamleiter" in err
    assert tree_digest(data) == before
    assert run_sfm("--data", data, "module", "remove", MODULE_ID, "--with-instances")[0] == 0
    assert _modules(data) == []
    assert not (data / "modules" / MODULE_ID).exists()
    code, _, err = run_sfm("--data", data, "module", "remove", MODULE_ID)
    assert code == 2 and MODULE_ID in err


def _config_processes(build: Path) -> list[int]:
    """This process's children running the configuration code of `build`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(parent) == os.getpid() and str(build).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def test_removing_a_module_ends_its_configuration_process(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    installed = installer.install(data, sfm_files["current"])
    build = installer.build_dir(data, MODULE_ID, installed.module.current.build)
    config = module_config.load(build)
    assert config.has("check_instance")  # runs the build's Python code in its process
    assert len(_config_processes(build)) == 1
    installer.remove(data, MODULE_ID)
    assert _config_processes(build) == []


def test_legacy_build_installs_on_an_old_pbx(tmp_path: Path, sfm_files: dict[str, Path]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "pbx.toml").write_text('[pbx]\nversion = "7.0.0.2"\n', encoding="utf-8")
    code, _, err = run_sfm("--data", data, "module", "install", sfm_files["current"])
    assert code == 2 and "legacy build" in err
    assert _install(data, sfm_files["legacy"])["action"] == "installed"
    assert _modules(data)[0]["variant"] == "legacy"


KILL_AT_SWITCH = """
import os, sys
from pathlib import Path
from runtime.modules import installer

real_replace = os.replace

def die_at_switch(src, dst):
    if ".incoming-" in str(src):
        os._exit(137)  # the process dies here: no cleanup, no finally
    real_replace(src, dst)

installer.os.replace = die_at_switch
installer.install(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_a_process_killed_between_unpack_and_switch_leaves_the_previous_version(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    _install(data, sfm_files["current"])
    _create_teamleiter(data, tmp_path)
    exported = _export(data)
    newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'module_src'}"}
    died = subprocess.run(
        [sys.executable, "-c", KILL_AT_SWITCH, str(data), str(newer)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert died.returncode == 137, died.stderr
    leftovers = [p for p in (data / "modules").iterdir() if p.name.startswith(".incoming-")]
    assert leftovers  # the half-done unpack is still there ...
    [module] = _modules(data)
    assert module["version"] == 261  # ... but the previous version is the installed one
    assert _export(data) == exported
    assert _install(data, newer)["action"] == "upgraded"
    assert not [p for p in (data / "modules").iterdir() if p.name.startswith(".incoming-")]
