"""The shim of a module whose call hook holds the GIL (docs/MODULE_CONTRACT.md).

Catastrophic backtracking in `re`: `(a+)+$` against "a" * N + "b" tries every split of the
a's (2**N of them) before it fails, and CPython's regex engine never releases the GIL while
it matches. No thread of the process runs Python code until it ends (far longer than any
call's budget with N = 40: hours).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

BACKTRACKING = re.compile(r"(a+)+$")
SUBJECT = "a" * 40 + "b"


class GilHoldingHook:
    def set_instances(
        self, instances: Sequence[Mapping[str, Any]], plan: Mapping[str, str]
    ) -> dict[str, str]:
        return {}

    def on_call(self, called: str, caller: str | None) -> Any:
        BACKTRACKING.match(SUBJECT)
        raise AssertionError("unreachable within any budget")


def start(api: Any) -> None:
    api.register_call_hook(GilHoldingHook())
