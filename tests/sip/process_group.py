"""The processes of a process group, read from /proc (Kamailio and its children share one)."""

from __future__ import annotations

import os


def members(pgid: int) -> list[int]:
    """The live processes whose process group is `pgid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) == pgid:
                found.append(int(entry))
        except OSError:
            continue  # it ended meanwhile
    return found


def policies(pgid: int) -> set[tuple[int, int]]:
    """Every (scheduling policy without the reset-on-fork flag, priority) in the group."""
    out = set()
    for pid in members(pgid):
        try:
            policy = os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK
            out.add((policy, os.sched_getparam(pid)[0]))
        except OSError:
            continue
    return out
