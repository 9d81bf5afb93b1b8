"""The licence state of a module, and the in-memory gate the host checks on the call path.

`licence_status` reads disk (the trial's copies, the stored licence, the installed build's
vendor signature) and is called when the host starts, when a module is installed, and after
`sfm licence` changed something, never per call; it writes only a trial checkpoint. The host
turns its answer into a `ModuleGate` and keeps that in memory; the call path evaluates only
`ModuleGate.allows`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runtime.errors import Refused
from runtime.licensing.hardware_id import hardware_id as this_hardware_id
from runtime.licensing.installed import installed_module, licence_public_key
from runtime.licensing.licence import Licence, check_fits, read_licence
from runtime.licensing.licence_store import stored_licence_document
from runtime.licensing.trial import TRIAL_DAYS, TRIAL_SECONDS, checkpoint, read_trial
from runtime.licensing.trial_clock import SYSTEM_CLOCK, MachineClock

log = logging.getLogger(__name__)

State = Literal["trial", "licensed", "expired"]


@dataclass(frozen=True)
class LicenceStatus:
    """A module's licence state at one moment, with the reason in words."""

    module_id: str
    state: State
    days_left: int | None  # trial: whole days left (rounded up); expired: 0; licensed: None
    email: str | None  # licensed: the e-mail the licence was verified with
    expires: str | None  # trial/expired: the trial's end as an ISO date (UTC); licensed: None
    reason: str  # for the log and the page
    trial_seconds_left: int | None = None  # trial: for the in-memory gate
    max_build: int | None = None  # licensed: the last build the licence covers

    def to_json(self) -> dict[str, Any]:
        """The document of `sfm licence status --json` (INTERFACES.md)."""
        return {
            "state": self.state,
            "days_left": self.days_left,
            "email": self.email,
            "expires": self.expires,
        }


def _iso_date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def licence_status(
    conn: sqlite3.Connection,
    data_dir: Path,
    module_id: str,
    *,
    clock: MachineClock = SYSTEM_CLOCK,
    public_key_pem: bytes | None = None,
    build: int | None = None,
    hardware_id: str | None = None,
) -> LicenceStatus:
    """The licence state of `module_id` on this PBX now.

    licensed: a stored licence signed by the trusted key that signed the installed build (the
    host's trust store, never a key file), for this module and this PBX, whose entitlement
    covers the installed build; the clock plays no part. trial: no such licence and less than
    14 days of trial time used (`trial`). expired: otherwise, also for an altered trial copy or
    licence; `reason` then says why. Never raises for bad stored data; writes only a trial
    checkpoint (restoring a missing copy).
    `public_key_pem` and `build` default to the installed module's; `hardware_id` and `clock`
    are for tests.
    """
    hw = this_hardware_id(data_dir, hardware_id)
    if build is None:
        installed = installed_module(conn, module_id)
        build = installed.build_number if installed else None

    licence_problem = ""
    document = stored_licence_document(conn, module_id)
    if document is not None:
        try:
            if public_key_pem is None:
                public_key_pem = licence_public_key(conn, data_dir, module_id)
            licence: Licence = read_licence(document, public_key_pem, "the stored licence")
            check_fits(
                licence,
                module_id=module_id,
                hardware_id=hw,
                build=build,
                source="the stored licence",
            )
        except Refused as exc:
            licence_problem = f" {exc}"
        else:
            return LicenceStatus(
                module_id=module_id,
                state="licensed",
                days_left=None,
                email=licence.email,
                expires=None,
                reason=(f"Licensed to {licence.email} (updates up to build {licence.max_build})."),
                max_build=licence.max_build,
            )

    trial = read_trial(conn, module_id, hardware_id=hw, clock=clock)
    if trial is None:
        return LicenceStatus(
            module_id,
            "expired",
            0,
            None,
            None,
            f"Module {module_id} has no trial on this PBX (it was never installed here)."
            + licence_problem,
        )
    if trial.worth_a_checkpoint():
        try:
            checkpoint(conn, module_id, hardware_id=hw, clock=clock)
        except (sqlite3.Error, OSError) as exc:
            # A full disk or a locked database must not turn a running trial off (2.6.1): the
            # trial is judged on the copies as read; the checkpoint waits for later.
            log.warning("could not note the time for the trial of %s: %s", module_id, exc)
    # The end as a date: where the wall clock will be once the trial time left has passed.
    ends = _iso_date(clock.reading().wall + TRIAL_SECONDS - trial.used)
    if not trial.authentic:
        return LicenceStatus(
            module_id,
            "expired",
            0,
            None,
            ends,
            f"The trial record on this PBX was altered (the copy in the {', '.join(trial.altered)}"
            " does not match its signature), so the trial counts as ended; verify the purchase "
            "by e-mail." + licence_problem,
        )
    if trial.running:
        days = trial.days_left
        return LicenceStatus(
            module_id,
            "trial",
            days,
            None,
            ends,
            f"Trial: {days} of {TRIAL_DAYS} days left (until about {ends})." + licence_problem,
            trial_seconds_left=trial.seconds_left,
        )
    return LicenceStatus(
        module_id,
        "expired",
        0,
        None,
        ends,
        f"The {TRIAL_DAYS}-day trial ended (on about {ends}) and there is no licence: the "
        "instances stay configured but change no call until the purchase is verified by e-mail."
        + licence_problem,
        trial_seconds_left=0,
    )


