"""The real-time call path (runtime/realtime.py): which threads run where, read back from the
kernel (/proc and sched_getscheduler), with the real JVM, the decision service's HTTP face and
Breakthrough's own module process; and the cases where the kernel or the machine says no.

The expected placement is written down from the module's promise: decision threads SCHED_FIFO
priority 3, a module process's call thread (its main thread) priority 2, both on the last CPU
the host may use; every other thread of the module process at normal priority on the host's
CPUs; every Kamailio process SCHED_FIFO priority 1, on any CPU. The test machines run the
tests as root, where the kernel allows real-time scheduling.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.host import Host, open_host
from runtime.realtime import RealtimeCalls, choose, enter
from runtime.sip.decision import DecisionServer
from runtime.sip.front import SipFront
from runtime.sip.kamailio import SipAddress, free_udp_port
from tests.data.sfm_crafted import sfm_files
from tests.dev_environment import development_environment
from tests.sip.child_python import run_python
from tests.sip.pbx import make_data
from tests.sip.scheduling import group_members, group_policies, policy

__all__ = ["sfm_files"]

REPO = Path(__file__).resolve().parents[2]
MODULE_ID = tomllib.loads((REPO / "module_src" / "module.toml").read_text())["module"]["id"]
HOST_CPUS = frozenset(os.sched_getaffinity(0))


def threads(pid: int) -> dict[int, str]:
    """The process's threads: {tid: the name the kernel has for it}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            continue  # it ended meanwhile
    return out


def wait_for_pid(host: Host, other_than: int | None, seconds: float) -> int:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pid = host.module_process_id(MODULE_ID)
        if pid is not None and pid != other_than:
            return pid
        time.sleep(0.05)
    raise AssertionError("the module's process did not start")


def assert_module_process_placed(pid: int, placement: RealtimeCalls) -> None:
    """Its main thread (the call thread) FIFO 2 on the call CPU; its others normal, every CPU."""
    assert policy(pid) == (os.SCHED_FIFO, 2)
    assert os.sched_getaffinity(pid) == {placement.call_cpu}
    others = [t for t in threads(pid) if t != pid]
    assert others, "the module process has its admin thread"
    for tid in others:
        assert policy(tid) == (os.SCHED_OTHER, 0)
        assert os.sched_getaffinity(tid) == HOST_CPUS


def breakthrough_applies(host: Host) -> bool:
    """Whether Lead's call to Dora (DND) is changed by Breakthrough's "Teamleiter" now."""
    return [a["instance"] for a in host.route("205", "210")["applied"]] == ["Teamleiter"]


@pytest.fixture(scope="module")
def placement() -> RealtimeCalls:
    chosen, line = choose()
    assert chosen is not None, line
    return chosen


@pytest.fixture(scope="module")
def realtime_host(
    tmp_path_factory: pytest.TempPathFactory,
    sfm_files: dict[str, Path],
    jvm: None,
    placement: RealtimeCalls,
) -> Iterator[Host]:
    with development_environment(tmp_path_factory):
        folder = tmp_path_factory.mktemp("sip-realtime")
        data = make_data(folder, sfm_files["current"], free_udp_port())
        host = open_host(data, register=False, realtime=placement)
        yield host
        host.close()


def test_the_call_path_takes_the_last_cpu_the_host_may_use(placement: RealtimeCalls) -> None:
    chosen, line = choose()
    assert chosen == RealtimeCalls(max(HOST_CPUS), HOST_CPUS)
    assert f"real-time priority on CPU {max(HOST_CPUS)}" in line


def test_decision_threads_and_the_module_call_thread_run_first_on_one_cpu(
    realtime_host: Host, placement: RealtimeCalls
) -> None:
    # The module's process answers (a restarted one needs a moment; the first calls pay
    # one-time costs beyond the hook's 50 ms budget).
    until = time.monotonic() + 60
    while not breakthrough_applies(realtime_host) and time.monotonic() < until:
        time.sleep(0.1)
    front = SipFront(realtime_host, realtime_host.data_dir, SipAddress("127.0.0.1", 0))
    assert front.realtime == placement
    server = DecisionServer(front.decider, realtime=front.realtime)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        # Lead (205) reaches Dora (210) through her DND: Breakthrough's process answered.
        conn.request("GET", "/decide?caller=205&called=210&callid=rt-1")
        assert conn.getresponse().read().decode().startswith("act=ring;aors=210;users=dora;")
        deciders = {t: n for t, n in threads(os.getpid()).items() if n.startswith("sip-decision-")}
        serving = [t for t, n in deciders.items() if n != "sip-decision-ac"]  # not the acceptor
        assert serving, deciders
        for tid in serving:
            assert policy(tid) == (os.SCHED_FIFO, 3), deciders[tid]
            assert os.sched_getaffinity(tid) == {placement.call_cpu}
        conn.close()
    finally:
        server.stop()
        front.decider.close()
    assert_module_process_placed(wait_for_pid(realtime_host, None, 30), placement)
    # The host's other threads (this test's, for one) keep normal priority.
    assert policy(threading.get_native_id()) == (os.SCHED_OTHER, 0)


