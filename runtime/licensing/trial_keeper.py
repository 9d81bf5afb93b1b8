"""Keeps the trials' checkpoints current while the host runs, off the call path.

`TrialKeeper` is a daemon thread of `sfm serve`. Every `interval` seconds it writes a checkpoint
of every module's trial, so the time the host ran is on disk, measured by the boot clock
(`trial_clock`), and a deleted copy is restored; it writes one more when it stops (not after a
SIGTERM, which ends the process at once: that loses at most one interval of trial time and
never adds any). Once per run it also asks the vendor's licence service to register each trial
(`POST /api/v1/trial`): a second trial for the same hardware id gets the first one's start, and
the service's clock then counts. The service is asked with a short timeout from this thread
only; when it cannot be reached, nothing changes and it is asked again at the next round. No
call ever waits for any of this, and the in-memory gates are not rebuilt here (they change only
at start and on a licence change, the 2.6.1 rule).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from runtime import db
from runtime.errors import Refused
from runtime.licensing.client import DEFAULT_SERVER, post_json
from runtime.licensing.hardware_id import hardware_id as this_hardware_id
from runtime.licensing.installed import installed_module_ids
from runtime.licensing.trial import TrialState, checkpoint, known_modules
from runtime.licensing.trial_clock import SYSTEM_CLOCK, MachineClock

log = logging.getLogger(__name__)

SERVICE_VARIABLE = "SFM_LICENCE_SERVICE"
CHECKPOINT_SECONDS = 600.0
CHECKPOINT_VARIABLE = "SFM_TRIAL_CHECKPOINT_SECONDS"  # tests use seconds, not 10 minutes
SERVICE_TIMEOUT_SECONDS = 5.0


def checkpoint_interval() -> float:
    """Seconds between the keeper's checkpoints: `$SFM_TRIAL_CHECKPOINT_SECONDS`, else 600."""
    try:
        value = float(os.environ.get(CHECKPOINT_VARIABLE, ""))
    except ValueError:
        return CHECKPOINT_SECONDS
    return value if value > 0 else CHECKPOINT_SECONDS


def licence_service_url() -> str | None:
    """The licence service to register trials with: `$SFM_LICENCE_SERVICE` (empty: none),
    else the default service address."""
    value = os.environ.get(SERVICE_VARIABLE)
    if value is None:
        return DEFAULT_SERVER
    return value or None


def register_trial(
    data_dir: Path,
    module_id: str,
    server: str,
    *,
    hardware_id: str | None = None,
    clock: MachineClock = SYSTEM_CLOCK,
    timeout: float = SERVICE_TIMEOUT_SECONDS,
) -> TrialState | None:
    """Register the trial of `module_id` with the licence service and adopt its count.

    The trial time used becomes at least the service's `now - started_at`, and the start at
    most the service's. Refused when the service cannot be reached or answers nonsense (then
    nothing changed); None when this PBX has no trial of the module.
    """
    hw = this_hardware_id(data_dir, hardware_id)
    answer = post_json(
        server, "/api/v1/trial", {"module_id": module_id, "hardware_id": hw}, timeout
    )
    started, now = answer.get("started_at"), answer.get("now")
    if not isinstance(started, int) or not isinstance(now, int) or isinstance(started, bool):
        raise Refused(f"the licence service at {server} answered without a trial start")
    conn = db.connect(data_dir)
    try:
        return checkpoint(
            conn,
            module_id,
            hardware_id=hw,
            clock=clock,
            used_at_least=max(0, now - started),
            started_by=started,
        )
    finally:
        conn.close()


class TrialKeeper:
    """The background thread that checkpoints trials and registers them with the service."""

    def __init__(
        self,
        data_dir: Path,
        *,
        interval: float | None = None,
        server: str | None = None,
        clock: MachineClock = SYSTEM_CLOCK,
    ) -> None:
        self.data_dir = data_dir
        self.interval = interval if interval is not None else checkpoint_interval()
        self.server = server if server is not None else licence_service_url()
        self.clock = clock
        self._registered: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trial-keeper", daemon=True)

    def start(self) -> TrialKeeper:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after one last checkpoint."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self.round()
            if self._stop.wait(self.interval):
                self.round(register=False)
                return

    def round(self, *, register: bool = True) -> None:
        """One checkpoint of every trial (and registration of those not yet registered).
        Never raises: a failure is logged and retried at the next round."""
        try:
            conn = db.connect(self.data_dir)
            try:
                modules = sorted(set(known_modules(conn)) | set(installed_module_ids(conn)))
                for module_id in modules:
                    checkpoint(conn, module_id, clock=self.clock)
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - a keeper must not end the host
            log.warning("could not write the trial checkpoints: %s", exc)
            return
        if not register or not self.server:
            return
        for module_id in modules:
            if module_id in self._registered:
                continue
            try:
                register_trial(self.data_dir, module_id, self.server, clock=self.clock)
            except Refused as exc:
                log.info("trial of %s not registered with the licence service: %s", module_id, exc)
            except Exception as exc:  # noqa: BLE001
                log.warning("trial of %s not registered: %s", module_id, exc)
            else:
                self._registered.add(module_id)
