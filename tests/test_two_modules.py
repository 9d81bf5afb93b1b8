"""Breakthrough and Sperrliste installed from their built .sfm files into one fresh data folder,
configured through the CLI, and asked on the same calls; Sperrliste upgraded to a build N+1
with another label and another rule behaviour, then rolled back: the form, the validation, the
explanation and the routing follow the build in use. Old instance rows (the instance file's
shape) are read and migrated to the descriptor's variables."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from runtime import db
from runtime.modules import instances, store
from tests.api_server import api_client
from tests.built_modules import (
    BREAKTHROUGH_ID,
    BREAKTHROUGH_SRC,
    SPERRLISTE_ID,
    SPERRLISTE_SRC,
    build,
    changed_copy,
)
from tests.data.sfm_crafted import TEAMLEITER_TOML, run_sfm

REPO = Path(__file__).resolve().parents[1]
PBX = REPO / "runtime" / "web" / "sample_pbx.toml"
SPAM_TOML = """\
name = "Spam"
active = true
callers = ["030111*", "+49 40 222 333"]   # STARFACE wildcards, any number form
answer = "busy"
"""

# Build N+1 of Sperrliste: another label ("Antwort" -> "Reaktion") and another rule
# behaviour: each entry also catches the numbers that start with it, and entries shorter than
# three digits are refused.
N_PLUS_1 = {
    "module.toml": lambda t: t.replace("build_number = 1\n", "build_number = 2\n"),
    "sperrliste/form.toml": lambda t: t.replace(
        'label = { de = "Antwort", en = "Answer" }', 'label = { de = "Reaktion", en = "Reply" }'
    ),
    "sperrliste/matcher.py": lambda t: t.replace(
        "for f in plan.forms(clean(p))}", 'for f in plan.forms(clean(p) + "*")}'
    ),
    "sperrliste/sfm_module.py": lambda t: t.replace(
        "            clean(pattern)\n",
        "            if len(clean(pattern)) < 3:\n"
        '                raise PatternError(f"{pattern!r} is too short")\n',
    ).replace("passt auf", "beginnt wie"),
}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("two-modules")
    newer = changed_copy(SPERRLISTE_SRC, root / "sperrliste-n1", N_PLUS_1)
    return {
        "breakthrough": build(BREAKTHROUGH_SRC, root / "dist-bt"),
        "sperrliste": build(SPERRLISTE_SRC, root / "dist-sp"),
        "sperrliste_legacy": build(SPERRLISTE_SRC, root / "dist-sp-legacy", "legacy"),
        "sperrliste_n1": build(newer, root / "dist-sp-n1"),
    }


def sfm(*argv: str | Path) -> str:
    code, out, err = run_sfm(*argv)
    assert code == 0, err
    return out


def call(data: Path, caller: str, called: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        sfm("--data", data, "--json", "call", "--from", caller, "--to", called)
    )
    return document


def applied(document: dict[str, Any]) -> dict[str, list[str]]:
    return {entry["instance"]: entry["effects"] for entry in document["applied"]}


@pytest.fixture()
def data(tmp_path: Path, builds: dict[str, Path]) -> Path:
    folder = tmp_path / "data"
    sfm("--data", folder, "pbx", "load", PBX)
    sfm("--data", folder, "module", "install", builds["breakthrough"])
    sfm("--data", folder, "module", "install", builds["sperrliste"])
    teamleiter = tmp_path / "teamleiter.toml"
    teamleiter.write_text(TEAMLEITER_TOML, "utf-8")
    spam = tmp_path / "spam.toml"
    spam.write_text(SPAM_TOML, "utf-8")
    sfm("--data", folder, "instance", "create", "--module", BREAKTHROUGH_ID, "--config", teamleiter)
    sfm("--data", folder, "instance", "create", "--module", SPERRLISTE_ID, "--config", spam)
    return folder


def test_both_modules_run_with_their_own_instances(data: Path, jvm: None) -> None:
    listed = {m["id"]: m for m in json.loads(sfm("--data", data, "--json", "module", "list"))}
    assert listed[SPERRLISTE_ID]["name"] == "Sperrliste"
    assert listed[SPERRLISTE_ID]["runnable"] is True
    assert listed[BREAKTHROUGH_ID]["runnable"] is True
    # The Sperrliste instance file is its variables by name plus name and active.
    assert tomllib.loads(sfm("--data", data, "instance", "export", "Spam")) == tomllib.loads(
        SPAM_TOML
    )
    assert tomllib.loads(sfm("--data", data, "instance", "export", "Teamleiter")) == tomllib.loads(
        TEAMLEITER_TOML
    )
    # A listed caller, in each of its forms, meets busy at any user.
    for caller in ("004940222333", "+4940222333", "040222333", "0301119", "00493011155"):
        document = call(data, caller, "202")
        assert document["outcome"] == "busy", caller
        assert applied(document) == {"Spam": ["answer_busy"]}, caller
    # Anyone else rings, and a withheld caller is on no list.
    for caller in ("040222334", "0302111", "anonymous"):
        document = call(data, caller, "202")
        assert document["outcome"] == "ring", caller
        assert document["applied"] == [], caller
    # The team lead still breaks through the DND of user 203 (Breakthrough alone).
    document = call(data, "201", "203")
    assert document["outcome"] != "busy"
    assert applied(document) == {"Teamleiter": ["bypass_dnd", "bypass_redirects"]}


def test_both_modules_are_asked_on_the_same_call(data: Path, jvm: None) -> None:
    # Caller 00492515906850 matches Teamleiter (*2515906850) and a second Sperrliste
    # instance that sends it to the voicemail: both are applied to the call to 203 (DND).
    sfm(
        "--data",
        data,
        "instance",
        "create",
        "--module",
        SPERRLISTE_ID,
        "--name",
        "Both",
        "--set",
        'callers=["+49 251 5906850"]',
        "--set",
        "answer=voicemail",
    )
    document = call(data, "00492515906850", "203")
    assert applied(document) == {
        "Teamleiter": ["bypass_dnd", "bypass_redirects"],
        "Both": ["answer_voicemail"],
    }, document
    assert document["outcome"] == "voicemail"
    # and the CLI refuses what the descriptor or the module refuses, naming the field
    code, _, err = run_sfm("--data", data, "instance", "update", "Both", "--set", "answer=hangup")
    assert code == 2 and "answer" in err and "busy, voicemail" in err
    code, _, err = run_sfm(
        "--data", data, "instance", "update", "Both", "--set", 'callers=["030x1"]'
    )
    assert code == 2 and "callers" in err and "'x'" in err


def test_the_legacy_variant_installs_on_a_legacy_pbx(
    tmp_path: Path, builds: dict[str, Path]
) -> None:
    folder = tmp_path / "old"
    pbx = tmp_path / "old_pbx.toml"
    pbx.write_text(PBX.read_text("utf-8").replace('version = "8.1.0.4"', 'version = "7.2.0.1"'))
    sfm("--data", folder, "pbx", "load", pbx)
    code, _, err = run_sfm("--data", folder, "module", "install", builds["sperrliste"])
    assert code == 2 and "8.1.0.4" in err
    sfm("--data", folder, "module", "install", builds["sperrliste_legacy"])


def _state(data: Path) -> dict[str, Any]:
    """What the build in use shows and decides: the answer's label, whether a 2-digit entry is
    accepted, the call tester's explanation and the routing of 04011193 (prefix 0401119)."""
    conn = db.connect(data)
    try:
        module = store.require_module(conn, SPERRLISTE_ID)
    finally:
        conn.close()
    config = instances.config_of(data, module)
    label = config.form.label("answer", "de")
    short, _, _ = run_sfm("--data", data, "instance", "update", "Spam", "--set", 'callers=["12"]')
    if short == 0:  # accepted: put the list back
        sfm(
            "--data",
            data,
            "instance",
            "update",
            "Spam",
            "--set",
            'callers=["030111*", "+49 40 222 333", "0401119"]',
        )
    explained = {
        name: text
        for module_name, name, _, text in instances.explain_call(data, "04011193", "202", "de")
        if module_name == "Sperrliste"
    }
    return {
        "label": label,
        "short_entry_accepted": short == 0,
        "explanation": explained["Spam"],
        "outcome": call(data, "04011193", "202")["outcome"],
        "version": json.loads(sfm("--data", data, "--json", "module", "list"))[1]["version"],
    }


