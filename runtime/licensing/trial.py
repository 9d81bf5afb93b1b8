"""The 14-day trial of a module on this PBX, counted in trial time a clock step cannot fake.

The trial starts at the first install of a module id on this machine (keyed by module id and
hardware id) and never restarts: reinstall, upgrade, removal, a deleted database row, a
deleted `pbx.key` or a new data folder only find the existing trial again, because it is kept
in three signed copies (`trial_records`). Each copy is a checkpoint: the trial time used so
far plus the clocks at that moment; the time used now adds what `trial_clock` accepts as
evidence since the newest checkpoint. A copy whose signature does not match ends the trial.

Checkpoints are written on install, by the host's `trial_keeper` while it runs (off the call
path) and when the vendor's licence service reports its own count; reading a status writes
nothing, so a process started under a faked clock leaves no trace.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from runtime.db import transaction
from runtime.licensing.data_folder import data_dir_of
from runtime.licensing.hardware_id import hardware_id as this_hardware_id
from runtime.licensing.trial_clock import SYSTEM_CLOCK, MachineClock, elapsed_between
from runtime.licensing.trial_records import Checkpoint, read_copies, write_files, write_row

TRIAL_DAYS = 14
TRIAL_SECONDS = TRIAL_DAYS * 86400
COPIES = 3  # database row, data folder, state folder (trial_records)
CHECKPOINT_STEP = 60  # a status read writes a checkpoint only past this much new trial time


def epoch_of(now: datetime | None) -> int:
    """Whole seconds since the epoch for `now` (the system clock when None).

    A naive datetime is taken as UTC. Everything in licensing counts in UTC epoch seconds,
    never in local dates, so time zones and DST changes cannot move a trial's end.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return int(now.timestamp())


@dataclass(frozen=True)
class TrialState:
    """A module's trial on this machine as its copies say now."""

    module_id: str
    hardware_id: str
    started_at: int  # wall clock at the first install
    used: int  # trial seconds used up to now
    authentic: bool  # False: a copy was altered (its signature does not match)
    altered: tuple[str, ...] = ()  # where: "database", "data folder", "state folder"
    newest: Checkpoint | None = None
    copies: int = 0  # how many copies were found

    def worth_a_checkpoint(self) -> bool:
        """True when a copy is missing or a minute of trial time is not yet on disk."""
        return (
            self.authentic
            and self.newest is not None
            and (self.copies < COPIES or self.used - self.newest.used >= CHECKPOINT_STEP)
        )

    @property
    def seconds_left(self) -> int:
        return 0 if not self.authentic else max(0, TRIAL_SECONDS - self.used)

    @property
    def days_left(self) -> int:
        """Whole days left, rounded up (14 right after install); 0 once over."""
        return math.ceil(self.seconds_left / 86400)

    @property
    def running(self) -> bool:
        """True while the trial is authentic and not used up."""
        return self.seconds_left > 0


def _changing(conn: sqlite3.Connection) -> contextlib.AbstractContextManager[object]:
    """A transaction of our own, or none when the caller already holds one (joining it)."""
    return nullcontext() if conn.in_transaction else transaction(conn)


def read_trial(
    conn: sqlite3.Connection,
    module_id: str,
    *,
    hardware_id: str | None = None,
    clock: MachineClock = SYSTEM_CLOCK,
) -> TrialState | None:
    """The trial of `module_id` on this machine now, or None if it was never installed here.

    The time used is the largest any authentic copy gives (its used time plus the evidence
    since it); the start is the earliest. Writes nothing.
    """
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    copies = read_copies(conn, data_dir, module_id, hw)
    if not copies:
        return None
    now = clock.reading()
    points = [c.checkpoint for c in copies if c.checkpoint is not None]
    altered = tuple(c.place for c in copies if c.checkpoint is None)
    if not points:
        return TrialState(module_id, hw, now.wall, TRIAL_SECONDS, False, altered)

    def used_now(p: Checkpoint) -> int:
        return p.used + elapsed_between(p.wall, p.boot_id, p.since_boot, now)

    newest = max(points, key=used_now)
    return TrialState(
        module_id,
        hw,
        min(p.started_at for p in points),
        used_now(newest),
        not altered,
        altered,
        newest,
        len(copies),
    )


def checkpoint(
    conn: sqlite3.Connection,
    module_id: str,
    *,
    hardware_id: str | None = None,
    clock: MachineClock = SYSTEM_CLOCK,
    used_at_least: int = 0,
    started_by: int | None = None,
) -> TrialState | None:
    """Write the trial's state now into all three copies (restoring any that is missing).

    `used_at_least` and `started_by` carry the licence service's count. A trial with an
    altered copy is left as it is (it stays ended); None when there is no trial.
    """
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    joined = conn.in_transaction
    with _changing(conn):
        state = read_trial(conn, module_id, hardware_id=hw, clock=clock)
        if state is None or not state.authentic or state.newest is None:
            return state
        now = clock.reading()
        since_boot = now.since_boot
        if state.newest.boot_id == now.boot_id:
            since_boot = max(since_boot, state.newest.since_boot)
        started = state.started_at if started_by is None else min(state.started_at, started_by)
        point = Checkpoint(
            module_id,
            hw,
            started,
            max(state.used, used_at_least),
            now.wall,
            now.boot_id,
            since_boot,
        )
        write_row(conn, data_dir, point)
    if not joined:  # files only once the row is committed (a caller's rollback leaves none)
        write_files(data_dir, point)
    return read_trial(conn, module_id, hardware_id=hw, clock=clock)


def record_install(
    conn: sqlite3.Connection,
    module_id: str,
    *,
    hardware_id: str | None = None,
    clock: MachineClock = SYSTEM_CLOCK,
) -> None:
    """Note that `module_id` was installed (first install, reinstall or upgrade).

    Starts the trial only when no copy of it exists on this machine; otherwise it checkpoints
    the existing trial (restoring a deleted copy). Never restarts it. `hardware_id` and `clock`
    are for tests only.
    """
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    joined = conn.in_transaction
    with _changing(conn):
        exists = bool(read_copies(conn, data_dir, module_id, hw))
        if not exists:
            now = clock.reading()
            point = Checkpoint(module_id, hw, now.wall, 0, now.wall, now.boot_id, now.since_boot)
            write_row(conn, data_dir, point)
    if exists:
        checkpoint(conn, module_id, hardware_id=hw, clock=clock)
    elif not joined:
        write_files(data_dir, point)


def known_modules(conn: sqlite3.Connection) -> list[str]:
    """Module ids that have a trial row on this PBX (every module ever installed here)."""
    return [str(r[0]) for r in conn.execute("SELECT DISTINCT module_id FROM licence_trials")]
