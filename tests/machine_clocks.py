"""Stand-ins for the machine's clocks in licensing tests (the kernel's boot clock cannot be
moved by a test, so these replace what `runtime.licensing.trial_clock.SystemClock` reads).

- `TimeTravelIsRealTime`: the wall clock as time-machine sets it, and a boot clock that moves
  with it, i.e. the machine was running the whole time a test travels. For tests whose
  travels stand for real time passing (a trial counted over days), not for clock steps.
- `SimulatedMachine`: every clock set explicitly: `run` (time passes), `step` (only the wall
  clock jumps), `reboot` (a new boot, the wall clock moved by the time off plus any error).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jpype
import pytest
import time_machine

from runtime.licensing import status
from runtime.licensing.trial_clock import ClockReading, SystemClock

_boots = itertools.count(1)


class TimeTravelIsRealTime:
    def reading(self) -> ClockReading:
        now = int(time.time())
        return ClockReading(now, "time-travel-boot", now)


def time_travel_is_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the system clock of licensing read `TimeTravelIsRealTime` for this test."""
    monkeypatch.setattr(SystemClock, "reading", lambda self: TimeTravelIsRealTime().reading())


@contextmanager
def real_time_passes(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """Inside, `seconds` have really passed: the wall clock (time-machine, ticking), and the
    monotonic clock the trial gates run on. With `time_travel_is_real_time` the boot clock
    follows as well."""
    real = status.monotonic_now
    # The routing core's licence gates read a Java clock of their own (de.sfhost.core.GateClock).
    gate_clock = jpype.JClass("de.sfhost.core.GateClock") if jpype.isJVMStarted() else None
    with monkeypatch.context() as patch:
        patch.setattr(status, "monotonic_now", lambda: real() + seconds)
        if gate_clock is not None:
            gate_clock.advanceForTests(float(seconds))
        try:
            with time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True):
                yield
        finally:
            if gate_clock is not None:
                gate_clock.advanceForTests(-float(seconds))


@dataclass
class SimulatedMachine:
    wall: int
    boot_id: str = field(default_factory=lambda: f"simulated-boot-{next(_boots)}")
    since_boot: int = 100

    def reading(self) -> ClockReading:
        return ClockReading(self.wall, self.boot_id, self.since_boot)

    def run(self, seconds: int) -> None:
        self.wall += seconds
        self.since_boot += seconds

    def step(self, seconds: int) -> None:
        self.wall += seconds

    def reboot(self, off_seconds: int, wall_error: int = 0) -> None:
        self.boot_id = f"simulated-boot-{next(_boots)}"
        self.since_boot = 20
        self.wall += off_seconds + wall_error
