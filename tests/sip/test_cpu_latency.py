"""Idle CPUs polling while the host takes calls (runtime/cpu_latency.py), read back from the
kernel (tests/sip/idle_cpus.py). The test machines run the tests as root, who may ask for it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from runtime.cpu_latency import request_polling_idle
from tests.sip.child_python import run_python
from tests.sip.idle_cpus import bound_in_force


def test_idle_cpus_poll_while_the_request_is_held_and_sleep_again_after() -> None:
    before = bound_in_force()
    assert before > 0, "another process holds the CPUs polling: nothing to tell apart"
    request, line = request_polling_idle()
    assert request is not None, line
    try:
        assert line == (
            "idle CPUs poll while the host takes calls (CPU wake-up latency held at 0 us "
            "through /dev/cpu_dma_latency)"
        )
        assert request.held
        assert bound_in_force() == 0
    finally:
        request.release()
    assert not request.held
    assert bound_in_force() == before
    request.release()  # a second release does nothing
    assert bound_in_force() == before


def test_a_process_the_host_starts_does_not_keep_the_request_after_the_host() -> None:
    # Kamailio and the module processes are started by the host: when the host ends, the CPUs
    # must sleep again even while those children live on.
    before = bound_in_force()
    code = (
        "import subprocess, sys\n"
        "from runtime.cpu_latency import request_polling_idle\n"
        "request, line = request_polling_idle()\n"
        "assert request is not None, line\n"
        "child = subprocess.Popen(['sleep', '30'], close_fds=False,\n"
        "    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
    )
    child = int(run_python(code).split()[0])
    try:
        assert Path(f"/proc/{child}").exists(), "the host's child should still run"
        until = time.monotonic() + 5
        while bound_in_force() != before and time.monotonic() < until:
            time.sleep(0.05)
        assert bound_in_force() == before
    finally:
        os.kill(child, 9)


def test_without_root_the_cpus_sleep_as_the_kernel_chooses() -> None:
    before = bound_in_force()
    code = (
        "import os\n"
        "from runtime.cpu_latency import request_polling_idle\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "request, line = request_polling_idle()\n"
        "print(request is None)\nprint(line)\n"
    )
    refused, line = run_python(code).splitlines()[:2]
    assert refused == "True"
    assert line == (
        "idle CPUs sleep as the kernel chooses: /dev/cpu_dma_latency could not take the "
        "latency request (Permission denied; it needs root)"
    )
    assert bound_in_force() == before


def test_a_machine_without_the_device_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "cpu_dma_latency"
    request, line = request_polling_idle(missing)
    assert request is None
    assert line == (
        f"idle CPUs sleep as the kernel chooses: {missing} could not take the latency "
        "request (No such file or directory)"
    )
