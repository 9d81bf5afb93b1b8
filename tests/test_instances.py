"""Instances: create from a TOML file or flags, unique names, export round trip, activate,
deactivate, update, delete; refusals name the field and line and change nothing."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.data.sfm_crafted import (
    MODULE_ID,
    TEAMLEITER_TOML,
    run_sfm,
    sfm_files,
    tree_digest,
)

__all__ = ["sfm_files"]


@pytest.fixture()
def data(tmp_path: Path, sfm_files: dict[str, Path]) -> Path:
    folder = tmp_path / "data"
    assert run_sfm("--data", folder, "module", "install", sfm_files["current"])[0] == 0
    return folder


def _config(tmp_path: Path, text: str = TEAMLEITER_TOML, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _show(data: Path, name: str) -> dict[str, object]:
    code, out, err = run_sfm("--data", data, "--json", "instance", "show", name)
    assert code == 0, err
    shown: dict[str, object] = json.loads(out)
    return shown


def _exported(data: Path, name: str) -> dict[str, Any]:
    """The instance file (INTERFACES.md's TOML) that `sfm instance export` writes."""
    code, out, err = run_sfm("--data", data, "instance", "export", name)
    assert code == 0, err
    return tomllib.loads(out)


def test_create_from_file_and_export_gives_the_same_configuration(
    data: Path, tmp_path: Path
) -> None:
    code, out, err = run_sfm("--data", data, "instance", "create", "--module", MODULE_ID,
                             "--config", _config(tmp_path))
    assert code == 0, err
    code, exported, _ = run_sfm("--data", data, "instance", "export", "Teamleiter")
    assert code == 0
    assert tomllib.loads(exported) == tomllib.loads(TEAMLEITER_TOML)
    # and the export creates the same instance again (under another name)
    again = tomllib.loads(exported)
    again_text = exported.replace('name = "Teamleiter"', 'name = "Zweite"')
    assert run_sfm("--data", data, "instance", "create", "--config",
                   _config(tmp_path, again_text, "again.toml"))[0] == 0
    assert _exported(data, "Zweite") == {**again, "name": "Zweite"}
    # stored as the descriptor's variables (form.toml's `variable` names)
    assert _show(data, "Zweite")["config"] == {
        "logLevel": "DEBUG",
        "calledActive": ["*"],
        "calledExceptions": ["00492515906299"],
        "callerActive": ["*2515906850", "201"],
        "callerExceptions": [],
        "bypassDnd": True,
        "bypassRedirects": True,
        "bypassSelfRedirectsOnly": False,
        "forceCallWaiting": False,
    }


def test_two_instances_with_the_same_name_are_refused(data: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert run_sfm("--data", data, "instance", "create", "--config", config)[0] == 0
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "instance", "create", "--config", config)
    assert code == 2
    assert "Teamleiter" in err and "unique" in err
    # names are compared without regard to case, as people read them
    code, _, err = run_sfm("--data", data, "instance", "create", "--name", "TEAMLEITER")
    assert code == 2 and "unique" in err
    assert tree_digest(data) == before


def test_create_from_flags_with_defaults(data: Path) -> None:
    code, out, err = run_sfm(
        "--data", data, "--json", "instance", "create", "--name", "Chef",
        "--called", "201", "--caller", "*", "--caller-exception", "0049301234567",
        "--bypass-redirects", "--bypass-self-redirects-only",
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["log_level"] == "INFO"  # the default
    assert created["active"] is True
    config = _exported(data, "Chef")
    assert config["numbers"]["called"] == {"active": ["201"], "exceptions": []}
    assert config["numbers"]["caller"] == {"active": ["*"], "exceptions": ["0049301234567"]}
    assert config["settings"] == {
        "bypass_dnd": False,
        "bypass_redirects": True,
        "bypass_self_redirects_only": True,
        "force_call_waiting": False,
    }


def test_bad_configuration_is_refused_naming_field_and_line(data: Path, tmp_path: Path) -> None:
    bad = TEAMLEITER_TOML.replace('active = ["*2515906850", "201"]',
                                  'active = ["*2515906850", "20x1"]')
    path = _config(tmp_path, bad, "bad.toml")
    before = tree_digest(data)
    code, _, err = run_sfm("--data", data, "instance", "create", "--config", path)
    assert code == 2
    assert "bad.toml" in err and "numbers.caller.active" in err and "line 2" in err
    assert "Traceback" not in err
    code, _, err = run_sfm("--data", data, "instance", "create", "--name", "X",
                           "--bypass-self-redirects-only")
    assert code == 2 and "bypass_redirects" in err
    assert tree_digest(data) == before


def test_activate_deactivate_update_delete(data: Path, tmp_path: Path) -> None:
    assert run_sfm("--data", data, "instance", "create", "--config", _config(tmp_path))[0] == 0
    assert run_sfm("--data", data, "instance", "deactivate", "Teamleiter")[0] == 0
    assert _show(data, "Teamleiter")["active"] is False
    assert run_sfm("--data", data, "instance", "activate", "Teamleiter")[0] == 0
    assert _show(data, "Teamleiter")["active"] is True
    # update from flags changes only what is given
    code, _, err = run_sfm("--data", data, "instance", "update", "Teamleiter",
                           "--log-level", "trace", "--force-call-waiting")
    assert code == 0, err
    shown = _show(data, "Teamleiter")
    assert shown["log_level"] == "TRACE"
    config = _exported(data, "Teamleiter")
    assert config["log_level"] == "TRACE"
    assert config["settings"]["force_call_waiting"] is True
    assert config["settings"]["bypass_dnd"] is True
    assert config["numbers"]["caller"]["active"] == ["*2515906850", "201"]
    # update from a file, renaming it
    renamed = TEAMLEITER_TOML.replace('"Teamleiter"', '"Leitung"')
    code, _, err = run_sfm("--data", data, "instance", "update", "Teamleiter", "--config",
                           _config(tmp_path, renamed, "renamed.toml"))
    assert code == 0, err
    code, out, _ = run_sfm("--data", data, "--json", "instance", "list")
    assert [i["name"] for i in json.loads(out)] == ["Leitung"]
    assert run_sfm("--data", data, "instance", "delete", "Leitung")[0] == 0
    code, out, _ = run_sfm("--data", data, "--json", "instance", "list")
    assert json.loads(out) == []
    code, _, err = run_sfm("--data", data, "instance", "show", "Leitung")
    assert code == 2 and "Leitung" in err


def test_export_to_a_file(data: Path, tmp_path: Path) -> None:
    assert run_sfm("--data", data, "instance", "create", "--config", _config(tmp_path))[0] == 0
    target = tmp_path / "out.toml"
    assert run_sfm("--data", data, "instance", "export", "Teamleiter", "-o", target)[0] == 0
    assert tomllib.loads(target.read_text("utf-8")) == tomllib.loads(TEAMLEITER_TOML)
