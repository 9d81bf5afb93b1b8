"""Which instances' effects changed a routed call (the `changed` list of `sfm call`).

`applied` names every instance whose rule matched; `changed` keeps of them only the effects
that made a difference to outcome, ringing phones or forwards, decided by routing the call
again without them (`de.sfhost.core.EffectChanges`, the same routing rules in Java).
"""

from __future__ import annotations

from typing import Any

from jpype import JArray, JClass, JString


def changed_effects(
    core: Any, caller: str | None, called: str, applied: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`[{instance, effects}]`: per applied instance, those of its effects that changed the
    call from `caller` to `called` (numbers as the core took them) routed by `core`; instances
    none of whose effects changed anything are left out."""
    asked = sorted({str(e) for entry in applied for e in entry.get("effects", ())})
    if not asked:
        return []
    effect_changes = JClass("de.sfhost.core.EffectChanges")
    names = JArray(JString)(asked)
    changed = {str(name) for name in effect_changes.changed(core, caller, called, names)}
    result = []
    for entry in applied:
        effects = [str(e) for e in entry.get("effects", ()) if str(e) in changed]
        if effects:
            result.append({"instance": str(entry.get("instance", "")), "effects": effects})
    return result
