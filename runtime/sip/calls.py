"""Calls in progress as Kamailio reports them (answered dialogs), and so which users are busy.

Kamailio tells the host when a call is answered (`dialog:start`) and when it ends
(`dialog:end`), over evapi to the Java side (`de.sfhost.sip.CallEvents`), which keeps the calls
(`de.sfhost.sip.CallsInProgress`). A user with an answered call is "in a call": the decider then
routes it as busy, so call waiting (or a module's forced call waiting) decides the next call
to it. This is the Python view of that record, for the web page and the JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jpype

from runtime.jvm import ensure_jvm


@dataclass(frozen=True)
class CallInProgress:
    call_id: str
    caller: str
    called: str
    users: tuple[str, ...]  # the PBX users in the call (calling phone, answering user)
    since: float  # time.time() when it was answered


class CallsInProgress:
    """The Java record of answered calls (thread-safe there), read from Python."""

    def __init__(self) -> None:
        ensure_jvm()
        self.java: Any = jpype.JClass("de.sfhost.sip.CallsInProgress")()

    def clear(self) -> None:
        """Forget every call (Kamailio restarted: its dialogs are gone)."""
        self.java.clear()

    def busy_users(self) -> frozenset[str]:
        return frozenset(str(u) for u in self.java.busyUsers())

    def snapshot(self) -> list[CallInProgress]:
        """The calls now, oldest first."""
        return [
            CallInProgress(
                str(c.callId),
                str(c.caller),
                str(c.called),
                tuple(str(u) for u in c.users),
                float(c.since),
            )
            for c in self.java.snapshot()
        ]
