"""What the trial counts time with: readings a clock step cannot fake, and the rule for gaps.

A wall-clock reading alone cannot tell an NTP step or a wrong clock at boot from time that
really passed. So every checkpoint of a trial also keeps the kernel's boot id and the seconds
since boot (`/proc/uptime`, which counts suspend too and which neither `settimeofday`, NTP
nor an LD_PRELOAD clock faker such as faketime can move). Time since a checkpoint is then:

- same boot: the growth of the seconds since boot (exact; wall-clock steps play no part);
- another boot: the wall-clock gap, but only when it is plausible, that is between 0 and
  `MAX_PLAUSIBLE_GAP` (a reboot, a night switched off). A negative gap (the clock set back,
  a dead RTC battery) or a larger one (a step forward at boot, or days switched off) counts
  nothing: time the PBX was off is not trial time unless the licence service says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

MAX_PLAUSIBLE_GAP = 86400
UPTIME_FILE = Path("/proc/uptime")
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ClockReading:
    """The machine's clocks at one moment."""

    wall: int  # seconds since the epoch (UTC), as the wall clock says: may be stepped
    boot_id: str  # "" when unknown: then every gap is judged as one between boots
    since_boot: int  # seconds since boot, including suspend


class MachineClock(Protocol):
    """Where trial code reads the clocks (the system's, or a simulated machine in tests)."""

    def reading(self) -> ClockReading: ...


class SystemClock:
    """The real machine: the wall clock, the boot id and `/proc/uptime`."""

    def reading(self) -> ClockReading:
        try:
            boot_id = BOOT_ID_FILE.read_text(encoding="ascii").strip()
            since_boot = int(float(UPTIME_FILE.read_text(encoding="ascii").split()[0]))
        except (OSError, ValueError, IndexError):
            # Not Linux: the boot clock of this process's interpreter is the best we have.
            boot_id, since_boot = "", int(time.clock_gettime(time.CLOCK_MONOTONIC))
        return ClockReading(int(time.time()), boot_id, since_boot)


SYSTEM_CLOCK = SystemClock()


def elapsed_between(wall: int, boot_id: str, since_boot: int, now: ClockReading) -> int:
    """Seconds of trial time between a checkpoint (`wall`, `boot_id`, `since_boot`) and `now`,
    by the rule in this module's docstring; never negative."""
    if boot_id and boot_id == now.boot_id:
        return max(0, now.since_boot - since_boot)
    gap = now.wall - wall
    return gap if 0 <= gap <= MAX_PLAUSIBLE_GAP else 0
