"""Calls in progress as Kamailio reports them (answered dialogs), and so which users are busy.

Kamailio tells the decision service when a call is answered (`dialog:start`) and when it ends
(`dialog:end`). A user with an answered call is "in a call": the routing core then sees it as
busy, so call waiting (or a module's forced call waiting) decides the next call to it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CallInProgress:
    call_id: str
    caller: str
    called: str
    users: tuple[str, ...]  # the PBX users in the call (calling phone, answering user)
    since: float  # time.time() when it was answered


class CallsInProgress:
    """Thread-safe record of answered calls; `version` changes whenever the busy set may have."""

    def __init__(self) -> None:
        self._calls: dict[str, CallInProgress] = {}
        self._lock = threading.Lock()
        self.version = 0

    def started(self, call: CallInProgress) -> None:
        with self._lock:
            self._calls[call.call_id] = call
            self.version += 1

    def ended(self, call_id: str) -> None:
        with self._lock:
            if self._calls.pop(call_id, None) is not None:
                self.version += 1

    def clear(self) -> None:
        """Forget every call (Kamailio restarted: its dialogs are gone)."""
        with self._lock:
            self._calls.clear()
            self.version += 1

    def busy_users(self) -> frozenset[str]:
        with self._lock:
            return frozenset(u for c in self._calls.values() for u in c.users)

    def snapshot(self) -> list[CallInProgress]:
        """The calls now, oldest first."""
        with self._lock:
            return sorted(self._calls.values(), key=lambda c: c.since)

    @staticmethod
    def now() -> float:
        return time.time()
