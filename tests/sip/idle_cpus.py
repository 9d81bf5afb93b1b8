"""The CPU wake-up latency bound in force, read back from the kernel for the tests."""

from __future__ import annotations

import os
import struct

from runtime.cpu_latency import DEVICE


def bound_in_force() -> int:
    """The bound the kernel keeps idle CPUs to now, in microseconds: the smallest any process
    holds through /dev/cpu_dma_latency (Documentation/power/pm_qos_interface.rst)."""
    fd = os.open(DEVICE, os.O_RDONLY)
    try:
        (value,) = struct.unpack("=i", os.read(fd, 4))
    finally:
        os.close(fd)
    return int(value)
