"""No lost update (issue 11): many writers on one data folder, each changing one thing, and
every change is there afterwards; nobody sees "database is locked". The writers are real:
`sfm` processes, and the API and the web form of a real `sfm serve` on the same folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from tests.browser.harness import REPO, ServeProcess, sample_folder_with_instance
from tests.data.sfm_crafted import MODULE_ID, run_sfm, sfm_files
from tests.test_web_attack import set_up_admin, token_of

__all__ = ["sfm_files"]

# One flag each; what the stored configuration must show afterwards (TEAMLEITER_TOML has the
# opposite or another value for every one of them).
CLI_CHANGES: list[tuple[list[str], Callable[[dict[str, Any]], bool]]] = [
    (["--description", "changed by writer 1"], lambda c: c["description"] == "changed by writer 1"),
    (["--log-level", "TRACE"], lambda c: c["log_level"] == "TRACE"),
    (["--inactive"], lambda c: c["active"] is False),
    (["--called", "0301*"], lambda c: c["numbers"]["called"]["active"] == ["0301*"]),
    (
        ["--called-exception", "0049301999"],
        lambda c: c["numbers"]["called"]["exceptions"] == ["0049301999"],
    ),
    (["--caller", "202"], lambda c: c["numbers"]["caller"]["active"] == ["202"]),
    (
        ["--caller-exception", "0049301888"],
        lambda c: c["numbers"]["caller"]["exceptions"] == ["0049301888"],
    ),
    (["--no-bypass-dnd"], lambda c: c["settings"]["bypass_dnd"] is False),
    (
        ["--bypass-self-redirects-only"],
        lambda c: c["settings"]["bypass_self_redirects_only"] is True,
    ),
    (["--force-call-waiting"], lambda c: c["settings"]["force_call_waiting"] is True),
]
WRITERS = 16


def _stored(data: Path, name: str = "Teamleiter") -> dict[str, Any]:
    """The instance as `sfm instance export` writes it (the instance TOML of INTERFACES.md)."""
    code, out, err = run_sfm("--data", data, "instance", "export", name)
    assert code == 0, err
    return tomllib.loads(out)


def _folder(tmp_path: Path, sfm_files: dict[str, Path]) -> Path:
    return sample_folder_with_instance(tmp_path / "data", sfm_files["current"])


# `sfm ARGV` in a process that has done its imports and then waits for the starting gun (a
# file appearing), so that all writers really run at the same moment, not one per start-up.
READY_SET_GO = """
import os, sys, time
from pathlib import Path
import sfm_cli.main
import contextlib, io
# The slow part first: imports of every command and of the module's code (by a read).
with contextlib.redirect_stdout(io.StringIO()):
    sfm_cli.main.main(["--data", sys.argv[3], "instance", "show", "Teamleiter"])
gun = Path(sys.argv[1])
(gun.parent / f"ready-{os.getpid()}").touch()
while not gun.exists():
    time.sleep(0.005)
sys.exit(sfm_cli.main.main(sys.argv[2:]))
"""


def _sfm(data: Path, *argv: str, gun: Path | None = None) -> subprocess.Popen[str]:
    if gun is None:
        command = [sys.executable, "-m", "sfm_cli.main", "--data", str(data), *argv]
    else:
        command = [sys.executable, "-c", READY_SET_GO, str(gun), "--data", str(data), *argv]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _fire_when_ready(gun: Path, processes: list[subprocess.Popen[str]]) -> None:
    """Start every waiting writer at once, when all of them have done their imports."""
    deadline = time.monotonic() + 300
    while len(list(gun.parent.glob("ready-*"))) < len(processes):
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a writer ended early: {process.communicate()}")
        assert time.monotonic() < deadline, "the writers did not get ready"
        time.sleep(0.05)
    gun.touch()


def _finish(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    results = []
    for process in processes:
        _, err = process.communicate(timeout=600)
        results.append((process.returncode, err))
    return results


@pytest.mark.parametrize("round_", range(2))
def test_sixteen_cli_writers_lose_no_change(
    tmp_path: Path, sfm_files: dict[str, Path], round_: int
) -> None:
    data = _folder(tmp_path, sfm_files)
    # 16 writers, 10 fields: the first six fields are changed twice, to the same value.
    flags = [CLI_CHANGES[n % len(CLI_CHANGES)][0] for n in range(WRITERS)]
    gun = tmp_path / "go"
    processes = [_sfm(data, "instance", "update", "Teamleiter", *one, gun=gun) for one in flags]
    _fire_when_ready(gun, processes)
    results = _finish(processes)
    for code, err in results:
        assert "locked" not in err, err
        assert code == 0, err
    config = _stored(data)
    missing = [flag for flag, holds in CLI_CHANGES if not holds(config)]
    assert missing == [], f"lost: {missing} in {config}"


def _web_form_change(
    client: httpx.Client, instance_id: int, change: Callable[[dict[str, Any]], None]
) -> int:
    """Open the instance's form, change one field, save; again on 409. The tries it took."""
    for attempt in range(1, 40):
        page = client.get(f"/instances/{instance_id}")
        assert page.status_code == 200
        form = lxml.html.fromstring(page.text).get_element_by_id("instance-form")
        values: dict[str, Any] = dict(form.form_values())
        change(values)
        answer = client.post(f"/instances/{instance_id}", data=values)
        if answer.status_code == 303:
            return attempt
        # Someone else saved meanwhile: told so, nothing overwritten; reload and redo.
        assert answer.status_code == 409, (answer.status_code, answer.text[:500])
        assert "changed by someone else" in answer.text
    raise AssertionError("the web writer never got its change in")


