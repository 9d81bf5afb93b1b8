"""Uploaded module Python runs in a process of its own (issue 11 point 7).

Real processes throughout: modules built by `sfm build --source` from
tests/data/faulty_modules/gil_holding/ with its `sfm_module.py` rewritten so that it never
releases the GIL (catastrophic backtracking in `re`) at one phase, installed by the `sfm`
command next to Breakthrough. `sfm call` must return about as fast as without the faulty
module (plus that phase's stated time limit), route the call with Breakthrough, and name the
faulty module in `module_errors`. A module process that is killed (`kill -9`) or stuck in a
call is started again, and the next calls apply the module again; the module's problems say
so.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jpype
import pytest

from runtime.host import Host, open_host
from runtime.modules import loader
from runtime.routing_host import STUCK_LIMIT
from tests.built_modules import changed_copy
from tests.data.faulty_modules import (
    FAULTY_INSTANCE_TOML,
    REPO,
    SOURCES,
    build,
    faulty_id,
    prepare_data,
    sfm,
)
from tests.data.sfm_crafted import TEAMLEITER_TOML

GIL_HOLDING = SOURCES / "gil_holding"
FAULTY = faulty_id("gil_holding")
SHIM = "gil_holding_hook/sfm_module.py"
HOLD_THE_GIL = '__import__("re").match(r"(a+)+$", "a" * 40 + "b")'

# sfm_module.py of the faulty module: {where} is replaced by the phase that holds the GIL.
SHIM_TEXT = """
from pathlib import Path

{import_}


class Answer:
    ignore_dnd = True
    ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False
    applied = (("Faulty", ("ignore_dnd",)),)


MARK = Path(__file__).with_name("stuck-once")


class Hook:
    def set_instances(self, instances, plan):
        {set_instances}
        return {{}}

    def on_call(self, called, caller):
        {on_call}
        return Answer()


def start(api):
    {start}
    api.register_call_hook(Hook())
"""
PHASES = ("import", "start", "set_instances", "on_call")
# How long `sfm call` may wait for the phase beyond a healthy run: its stated time limit.
PHASE_LIMITS = {
    "import": loader.IMPORT_TIME_LIMIT + 1.0,
    "start": loader.TIME_LIMIT,
    "set_instances": loader.TIME_LIMIT,
    "on_call": 0.0,
}
MARGIN = 10.0  # a shared, loaded machine: starting a process and a JVM varies by seconds
CALL = ("201", "203")
# sfm_module.py of a module whose answer names the caller it was asked about, after a
# millisecond: calls queue up in its process, so many wait for their answers at once.
ECHO_SHIM = """
import time


class Answer:
    ignore_dnd = True
    ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False

    def __init__(self, caller):
        self.applied = ((f"Echo {caller}", ("ignore_dnd",)),)


class Hook:
    def set_instances(self, instances, plan):
        return {}

    def on_call(self, called, caller):
        time.sleep(0.001)
        return Answer(caller)


def start(api):
    api.register_call_hook(Hook())
