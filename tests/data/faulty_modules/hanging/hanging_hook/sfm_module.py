"""The shim of a module whose call hook never returns (docs/MODULE_CONTRACT.md).

It waits on an event nobody sets: the GIL is released while it waits, like a hook stuck on
a network read without a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

NEVER = threading.Event()


class HangingHook:
    def set_instances(
        self, instances: Sequence[Mapping[str, Any]], plan: Mapping[str, str]
    ) -> dict[str, str]:
        return {}

    def on_call(self, called: str, caller: str | None) -> Any:
        NEVER.wait()
        raise AssertionError("unreachable: nobody sets the event")


def start(api: Any) -> None:
    api.register_call_hook(HangingHook())