# The clock trial gates run on: `time.monotonic()`, which no wall-clock step moves. A module
# attribute (not a wrapper function) to keep the call path at one builtin call; tests that
# need days to pass replace it (tests/machine_clocks.py).
monotonic_now = time.monotonic


@dataclass(frozen=True)
class ModuleGate:
    """Whether a module's hook may act, decided in memory by one comparison.

    The 2.6.1 lesson ("Modul deaktiviert sich sporadisch nachts"): a module that is licensed
    or in its trial must never be switched off by a timer, midnight, a time zone or DST change,
    a leap day, an NTP step, a restart at night, or an unreachable licence service. So:

    - the gate is built from a `LicenceStatus` when the host starts and when a licence changes,
      never by a timer or a periodic re-check that could fail at night;
    - `allows` touches no disk, network, lock or wall clock: a licensed module is allowed
      unconditionally (a licence does not depend on the clock at all), a trial compares the
      monotonic clock (`time.monotonic`, which no wall-clock step moves) with the deadline
      the trial time left gives, so a step forward or back neither ends nor lengthens it;
    - the licence service is needed only to obtain a licence, never to keep one.
    Nothing else may deactivate a module: an expired gate comes only from a status that says
    so, with its reason.
    """

    module_id: str
    state: State
    trial_deadline: float | None  # a `time.monotonic()` reading: the trial ends there
    reason: str

    @classmethod
    def from_status(cls, status: LicenceStatus) -> ModuleGate:
        deadline = None
        if status.trial_seconds_left is not None:
            deadline = monotonic_now() + status.trial_seconds_left
        return cls(status.module_id, status.state, deadline, status.reason)

    def allows(self, at: float | None = None) -> bool:
        """True if the hook may act at the `monotonic_now()` reading `at` (default: now)."""
        if self.state == "licensed":
            return True
        if self.state == "trial" and self.trial_deadline is not None:
            return (monotonic_now() if at is None else at) < self.trial_deadline
        return False

    def seconds_left(self) -> float | None:
        """How long from now the gate allows: None for good (licensed), 0 when it does not.
        The routing core keeps this as a deadline on its own monotonic clock."""
        if self.state == "licensed":
            return None
        if self.state == "trial" and self.trial_deadline is not None:
            return max(0.0, self.trial_deadline - monotonic_now())
        return 0.0


def module_gate(conn: sqlite3.Connection, data_dir: Path, module_id: str) -> ModuleGate:
    """The gate for `module_id` as of now: `ModuleGate.from_status(licence_status(...))`."""
    return ModuleGate.from_status(licence_status(conn, data_dir, module_id))