def test_kamailio_runs_at_real_time_priority_below_the_hosts_threads(realtime_host: Host) -> None:
    address = SipAddress("127.0.0.1", free_udp_port())
    front = SipFront(realtime_host, realtime_host.data_dir, address, children=2)
    front.start()
    try:
        assert front.kamailio is not None and front.kamailio.pid is not None
        group = group_members(front.kamailio.pid)
        assert len(group) > 2, group  # the main process, its workers, timers and helpers
        assert group_policies(front.kamailio.pid) == {(os.SCHED_FIFO, 1)}
        # Not pinned: Kamailio's processes may run on every CPU the host may use.
        assert all(os.sched_getaffinity(pid) == HOST_CPUS for pid in group)
    finally:
        front.stop()


def test_a_module_process_started_again_answers_calls_on_the_call_path_again(
    realtime_host: Host, placement: RealtimeCalls
) -> None:
    before = wait_for_pid(realtime_host, None, 30)
    os.kill(before, signal.SIGKILL)
    after = wait_for_pid(realtime_host, before, 60)
    until = time.monotonic() + 30  # it sets its priority once its main thread serves
    while policy(after) != (os.SCHED_FIFO, 2) and time.monotonic() < until:
        time.sleep(0.05)
    assert policy(after) == (os.SCHED_FIFO, 2)
    assert os.sched_getaffinity(after) == {placement.call_cpu}


def test_a_module_process_started_from_the_call_cpu_gives_its_other_threads_every_cpu(
    tmp_path: Path, placement: RealtimeCalls
) -> None:
    # Started by a thread pinned to the call CPU (as a thread on the call path is), the process
    # inherits that pin: its threads other than the call thread must get the host's CPUs back.
    env = dict(os.environ, **placement.module_environment(), PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-m", "runtime.modules.module_process", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {placement.call_cpu}),
    )
    try:
        until = time.monotonic() + 20  # it serves (and is placed) once it has started
        while time.monotonic() < until and not (
            len(threads(child.pid)) >= 2 and policy(child.pid) == (os.SCHED_FIFO, 2)
        ):
            time.sleep(0.02)
        assert_module_process_placed(child.pid, placement)
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the host's end: the process ends
        assert child.wait(20) == 0


def _choose_in_child(preexec: str) -> tuple[bool, str]:
    """`choose()` in a fresh interpreter after `preexec` ran there (imports first: a user
    without rights may not read the interpreter's own files)."""
    code = (
        "import os, resource, sys\n"
        "from runtime.realtime import choose\n"
        f"{preexec}\n"
        "chosen, line = choose()\n"
        "print(chosen is not None)\nprint(line)\n"
    )
    placed, line = run_python(code).splitlines()[:2]
    return placed == "True", line


def test_without_the_right_to_real_time_priority_the_call_path_stays_normal() -> None:
    # A user with no capability and an RLIMIT_RTPRIO of 0, as a host run by a plain user is.
    placed, line = _choose_in_child(
        "resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)"
    )
    assert not placed
    assert line.startswith("the call path runs at normal priority: the kernel refused")
    assert "RLIMIT_RTPRIO" in line


def test_on_a_single_cpu_the_call_path_stays_normal() -> None:
    # A module spinning at real-time priority on the only CPU would starve Kamailio.
    placed, line = _choose_in_child(f"os.sched_setaffinity(0, {{{min(HOST_CPUS)}}})")
    assert not placed
    assert line == "the call path runs at normal priority: this host may use only one CPU"


def test_a_thread_the_kernel_will_not_place_is_left_as_it_was() -> None:
    seen: list[object] = []

    def attempt() -> None:
        try:
            enter(4095, 1)  # no such CPU here: the kernel refuses the affinity
        except OSError as exc:
            seen.append(exc)
        seen.append(policy(threading.get_native_id()))
        seen.append(frozenset(os.sched_getaffinity(0)))

    worker = threading.Thread(target=attempt)
    worker.start()
    worker.join()
    assert isinstance(seen[0], OSError)
    assert seen[1:] == [(os.SCHED_OTHER, 0), HOST_CPUS]
