"""Issue 11, finding 12 (the class of the 2.6.1 night bug): clock steps.

A wall-clock step forward that comes back (an NTP step, a PBX booting with a dead RTC battery,
`faketime` on one command) consumes no trial time and deactivates nothing; a clock set back
regains none. Trial time is counted from the boot clock within a boot (`/proc/uptime`, which a
step and faketime cannot move), from plausible wall-clock gaps between boots only, and from the
licence service's clock when it is reached (test_trial_restart.py); the host's gate runs on the
monotonic clock. The rule in words: docs/LICENSING.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.db import connect
from runtime.licensing.status import ModuleGate, licence_status
from runtime.licensing.trial import TRIAL_SECONDS, checkpoint, read_trial, record_install
from runtime.licensing.trial_clock import MAX_PLAUSIBLE_GAP
from runtime.licensing.trial_keeper import TrialKeeper
from tests.data.sfm_crafted import MODULE_ID, run_sfm, sfm_files
from tests.machine_clocks import SimulatedMachine
from tests.test_host import DIRECTORY

__all__ = ["sfm_files"]  # the session fixture, imported to be found by pytest

REPO = Path(__file__).resolve().parents[1]
DAY = 86400
FAKETIME = shutil.which("faketime")


def sfm_process(data: Path, *argv: str, fake: str | None = None) -> dict[str, object]:
    """`sfm licence status`-like command in a real process, under `faketime -f FAKE` if given."""
    assert FAKETIME, "faketime is installed by scripts/setup.sh --test"
    command = [sys.executable, "-m", "sfm_cli.main", "--data", str(data), *argv, "--json"]
    if fake is not None:
        command = [FAKETIME, "-f", fake, *command]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def status(data: Path, fake: str | None = None) -> tuple[object, object]:
    answer = sfm_process(data, "licence", "status", "--module", MODULE_ID, fake=fake)
    return answer["state"], answer["days_left"]


def jumps_of_the_issue(data: Path) -> None:
    """`faketime '2027-01-01' sfm licence status`, then the real clock; and a +10 d jump: each
    process reads 14 days, and the real clock afterwards still does."""
    assert status(data) == ("trial", 14)
    assert status(data, fake="@2027-01-01 00:00:00") == ("trial", 14)
    assert status(data) == ("trial", 14)
    assert status(data, fake="+10d") == ("trial", 14)
    assert status(data) == ("trial", 14)


def test_faketime_jumps_forward_consume_no_trial_days(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    data = tmp_path / "pbx"
    assert run_sfm("--data", data, "module", "install", sfm_files["current"])[0] == 0
    jumps_of_the_issue(data)


def test_after_the_jumps_the_module_still_changes_calls(
    tmp_path: Path, sfm_files: dict[str, Path]
) -> None:
    """The symptom of the issue was "calls no longer applied": a real `sfm call` after the jumps
    is still changed by the module's instance."""
    data = tmp_path / "pbx"
    assert run_sfm("--data", data, "module", "install", sfm_files["current"])[0] == 0
    directory = tmp_path / "pbx.toml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    assert run_sfm("--data", data, "pbx", "load", directory)[0] == 0
    code, _, err = run_sfm(
        "--data", data, "instance", "create", "--module", MODULE_ID, "--name", "Teamleiter",
        "--called", "*", "--caller", "*2515906850", "--bypass-dnd", "--bypass-redirects",
    )  # fmt: skip
    assert code == 0, err
    jumps_of_the_issue(data)
    call = sfm_process(data, "call", "--from", "00492515906850", "--to", "201")
    assert call["applied"], call  # the module still changes the call


def test_a_clock_set_back_regains_no_days(tmp_path: Path) -> None:
    """Ten days of trial used (on a simulated machine that ran until now); then real processes,
    one with the clock 20 days back: 4 days left throughout."""
    data = tmp_path / "pbx"
    machine = SimulatedMachine(int(time.time()) - 10 * DAY)
    conn = connect(data)
    record_install(conn, MODULE_ID, clock=machine)
    machine.run(10 * DAY)
    checkpoint(conn, MODULE_ID, clock=machine)
    conn.close()
    assert status(data) == ("trial", 4)
    assert status(data, fake="-20d") == ("trial", 4)
    assert status(data) == ("trial", 4)
    assert status(data, fake="@2000-01-01 00:00:00") == ("trial", 4)  # a dead RTC battery
    assert status(data) == ("trial", 4)


def test_the_running_hosts_gate_and_keeper_ignore_a_wall_clock_jump(tmp_path: Path) -> None:
    """While the host runs: a gate built before a jump to 2027 still allows; the keeper's
    checkpoint written during the jump consumes nothing."""
    data = tmp_path / "pbx"
    conn = connect(data)
    record_install(conn, MODULE_ID)
    gate = ModuleGate.from_status(licence_status(conn, data, MODULE_ID))
    keeper = TrialKeeper(data, server="")
    with time_machine.travel(datetime(2027, 1, 1, tzinfo=UTC), tick=True):
        assert gate.allows()
        keeper.round()
        assert licence_status(conn, data, MODULE_ID).days_left == 14
    assert gate.allows()
    status_now = licence_status(conn, data, MODULE_ID)
    assert (status_now.state, status_now.days_left) == ("trial", 14)
    conn.close()


