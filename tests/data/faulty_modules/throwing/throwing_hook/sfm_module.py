"""The shim of a module whose call hook raises on every call (docs/MODULE_CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MESSAGE = "the faulty test module throws on purpose"


class ThrowingHook:
    def set_instances(
        self, instances: Sequence[Mapping[str, Any]], plan: Mapping[str, str]
    ) -> dict[str, str]:
        return {}

    def on_call(self, called: str, caller: str | None) -> Any:
        raise RuntimeError(MESSAGE)


def start(api: Any) -> None:
    api.register_call_hook(ThrowingHook())
