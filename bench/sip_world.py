"""The outside world of bench/sip.py: the phone, the callers and the stopwatch.

Each runs in a session of its own, as Kamailio does: the kernel schedules the processes of a
session as one group (autogroup) against the other sessions, so in the host's session they
would be counted into the PBX host's share of the CPU, which real phones, trunks and a
stopwatch are not. The callers' group yields to the PBX (nice 10).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.sip.sipp import SIPP, SipTarget

ROOT = Path(__file__).resolve().parent.parent


def start_phone(folder: Path, port: int, priority: int | None = None) -> subprocess.Popen[bytes]:
    """sipp as a phone on `port` with the scenario `folder`/phone.xml (rings and answers); with
    `priority`, at SCHED_FIFO with it (the priority Kamailio runs at: see bench/sip.py)."""

    def place() -> None:
        if priority is not None:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))

    return subprocess.Popen(
        [
            SIPP,
            "-sf",
            str(folder / "phone.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-nostdin",
            "-default_behaviors",
            "bye,pingreply",  # not abortunexp: a 180 overtaken by its 200 is no failed call
        ],  # fmt: skip
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=place,
    )


def place_calls(
    folder: Path,
    target: SipTarget,
    trunk_port: int,
    scenario: Path,
    *,
    rate: int,
    total: int,
    seconds: int,
) -> subprocess.CompletedProcess[str]:
    """sipp as the trunk: `total` calls at `rate` per second; its statistics land in `folder`."""
    caller = subprocess.Popen(
        [
            # The callers are the outside world, not the PBX: their sipp yields the CPU to it
            # (its own timing is not measured; the wire timing starts at its INVITE).
            "nice",
            "-n",
            "10",
            SIPP,
            target.address,
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(trunk_port),
            "-r",
            str(rate),
            "-m",
            str(total),
            "-l",
            str(rate * 4),
            "-nostdin",
            "-trace_rtt",
            "-rtt_freq",
            "1",
            "-timeout",
            f"{seconds * 3 + 30}s",
            "-trace_stat",
            "-trace_err",
            "-timeout_error",
            "-default_behaviors",
            "bye,pingreply",
            "-fd",
            "1",
        ],  # fmt: skip
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield_to_the_pbx(caller.pid)
        out, err = caller.communicate()
    except BaseException:  # its own session: Ctrl-C does not reach it
        caller.kill()
        caller.wait()
        raise
    return subprocess.CompletedProcess(caller.args, caller.returncode, out, err)


def yield_to_the_pbx(pid: int) -> None:
    """Give the session of `pid` (its autogroup) the weight of nice 10, where the kernel has
    autogroups: the nice of a process only counts inside its session's group."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text("10", encoding="ascii")


class WireTiming:
    """bench/wire_timing.py in a process of its own (not to share the host's GIL), watching
    the calling sipp's port from now until `stop`."""

    def __init__(self, caller: int, phone: int, decision: int | None) -> None:
        ports = [caller, phone] if decision is None else [caller, phone, decision]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.wire_timing", *map(str, ports)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready", "the wire timing did not start"

    def kill(self) -> None:
        """End it without a summary (its own session: Ctrl-C does not reach it)."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> dict[str, Any]:
        """The summary: calls, rung, p50_us, p99_us, max_us, steps, dropped."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        summary: dict[str, Any] = json.loads(out)
        return summary
