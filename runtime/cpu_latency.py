"""Idle CPUs that take a woken thread at once while the host takes calls (Linux PM QoS).

Every hand-over on a call's path (Kamailio, the host's decision thread, a module's process, the
phone) wakes a thread, often on a CPU that has nothing else to do. An idle CPU that halted must
first be woken: on the team's 2-core virtual machines (cpuidle driver `haltpoll`, which halts at
once) that is a trip through the hypervisor with a long tail, and a call pays it several times.
Linux lets a process bound how long a CPU may take to leave its idle state: it writes the bound
in microseconds to /dev/cpu_dma_latency and keeps the file open; the kernel holds every CPU to it
until the file is closed (Documentation/power/pm_qos_interface.rst). With 0, cpuidle uses only
its polling state: an idle CPU spins and runs the woken thread at once.

The price: an idle CPU spins instead of sleeping, so it draws power, and a virtual machine's
idle CPUs count as busy to its hypervisor, for as long as the host serves SIP. Measured on the
team's machines (docs/BENCHMARKS.md): a round trip between two processes every 2 ms had a p99.9
of 0.8-1.2 ms with halting CPUs and 0.1-0.2 ms with polling ones.

Writing the file needs root (it is mode 0600); `request_polling_idle()` says why not otherwise,
and the CPUs then idle as the kernel chooses.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

DEVICE = Path("/dev/cpu_dma_latency")
BOUND_US = 0


class LatencyRequest:
    """A held request; `release()` gives the CPUs their idle states back. The kernel also drops
    it when this process ends, however it ends."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether the request is still in force."""
        return self._fd is not None

    def release(self) -> None:
        """Withdraw the request (a second call does nothing)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def request_polling_idle(device: Path = DEVICE) -> tuple[LatencyRequest | None, str]:
    """Ask the kernel to keep idle CPUs polling (wake-up latency `BOUND_US`) for as long as the
    returned request is held, with a line for the log: (request, what it does) or (None, why the
    CPUs keep their idle states). Never raises for a refusal."""
    try:
        # os.open's descriptors are not inherited: Kamailio and the module processes never
        # hold the request on after the host.
        fd = os.open(device, os.O_WRONLY)
    except OSError as exc:
        return None, _refused(device, exc)
    try:
        os.write(fd, struct.pack("=i", BOUND_US))
    except OSError as exc:
        os.close(fd)
        return None, _refused(device, exc)
    return LatencyRequest(fd), (
        f"idle CPUs poll while the host takes calls (CPU wake-up latency held at {BOUND_US} us "
        f"through {device})"
    )


def _refused(device: Path, exc: OSError) -> str:
    why = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        why += "; it needs root"
    return (
        f"idle CPUs sleep as the kernel chooses: {device} could not take the latency request "
        f"({why})"
    )
