"""The module manager's JSON API over a real HTTP server (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import io
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.host import Host, open_host
from tests.api_server import api_client
from tests.built_modules import running_build
from tests.data.sfm_crafted import (
    MODULE_ID,
    TEAMLEITER_TOML,
    rewrite,
    run_sfm,
    sfm_files,
    tree_digest,
    with_version,
)
from tests.test_host import DIRECTORY

__all__ = ["sfm_files"]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    directory = tmp_path / "pbx.toml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    assert run_sfm("--data", folder, "pbx", "load", directory)[0] == 0
    return folder


@pytest.fixture()
def api(data: Path) -> Iterator[httpx.Client]:
    with api_client(data) as client:
        yield client


def _upload(api: httpx.Client, path: Path, **fields: str) -> httpx.Response:
    with open(path, "rb") as handle:
        return api.post(
            "/api/modules", files={"file": (path.name, handle, "application/java-archive")},
            data=fields,
        )


def test_upload_list_instances_export_log_over_http(
    api: httpx.Client, data: Path, sfm_files: dict[str, Path], jvm: None
) -> None:
    answer = _upload(api, sfm_files["current"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["module"]["runnable"] is True
    [module] = api.get("/api/modules").json()
    assert module["id"] == MODULE_ID and module["display_version"] == "2.6.1"

    created = api.post("/api/instances", json={"module": MODULE_ID, "toml": TEAMLEITER_TOML})
    assert created.status_code == 201, created.text
    instance_id = created.json()["id"]
    same = api.post("/api/instances", json={"module": MODULE_ID, "toml": TEAMLEITER_TOML})
    assert same.status_code == 400 and "unique" in same.json()["error"]

    exported = api.get(f"/api/instances/{instance_id}/export")
    assert exported.status_code == 200
    assert tomllib.loads(exported.text) == tomllib.loads(TEAMLEITER_TOML)

    bad = tomllib.loads(TEAMLEITER_TOML)
    bad["numbers"]["called"]["active"] = ["*", "12a"]
    refused = api.put(f"/api/instances/{instance_id}", json={"config": bad})
    assert refused.status_code == 400
    assert "numbers.called.active" in refused.json()["error"]
    assert "line 2" in refused.json()["error"]

    call = api.post("/api/call", json={"from": "00492515906850", "to": "201"})
    assert call.status_code == 200, call.text
    assert call.json()["applied"][0]["instance"] == "Teamleiter"

    assert api.post(f"/api/instances/{instance_id}/deactivate").json()["active"] is False
    assert api.post("/api/call", json={"from": "00492515906850", "to": "201"}).json()[
        "applied"
    ] == []
    assert api.post(f"/api/instances/{instance_id}/activate").json()["active"] is True

    log = api.get(f"/api/instances/{instance_id}/log").json()
    assert log["level"] == "DEBUG" and "2515906850" in log["log"]
    download = api.get(f"/api/instances/{instance_id}/log/download")
    assert download.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert names == ["Teamleiter/instance.log"]

    assert api.get("/api/instances/999").status_code == 404
    assert api.delete(f"/api/instances/{instance_id}").status_code == 200
    assert api.get("/api/instances").json() == []


def test_refused_upload_answers_400_and_changes_nothing(
    api: httpx.Client, data: Path, tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    assert _upload(api, sfm_files["current"]).status_code == 201
    before = tree_digest(data)
    hostile = rewrite(sfm_files["current"], tmp_path / "evil.sfm",
                      add={"../../etc/evil": b"x"})
    answer = _upload(api, hostile)
    assert answer.status_code == 400
    assert "evil.sfm" in answer.json()["error"] and "'..'" in answer.json()["error"]
    older = with_version(sfm_files["current"], tmp_path / "older.sfm", 100)
    answer = _upload(api, older)
    assert answer.status_code == 400 and "--allow-downgrade" in answer.json()["error"]
    assert tree_digest(data) == before
    assert _upload(api, older, allow_downgrade="true").status_code == 200


def test_upgrade_rollback_remove_reach_the_running_host(
    api: httpx.Client, data: Path, tmp_path: Path, sfm_files: dict[str, Path], jvm: None
) -> None:
    assert _upload(api, sfm_files["current"]).status_code == 201
    assert api.post("/api/instances",
                    json={"module": MODULE_ID, "toml": TEAMLEITER_TOML}).status_code == 201
    host: Host = open_host(data)
    try:
        newer = with_version(sfm_files["current"], tmp_path / "v262.sfm", 262, tag="v262")
        answer = _upload(api, newer)
        assert answer.json()["action"] == "upgraded"
        upgraded = running_build(host, MODULE_ID)
        init = upgraded / "python" / "breakthrough" / "__init__.py"
        assert init.read_text("utf-8").endswith("BUILD_TAG = 'v262'\n")
        assert api.post(f"/api/modules/{MODULE_ID}/rollback").json()["version"] == 261
        assert running_build(host, MODULE_ID) != upgraded
        # a change through the API is in the running host's next call
        [instance] = api.get("/api/instances").json()
        api.post(f"/api/instances/{instance['id']}/deactivate")
        assert host.route("00492515906850", "201")["applied"] == []
        refused = api.delete(f"/api/modules/{MODULE_ID}")
        assert refused.status_code == 400 and "Teamleiter" in refused.json()["error"]
        assert api.delete(f"/api/modules/{MODULE_ID}?with_instances=1").status_code == 200
        assert host.module_ids() == ()
        assert api.get(f"/api/modules/{MODULE_ID}").status_code == 404
    finally:
        host.close()
