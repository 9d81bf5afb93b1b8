"""How processes and threads are scheduled, read back from the kernel (/proc and
sched_getscheduler): the tests' view of runtime/realtime.py's promises."""

from __future__ import annotations

import os


def policy(tid: int) -> tuple[int, int]:
    """The thread's scheduling policy (without the reset-on-fork flag) and its priority."""
    return os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK, os.sched_getparam(tid)[0]


def group_members(pgid: int) -> list[int]:
    """The live processes whose process group is `pgid` (Kamailio and its children share one)."""
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


def group_policies(pgid: int) -> set[tuple[int, int]]:
    """Every (policy, priority) among the processes of the group."""
    out = set()
    for pid in group_members(pgid):
        try:
            out.add(policy(pid))
        except OSError:
            continue  # it ended meanwhile
    return out
