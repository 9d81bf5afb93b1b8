"""Promises of the README and DESIGN.md that no other test held the product to: where the state
lives by default, the default ports, the default hop limit, and that nothing on the call path
waits for a writer (a stalled module-log writer, a full intervention queue)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from breakthrough.hook import HookAnswer
from runtime.db import connect
from runtime.licensing import client
from runtime.routing_host import RoutingHost
from runtime.web import interventions
from sfm_cli.main import build_parser
from tests.test_routing_core import OUTSIDE_CALLER, RELAXED_BUDGET_MS, directory, route, user

ROOT = Path(__file__).resolve().parents[1]
OFFICE = ROOT / "tests" / "data" / "pbx" / "office.toml"


def sfm(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def clean_env() -> dict[str, str]:
    """This process's environment without SFM_HOME, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if k != "SFM_HOME"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "module_src")])
    return env


def test_the_state_folder_is_data_else_sfm_home_else_var(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    # README: "--data DIR (default: $SFM_HOME, else ./var)". Loading a PBX directory writes
    # pbx.toml into the state folder; where it appears shows which folder was used.
    work = tmp_path / "work"
    work.mkdir()
    assert sfm("pbx", "load", str(OFFICE), cwd=work, env=clean_env).returncode == 0
    assert (work / "var" / "pbx.toml").is_file()

    home = tmp_path / "home"
    with_home = {**clean_env, "SFM_HOME": str(home)}
    assert sfm("pbx", "load", str(OFFICE), cwd=work, env=with_home).returncode == 0
    assert (home / "pbx.toml").is_file()

    given = tmp_path / "given"
    env = {**clean_env, "SFM_HOME": str(tmp_path / "unused")}
    assert sfm("--data", str(given), "pbx", "load", str(OFFICE), cwd=work, env=env).returncode == 0
    assert (given / "pbx.toml").is_file()
    assert not (tmp_path / "unused").exists()


def test_the_default_ports_are_8080_for_the_host_and_8471_for_the_licence_service() -> None:
    # Read from the command line as a user starts them (no port is bound: tests never use
    # fixed ports); the licence client looks for the service where it listens by default.
    parser = build_parser()
    assert parser.parse_args(["serve"]).port == 8080
    assert parser.parse_args(["licence-server"]).port == 8471
    assert client.DEFAULT_SERVER.endswith(":8471")


def test_the_default_hop_limit_is_eight_forwards(jvm: None) -> None:
    # "forwarding chains stop at a hop limit": by default the party reached after eight
    # forwards does not forward again and rings.
    users = [user(f"u{i}", str(200 + i), always=str(201 + i)) for i in range(12)]
    host = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    try:
        r = route(host, directory(*users), OUTSIDE_CALLER, "200")
    finally:
        host.close()
    assert (r["outcome"], r["rings"]) == ("ring", ["u8"])
    assert r["forwarded_to"] == [str(201 + i) for i in range(8)]


class Failing:
    """A hook that raises on every call: each call leaves a line for the module log."""

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        raise ValueError(f"no rule for {called}")


@pytest.fixture
def stalled_writer(jvm: None) -> Iterator[tuple[RoutingHost, threading.Event, list[str]]]:
    """A host whose module-log writer hangs on the first line until the event is set."""
    release = threading.Event()
    written: list[str] = []

    def write(module_id: str, level: str, message: str) -> None:
        release.wait(60)  # a disk that does not answer
        written.append(message)

    host = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS, on_module_log=write)
    host.load_directory(directory(user("a", "201")))
    host.register_in_process_hook("m", Failing())
    try:
        yield host, release, written
    finally:
        release.set()
        host.close()


def test_calls_go_on_while_the_log_writer_is_stalled(
    stalled_writer: tuple[RoutingHost, threading.Event, list[str]],
) -> None:
    # DESIGN.md: "Nothing on the call path waits for the network or the disk".
    host, release, written = stalled_writer
    results = [host.route(OUTSIDE_CALLER, "201") for _ in range(50)]
    # Every call was routed (as if the failing module were absent), its error in the result,
    # while the writer had written nothing.
    assert all((r["outcome"], r["rings"]) == ("ring", ["a"]) for r in results)
    assert all("no rule for 201" in r["module_errors"][0] for r in results)
    assert written == []
    release.set()
    host.flush_log(timeout=30)
    assert len(written) >= 50 and all("no rule for 201" in m for m in written[:50])


def test_a_full_breakthrough_queue_drops_records_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The writer is not started (a stalled disk): the queue fills, and past it records are
    # dropped and counted, the call path never waits.
    recorder = interventions.InterventionRecorder(tmp_path)
    result = {
        "outcome": "ring",
        "applied": [{"instance": "A", "effects": ["bypass_dnd"]}],
        "changed": [{"instance": "A", "effects": ["bypass_dnd"]}],
    }
    with caplog.at_level(logging.WARNING, logger="sfm.serve.interventions"):
        for n in range(interventions.QUEUE_SIZE + 3):
            recorder.record(result, "210", str(n), "call test")
    assert recorder.dropped == 3
    assert [r.getMessage() for r in caplog.records] == [
        "intervention queue full: 1 record(s) dropped"
    ] * 3
    # What was queued is stored once the writer runs: the first QUEUE_SIZE calls.
    recorder.start()
    recorder.flush(timeout=300)
    recorder.stop()
    conn = connect(tmp_path)
    try:
        (count,) = conn.execute("SELECT COUNT(*) FROM interventions").fetchone()
        (highest,) = conn.execute(
            "SELECT MAX(CAST(called AS INTEGER)) FROM interventions"
        ).fetchone()
    finally:
        conn.close()
    assert (count, highest) == (interventions.QUEUE_SIZE, interventions.QUEUE_SIZE - 1)