def test_cli_api_and_web_writers_together_lose_no_change(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = _folder(tmp_path, sfm_files)
    serve = ServeProcess(data)
    try:
        admin = set_up_admin(serve)
        code, out, err = run_sfm("--data", data, "--json", "admin", "token", "create", "t")
        assert code == 0, err
        bearer = {"Authorization": f"Bearer {json.loads(out)['token']}"}
        conn = sqlite3.connect(data / "pbx.sqlite3")
        instance_id = conn.execute("SELECT id FROM instances").fetchone()[0]
        conn.close()
        page = admin.get(f"/instances/{instance_id}")
        boxes = lxml.html.fromstring(page.text).xpath("//input[@type='checkbox']/@name")
        names = (
            "var.bypassSelfRedirectsOnly",
            "bypassSelfRedirectsOnly",
            "settings.bypass_self_redirects_only",
        )
        [self_redirects_name] = [n for n in boxes if n in names]
        errors: list[str] = []
        tries: list[int] = []
        start = threading.Barrier(WRITERS)

        def api_patch(changes: dict[str, Any]) -> Callable[[], None]:
            def run() -> None:
                with httpx.Client(base_url=serve.url, timeout=300, headers=bearer) as api:
                    start.wait()
                    answer = api.patch(f"/api/instances/{instance_id}", json={"config": changes})
                    if answer.status_code != 200:
                        errors.append(f"PATCH {changes}: {answer.status_code} {answer.text}")

            return run

        def api_create(name: str) -> Callable[[], None]:
            def run() -> None:
                with httpx.Client(base_url=serve.url, timeout=300, headers=bearer) as api:
                    start.wait()
                    answer = api.post(
                        "/api/instances",
                        json={"module": MODULE_ID, "config": {"name": name, "numbers": {
                            "called": {"active": ["203"]}}}},
                    )
                    if answer.status_code != 201:
                        errors.append(f"POST {name}: {answer.status_code} {answer.text}")

            return run

        def web_form(change: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
            def run() -> None:
                with httpx.Client(
                    base_url=serve.url, timeout=300, cookies=dict(admin.cookies)
                ) as web:
                    start.wait()
                    tries.append(_web_form_change(web, instance_id, change))

            return run

        def web_deactivate() -> None:
            with httpx.Client(base_url=serve.url, timeout=300, cookies=dict(admin.cookies)) as web:
                token = token_of(web.get("/instances").text)
                start.wait()
                answer = web.post(
                    f"/instances/{instance_id}/deactivate", data={"csrf_token": token}
                )
                if answer.status_code != 303:
                    errors.append(f"deactivate: {answer.status_code} {answer.text[:300]}")

        def field(values: dict[str, Any], *names: str) -> str:
            """The form's name for a field (by the descriptor's variable or the TOML key)."""
            found = [n for n in names if n in values]
            return found[0] if found else names[-1]

        def caller_active(values: dict[str, Any]) -> None:
            names = ("var.callerActive", "callerActive", "numbers.caller.active")
            values[field(values, *names)] = "202"

        def self_redirects_only(values: dict[str, Any]) -> None:
            # A checkbox the form does not send while off: found by its input element.
            values[self_redirects_name] = "1"

        cli_flags = [
            ["--description", "changed by writer 1"],
            ["--log-level", "TRACE"],
            ["--called-exception", "0049301999"],
            ["--caller-exception", "0049301888"],
        ]
        processes: list[subprocess.Popen[str]] = []

        def cli(argv: list[str]) -> Callable[[], None]:
            def run() -> None:
                start.wait()
                processes.append(_sfm(data, *argv))

            return run

        writers: list[Callable[[], None]] = [
            *(cli(["instance", "update", "Teamleiter", *f]) for f in cli_flags),
            *(
                cli(["instance", "create", "--module", MODULE_ID, "--name", f"cli {n}",
                     "--called", "203"])
                for n in range(3)
            ),
            api_patch({"settings": {"bypass_dnd": False}}),
            api_patch({"settings": {"force_call_waiting": True}}),
            api_patch({"numbers": {"called": {"active": ["0301*"]}}}),
            *(api_create(f"api {n}") for n in range(3)),
            web_form(caller_active),
            web_form(self_redirects_only),
            web_deactivate,
        ]
        assert len(writers) == WRITERS
        threads = [threading.Thread(target=w) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        for code, err in _finish(processes):
            assert "locked" not in err, err
            assert code == 0, err
        assert errors == []
        assert len(tries) == 2
        config = _stored(data)
        missing = [flag for flag, holds in CLI_CHANGES if not holds(config)]
        assert missing == [], f"lost: {missing} in {config}"
        conn = sqlite3.connect(data / "pbx.sqlite3")
        names = {row[0] for row in conn.execute("SELECT name FROM instances")}
        conn.close()
        assert names == {"Teamleiter", "cli 0", "cli 1", "cli 2", "api 0", "api 1", "api 2"}
        assert "locked" not in serve.output()
        admin.close()
    finally:
        serve.stop()
