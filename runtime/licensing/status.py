"""The licence state of a module, and the in-memory gate the host checks on the call path.

`licence_status` reads disk (the trial row, the stored licence, the installed build's vendor
key) and is called when the host starts, when a module is installed, and after `sfm licence`
changed something, never per call. The host turns its answer into a `ModuleGate` and keeps
that in memory; the call path evaluates only `ModuleGate.allows`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runtime.errors import Refused
from runtime.licensing.hardware_id import hardware_id as this_hardware_id
from runtime.licensing.installed import installed_module, vendor_public_key
from runtime.licensing.licence import Licence, check_fits, read_licence
from runtime.licensing.licence_store import stored_licence_document
from runtime.licensing.trial import TRIAL_DAYS, epoch_of, note_time_seen, read_trial

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
    trial_ends_at: int | None = None  # epoch seconds, for the in-memory gate
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
    now: datetime | None = None,
    *,
    public_key_pem: bytes | None = None,
    build: int | None = None,
    hardware_id: str | None = None,
) -> LicenceStatus:
    """The licence state of `module_id` on this PBX at `now` (the system clock when None).

    licensed: a stored licence signed by the installed module's vendor key, for this module
    and this PBX, whose entitlement covers the installed build; the clock plays no part.
    trial: no such licence and the 14-day trial runs (counted from the first install, with the
    clock never earlier than the latest time seen). expired: otherwise, also for an altered
    trial record or licence; `reason` then says why. Never raises for bad stored data.
    `public_key_pem` and `build` default to the installed module's; `hardware_id` is for tests.
    """
    hw = this_hardware_id(data_dir, hardware_id)
    now_epoch = epoch_of(now)
    if build is None:
        installed = installed_module(conn, module_id)
        build = installed.build_number if installed else None
    if public_key_pem is None:
        public_key_pem = vendor_public_key(conn, data_dir, module_id)

    licence_problem = ""
    document = stored_licence_document(conn, module_id)
    if document is not None:
        try:
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

    trial = read_trial(conn, module_id, hardware_id=hw)
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
    if not trial.authentic:
        return LicenceStatus(
            module_id,
            "expired",
            0,
            None,
            _iso_date(trial.ends_at),
            "The trial record on this PBX was altered (its signature does not match), so the "
            "trial counts as ended; verify the purchase by e-mail." + licence_problem,
        )
    try:
        note_time_seen(conn, module_id, now_epoch, hardware_id=hw)
    except (sqlite3.Error, OSError) as exc:
        # A full disk or a locked database must not turn a running trial off (2.6.1): the
        # trial is judged on the record as read; only the latest-seen mark waits for later.
        log.warning("could not note the time for the trial of %s: %s", module_id, exc)
    if trial.running(now_epoch):
        days = trial.days_left(now_epoch)
        return LicenceStatus(
            module_id,
            "trial",
            days,
            None,
            _iso_date(trial.ends_at),
            f"Trial: {days} of {TRIAL_DAYS} days left (until {_iso_date(trial.ends_at)})."
            + licence_problem,
            trial_ends_at=trial.ends_at,
        )
    return LicenceStatus(
        module_id,
        "expired",
        0,
        None,
        _iso_date(trial.ends_at),
        f"The {TRIAL_DAYS}-day trial ended on {_iso_date(trial.ends_at)} and there is no "
        "licence: the instances stay configured but change no call until the purchase is "
        "verified by e-mail." + licence_problem,
        trial_ends_at=trial.ends_at,
    )


@dataclass(frozen=True)
class ModuleGate:
    """Whether a module's hook may act, decided in memory by one comparison.

    The 2.6.1 lesson ("Modul deaktiviert sich sporadisch nachts"): a module that is licensed
    or in its trial must never be switched off by a timer, midnight, a time zone or DST change,
    a leap day, an NTP step, a restart at night, or an unreachable licence service. So:

    - the gate is built from a `LicenceStatus` when the host starts and when a licence changes,
      never by a timer or a periodic re-check that could fail at night;
    - `allows` touches no disk, network, lock or local time: a licensed module is allowed
      unconditionally (a licence does not depend on the clock at all), a trial compares UTC
      epoch seconds with the trial's fixed end (time zones and DST do not exist for it, and a
      clock step can only reach the real end, never an earlier one);
    - the licence service is needed only to obtain a licence, never to keep one.
    Nothing else may deactivate a module: an expired gate comes only from a status that says
    so, with its reason.
    """

    module_id: str
    state: State
    trial_ends_at: float | None
    reason: str

    @classmethod
    def from_status(cls, status: LicenceStatus) -> ModuleGate:
        return cls(status.module_id, status.state, status.trial_ends_at, status.reason)

    def allows(self, now_epoch: float) -> bool:
        """True if the hook may act at `now_epoch` (seconds since the epoch, UTC)."""
        if self.state == "licensed":
            return True
        if self.state == "trial" and self.trial_ends_at is not None:
            return now_epoch < self.trial_ends_at
        return False


def module_gate(
    conn: sqlite3.Connection, data_dir: Path, module_id: str, now: datetime | None = None
) -> ModuleGate:
    """The gate for `module_id` as of now: `ModuleGate.from_status(licence_status(...))`."""
    return ModuleGate.from_status(licence_status(conn, data_dir, module_id, now))