def test_the_gate_closes_exactly_when_the_trial_time_is_used() -> None:
    gate = ModuleGate(MODULE_ID, "trial", 1000.0, "trial")
    assert gate.allows(999.999) and not gate.allows(1000.0)


# A machine's life as events; after each, a checkpoint (the host's keeper, or a status read).
RUN = st.tuples(st.just("run"), st.integers(1, 3 * DAY))
STEP = st.tuples(st.just("step"), st.integers(-400 * DAY, 400 * DAY).filter(lambda s: s != 0))
REBOOT = st.tuples(
    st.just("reboot"),
    st.integers(1, 3 * DAY),
    st.sampled_from(["correct", "dead-rtc", "far-ahead"]),
)
EVENTS = st.lists(st.one_of(RUN, STEP, REBOOT), max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS)
def test_trial_time_is_the_time_the_machine_ran_plus_plausible_gaps(
    tmp_path_factory: pytest.TempPathFactory, events: list[tuple[object, ...]]
) -> None:
    """Reference: used = the seconds the machine ran + each reboot's time off when its clock
    was right and the gap plausible (at most MAX_PLAUSIBLE_GAP). A step that comes back and a
    wrong clock at boot (corrected by NTP afterwards) add nothing and take nothing away."""
    data = tmp_path_factory.mktemp("pbx")
    os.environ["SFM_STATE_DIR"] = str(data / "user-state")  # each example a machine of its own
    machine = SimulatedMachine(int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()))
    conn = connect(data)
    record_install(conn, MODULE_ID, clock=machine)
    expected = 0
    for event in events:
        if event[0] == "run":
            machine.run(int(event[1]))  # type: ignore[call-overload]
            expected += int(event[1])  # type: ignore[call-overload]
        elif event[0] == "step":  # the wall clock jumps, is read, and comes back
            machine.step(int(event[1]))  # type: ignore[call-overload]
            checkpoint(conn, MODULE_ID, clock=machine)
            machine.step(-int(event[1]))  # type: ignore[call-overload]
        else:
            off, kind = int(event[1]), event[2]  # type: ignore[call-overload]
            true_wall = machine.wall + off
            error = {
                "correct": 0,
                "dead-rtc": 946684800 - true_wall,  # boots on 2000-01-01
                "far-ahead": MAX_PLAUSIBLE_GAP + 400 * DAY,
            }[str(kind)]
            machine.reboot(off, error)
            checkpoint(conn, MODULE_ID, clock=machine)  # the host starts on the wrong clock
            machine.step(-error)  # NTP corrects it
            if kind == "correct" and off <= MAX_PLAUSIBLE_GAP:
                expected += off
        checkpoint(conn, MODULE_ID, clock=machine)
        trial = read_trial(conn, MODULE_ID, clock=machine)
        assert trial is not None and trial.used == expected, (event, trial)
    status = licence_status(conn, data, MODULE_ID, clock=machine)
    assert status.state == ("trial" if expected < TRIAL_SECONDS else "expired")
    conn.close()


LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def test_sfm_serve_whose_clock_jumps_400_days_ahead_consumes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `sfm serve` whose wall clock steps 400 days forward while it runs, and back
    (libfaketime reading the offset from a file; the monotonic clock left alone, as a real
    step leaves it). Its keeper writes checkpoints on the stepped clock, and they consume
    nothing: the trial still has its 14 days."""
    from tests.browser.harness import ServeProcess

    assert LIBFAKETIME.is_file(), "faketime is installed by scripts/setup.sh --test"
    data = tmp_path / "pbx"
    conn = connect(data)  # a trial without the module's code: no JVM under libfaketime
    record_install(conn, MODULE_ID)
    conn.close()
    offset = tmp_path / "faketime-offset"
    offset.write_text("+0\n")
    with monkeypatch.context() as faked:
        faked.setenv("LD_PRELOAD", str(LIBFAKETIME))
        faked.setenv("FAKETIME_TIMESTAMP_FILE", str(offset))
        faked.setenv("FAKETIME_CACHE_DURATION", "1")  # the offset file is read every second
        faked.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        faked.setenv("SFM_TRIAL_CHECKPOINT_SECONDS", "0.5")
        server = ServeProcess(data, startup_timeout=300)  # libfaketime slows the JVM's start
    state_copy = next((Path(os.environ["SFM_STATE_DIR"]) / "trials").glob(f"*/{MODULE_ID}.json"))
    try:
        offset.write_text("+400d\n")  # the host's clock jumps ahead ...
        deadline = time.monotonic() + 120
        while json.loads(state_copy.read_text())["wall"] < time.time() + 399 * DAY:
            assert time.monotonic() < deadline, "no checkpoint on the stepped clock"
            time.sleep(0.2)  # ... and its keeper writes checkpoints on that clock
        assert status(data) == ("trial", 14)  # read meanwhile, on the real clock
        offset.write_text("+0\n")  # the step comes back
        time.sleep(1.5)
    finally:
        server.stop()
    assert status(data) == ("trial", 14), server.output()