def test_upgrade_and_rollback_switch_form_validation_explanation_and_routing(
    data: Path, builds: dict[str, Path], jvm: None
) -> None:
    sfm(
        "--data",
        data,
        "instance",
        "update",
        "Spam",
        "--set",
        'callers=["030111*", "+49 40 222 333", "0401119"]',
    )
    n = _state(data)
    assert n == {
        "label": "Antwort",
        "short_entry_accepted": True,
        "explanation": "Anrufer 04011193 steht nicht auf der Sperrliste.",
        "outcome": "ring",
        "version": 1,
    }
    sfm("--data", data, "module", "install", builds["sperrliste_n1"])
    n1 = _state(data)
    assert n1 == {
        "label": "Reaktion",
        "short_entry_accepted": False,
        "explanation": "Anrufer 04011193 beginnt wie '0401119': Antwort busy.",
        "outcome": "busy",
        "version": 2,
    }
    sfm("--data", data, "module", "rollback", SPERRLISTE_ID)
    assert _state(data) == n


def test_rows_of_the_old_shape_are_read_and_migrated(data: Path) -> None:
    conn = db.connect(data)
    try:
        row = store.find_instance(conn, "Teamleiter", BREAKTHROUGH_ID)
        # the shape rows had before instances were stored by variable names
        old = tomllib.loads(TEAMLEITER_TOML)
        with db.transaction(conn):
            store.update_instance(
                conn,
                row.id,
                name=row.name,
                description=row.description,
                log_level=row.log_level,
                active=row.active,
                config=old,
            )
    finally:
        conn.close()
    assert tomllib.loads(sfm("--data", data, "instance", "export", "Teamleiter")) == old
    assert instances.migrate_stored(data) == 1
    assert instances.migrate_stored(data) == 0
    shown = json.loads(sfm("--data", data, "--json", "instance", "show", "Teamleiter"))
    assert shown["config"]["callerActive"] == ["*2515906850", "201"]
    assert shown["config"]["logLevel"] == "DEBUG"
    assert "numbers" not in shown["config"]


def test_the_http_api_takes_a_generic_instance_by_its_variables(data: Path, jvm: None) -> None:
    with api_client(data) as api:
        config = {"name": "Nachts", "callers": ["0171*"], "answer": "voicemail"}
        created = api.post("/api/instances", json={"module": SPERRLISTE_ID, "config": config})
        assert created.status_code == 201, created.text
        assert created.json()["config"] == {"callers": ["0171*"], "answer": "voicemail"}
        instance_id = created.json()["id"]
        exported = api.get(f"/api/instances/{instance_id}/export")
        assert tomllib.loads(exported.text) == {**config, "active": True}
        bad = api.put(
            f"/api/instances/{instance_id}",
            json={"config": {**config, "callers": ["0171*", "01a"]}},
        )
        assert bad.status_code == 400
        assert "callers" in bad.json()["error"] and "'a'" in bad.json()["error"]
        unknown = api.put(
            f"/api/instances/{instance_id}", json={"config": {**config, "colour": "red"}}
        )
        assert unknown.status_code == 400 and "colour" in unknown.json()["error"]
        assert api.get(f"/api/instances/{instance_id}").json()["config"]["callers"] == ["0171*"]
