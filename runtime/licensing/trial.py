"""The 14-day trial of a module on this PBX.

The trial starts at the first install of a module id on this PBX (keyed by module id and
hardware id) and never restarts: reinstall, upgrade, removal and re-adding only find the
existing row. The row is signed with the PBX key (`pbx_key`) and remembers the latest clock
reading seen, so setting the clock back does not give back trial days.
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
from runtime.licensing.pbx_key import pbx_key, sign, signature_matches

TRIAL_DAYS = 14
TRIAL_SECONDS = TRIAL_DAYS * 86400
# Only move `latest_seen` when the clock has gone on by this much: keeps status reads cheap.
LATEST_SEEN_STEP = 60


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
class TrialRecord:
    """A module's trial on this PBX as read from the database."""

    module_id: str
    hardware_id: str
    started_at: int
    latest_seen: int
    authentic: bool  # False: the row was altered (its signature does not match)

    @property
    def ends_at(self) -> int:
        """Epoch second at which the trial is over."""
        return self.started_at + TRIAL_SECONDS

    def effective_now(self, now_epoch: int) -> int:
        """The clock as the trial counts it: never earlier than the latest time seen."""
        return max(now_epoch, self.latest_seen)

    def days_left(self, now_epoch: int) -> int:
        """Whole days left, rounded up (14 right after install); 0 once over."""
        remaining = self.ends_at - self.effective_now(now_epoch)
        return max(0, math.ceil(remaining / 86400))

    def running(self, now_epoch: int) -> bool:
        """True while the trial is authentic and not over."""
        return self.authentic and self.effective_now(now_epoch) < self.ends_at


def _changing(conn: sqlite3.Connection) -> contextlib.AbstractContextManager[object]:
    """A transaction of our own, or none when the caller already holds one (joining it)."""
    return nullcontext() if conn.in_transaction else transaction(conn)


def _message(module_id: str, hw: str, started_at: int, latest_seen: int) -> str:
    return f"trial/v1|{module_id}|{hw}|{started_at}|{latest_seen}"


def record_install(
    conn: sqlite3.Connection,
    module_id: str,
    now: datetime | None = None,
    *,
    hardware_id: str | None = None,
) -> None:
    """Note that `module_id` was installed (first install, reinstall or upgrade).

    Idempotent: starts the trial only the first time this module id is installed on this PBX
    (this hardware id); later calls never restart it, also after the module was removed.
    They only move the remembered latest time forward. `hardware_id` is for tests only.
    """
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    key = pbx_key(data_dir, hw)
    at = epoch_of(now)
    with _changing(conn):
        conn.execute(
            "INSERT OR IGNORE INTO licence_trials VALUES (?, ?, ?, ?, ?)",
            (module_id, hw, at, at, sign(key, _message(module_id, hw, at, at))),
        )
    note_time_seen(conn, module_id, at, hardware_id=hw)


def read_trial(
    conn: sqlite3.Connection, module_id: str, *, hardware_id: str | None = None
) -> TrialRecord | None:
    """The trial of `module_id` on this PBX, or None if it was never installed here."""
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    row = conn.execute(
        "SELECT started_at, latest_seen, mac FROM licence_trials"
        " WHERE module_id = ? AND hardware_id = ?",
        (module_id, hw),
    ).fetchone()
    if row is None:
        return None
    started, latest, mac = int(row[0]), int(row[1]), str(row[2])
    authentic = signature_matches(
        pbx_key(data_dir, hw), _message(module_id, hw, started, latest), mac
    )
    return TrialRecord(module_id, hw, started, latest, authentic)


def note_time_seen(
    conn: sqlite3.Connection, module_id: str, now_epoch: int, *, hardware_id: str | None = None
) -> None:
    """Remember `now_epoch` as the latest time seen for this trial, if it is later.

    A record that fails its signature check is left as it is (it stays refused).
    """
    data_dir = data_dir_of(conn)
    hw = this_hardware_id(data_dir, hardware_id)
    key = pbx_key(data_dir, hw)
    with _changing(conn):
        row = conn.execute(
            "SELECT started_at, latest_seen, mac FROM licence_trials"
            " WHERE module_id = ? AND hardware_id = ?",
            (module_id, hw),
        ).fetchone()
        if row is None:
            return
        started, latest, mac = int(row[0]), int(row[1]), str(row[2])
        if now_epoch < latest + LATEST_SEEN_STEP:
            return
        if not signature_matches(key, _message(module_id, hw, started, latest), mac):
            return
        conn.execute(
            "UPDATE licence_trials SET latest_seen = ?, mac = ?"
            " WHERE module_id = ? AND hardware_id = ?",
            (now_epoch, sign(key, _message(module_id, hw, started, now_epoch)), module_id, hw),
        )


def known_modules(conn: sqlite3.Connection) -> list[str]:
    """Module ids that have a trial on this PBX (every module ever installed here)."""
    return [str(r[0]) for r in conn.execute("SELECT DISTINCT module_id FROM licence_trials")]