"""  # 201 is on Teamleiter's caller list; 203 has DND on
SFM_CALL = ("--json", "call", "--from", CALL[0], "--to", CALL[1])


def shim(fault: str, *, once: bool = False) -> str:
    """The faulty module's sfm_module.py holding the GIL in phase `fault` ("once": on the
    first call of all its processes only)."""
    code = {phase: "pass" for phase in PHASES}
    code[fault] = HOLD_THE_GIL
    if once:
        indent = "\n" + " " * 12
        code[fault] = f'if not MARK.exists():{indent}MARK.write_text(""){indent}{HOLD_THE_GIL}'
    return SHIM_TEXT.format(
        import_=code["import"],
        start=code["start"],
        set_instances=code["set_instances"],
        on_call=code["on_call"],
    )


def faulty_build(tmp_path: Path, text: str) -> Path:
    source = changed_copy(GIL_HOLDING, tmp_path / "src", {SHIM: lambda _: text})
    return build(tmp_path / "state", source, tmp_path / "dist")


@pytest.fixture(scope="module")
def breakthrough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("breakthrough")
    return build(out / "state", REPO / "module_src", out / "dist")


@pytest.fixture(scope="module")
def healthy_call_seconds(tmp_path_factory: pytest.TempPathFactory, breakthrough: Path) -> float:
    """How long `sfm call` takes with Breakthrough alone, on this machine now."""
    folder = tmp_path_factory.mktemp("healthy")
    data, _ = prepare_data(folder, breakthrough, TEAMLEITER_TOML, None)
    started = time.monotonic()
    document = json.loads(sfm(folder / "user-state", "--data", data, *SFM_CALL))
    assert document["outcome"] == "ring", document
    return time.monotonic() - started


def call_result(folder: Path, data: Path) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    out = sfm(folder / "user-state", "--data", data, *SFM_CALL)
    return json.loads(out), time.monotonic() - started


@pytest.mark.parametrize("fault", PHASES)
def test_sfm_call_routes_around_a_module_that_holds_the_gil(
    fault: str, tmp_path: Path, breakthrough: Path, healthy_call_seconds: float
) -> None:
    faulty = faulty_build(tmp_path, shim(fault))
    if fault == "import":
        # Its code does not load, so an instance of it is refused (exit 2, in words).
        data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, None)
        sfm(tmp_path / "user-state", "--data", data, "module", "install", faulty)
        config = tmp_path / "faulty.toml"
        config.write_text(FAULTY_INSTANCE_TOML, "utf-8")
        with pytest.raises(RuntimeError, match=r"exited 2: .*the module's code does not load"):
            sfm(tmp_path / "user-state", "--data", data, "instance", "create", "--module",
                FAULTY, "--config", config)  # fmt: skip
    else:
        data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    document, seconds = call_result(tmp_path, data)
    # Routed with Breakthrough (Teamleiter rings through 203's DND), without the faulty module.
    assert document["outcome"] == "ring", document
    assert [a["instance"] for a in document["applied"]] == ["Teamleiter"], document  # type: ignore[union-attr]
    assert any(FAULTY in str(e) for e in document["module_errors"]), document  # type: ignore[union-attr]
    assert seconds < healthy_call_seconds + PHASE_LIMITS[fault] + MARGIN, (
        seconds,
        healthy_call_seconds,
    )


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def applied(host: Host) -> list[str]:
    return [a["instance"] for a in host.route(*CALL)["applied"]]


def test_a_killed_module_process_is_started_again_and_applies_the_module(
    tmp_path: Path, breakthrough: Path, jvm: None
) -> None:
    faulty = faulty_build(tmp_path, shim("on_call", once=True).replace(HOLD_THE_GIL, "pass"))
    data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    host = open_host(data, register=False)
    try:
        assert sorted(applied(host)) == ["Faulty", "Teamleiter"]
        pid = host.module_process_id(FAULTY)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # Answered meanwhile, with Breakthrough; then the faulty module applies again.
        assert "Teamleiter" in applied(host)
        assert wait_for(lambda: sorted(applied(host)) == ["Faulty", "Teamleiter"], 60)
        assert host.module_process_id(FAULTY) not in (None, pid)
        problems = host.module_problems(FAULTY)
        assert any("stopped 1 time and started again" in p for p in problems), problems
        assert any("exit code" in p for p in problems), problems
    finally:
        host.close()


def test_a_module_process_stuck_in_a_call_is_started_again(
    tmp_path: Path, breakthrough: Path, jvm: None
) -> None:
    faulty = faulty_build(tmp_path, shim("on_call", once=True))
    data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    host = open_host(data, register=False)
    try:
        pid = host.module_process_id(FAULTY)
        started = time.monotonic()
        first = host.route(*CALL)  # its process holds the GIL from now on
        assert time.monotonic() - started < 5.0  # the 50 ms budget, plus routing
        assert [a["instance"] for a in first["applied"]] == ["Teamleiter"]
        assert any(FAULTY in str(e) for e in first["module_errors"]), first
        # After the stuck limit the process is killed and started again; then it applies.
        assert wait_for(lambda: sorted(applied(host)) == ["Faulty", "Teamleiter"], 60)
        assert host.module_process_id(FAULTY) not in (None, pid)
        problems = host.module_problems(FAULTY)
        expected = f"a call was not answered for {STUCK_LIMIT:g} s"
        assert any(expected in p for p in problems), problems
        host.flush_logs()
    finally:
        host.close()
    log = sfm(tmp_path / "user-state", "--data", data, "instance", "log", "Faulty")
    assert "the module's Python process stopped" in log and expected in log


def test_calls_waiting_at_once_each_get_their_own_answer(
    tmp_path: Path, breakthrough: Path, jvm: None
) -> None:
    """Call answers come back on a socket that the waiting threads read in turn: with many
    calls waiting at once, each must get the answer to its own call, and none may be left
    waiting while no thread reads (it would wait out the budget and miss the module)."""
    faulty = faulty_build(tmp_path, ECHO_SHIM)
    data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    # A budget far beyond any scheduling delay: a call that misses its answer was forgotten.
    host = open_host(data, register=False, hook_budget_ms=3000.0)
    callers = [f"0301234{i:04d}" for i in range(1200)]

    core = host.routing.core

    def echoed(caller: str) -> tuple[str, list[str], list[object]]:
        # Straight into the Java core: the threads wait there together, not for the GIL.
        document = json.loads(str(core.routeJson(caller, CALL[1])))
        names = [a["instance"] for a in document["applied"] if a["instance"] != "Teamleiter"]
        return caller, names, list(document["module_errors"])

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(echoed, callers))
    finally:
        host.close()
    wrong = [(c, names, errors) for c, names, errors in results
             if errors or len(names) != 1 or not names[0].endswith(c[-4:])]  # fmt: skip
    assert not wrong, wrong[:5]


def test_a_thread_left_interrupted_still_gets_the_module_answer_and_stays_interrupted(
    tmp_path: Path, breakthrough: Path, jvm: None
) -> None:
    """Module code running before a hook may leave the routing thread interrupted. The wait
    for the answer is bounded by the call's deadline anyway: the interrupt does not cut it
    short (the call would lose the module), and the flag stays for whoever set it."""
    faulty = faulty_build(tmp_path, ECHO_SHIM)
    data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    host = open_host(data, register=False, hook_budget_ms=3000.0)
    thread = jpype.JClass("java.lang.Thread")
    future = jpype.JClass("java.util.concurrent.CompletableFuture")
    try:
        for caller in ("03012340001", "03012340002", "03012340003"):
            done = future()
            thread.currentThread().interrupt()
            # Routed on this (Python's own, now Java-attached) thread, not on a worker.
            host.routing.core.routeHere(caller, CALL[1], done)
            still_interrupted = bool(thread.interrupted())  # and clear it for the next one
            result = done.getNow(None)
            assert result is not None
            applied = [str(a[0]) for a in result.getApplied()]
            assert f"Echo {caller}" in applied, (applied, list(result.getModuleErrors()))
            assert still_interrupted
    finally:
        host.close()


# sfm_module.py of a module whose first call (of all its processes) writes something that is
# not a frame to its call socket, the one socket its process has.
GARBLING_SHIM = """
import os
from pathlib import Path

MARK = Path(__file__).with_name("garbled-once")


class Answer:
    ignore_dnd = True
    ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False
    applied = (("Faulty", ("ignore_dnd",)),)


class Hook:
    def set_instances(self, instances, plan):
        return {}

    def on_call(self, called, caller):
        if not MARK.exists():
            MARK.write_text("")
            for fd in os.listdir("/proc/self/fd"):
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    os.write(int(fd), b"\\x00\\x00\\x00\\x01junk")
        return Answer()


def start(api):
    api.register_call_hook(Hook())
"""


def test_a_module_process_that_garbles_its_call_socket_is_started_again(
    tmp_path: Path, breakthrough: Path, jvm: None
) -> None:
    faulty = faulty_build(tmp_path, GARBLING_SHIM)
    data, _ = prepare_data(tmp_path, breakthrough, TEAMLEITER_TOML, faulty)
    host = open_host(data, register=False)
    try:
        pid = host.module_process_id(FAULTY)
        first = host.route(*CALL)  # the junk comes before the answer: the call misses it
        assert [a["instance"] for a in first["applied"]] == ["Teamleiter"], first
        # Killed at once with the reason (not after the stuck limit), started again, applied.
        assert wait_for(lambda: sorted(applied(host)) == ["Faulty", "Teamleiter"], 60)
        assert host.module_process_id(FAULTY) not in (None, pid)
        problems = host.module_problems(FAULTY)
        assert any("its call socket failed" in p and "a frame of 1 bytes" in p
                   for p in problems), problems  # fmt: skip
    finally:
        host.close()
