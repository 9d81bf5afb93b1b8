"""The PBX directory as the Java routing core takes it (`de.sfhost.core.Directory`)."""

from __future__ import annotations

from typing import Any

import jpype

from runtime.errors import Refused
from runtime.jvm import ensure_jvm
from runtime.pbx_directory import VOICEMAIL, PbxDirectory


def java_directory(directory: PbxDirectory) -> Any:
    """The Java `de.sfhost.core.Directory` of a PBX directory (Refused naming the file when
    the core refuses it)."""
    ensure_jvm()
    directory_class = jpype.JClass("de.sfhost.core.Directory")
    strings = jpype.JArray(jpype.JString)
    illegal_argument = jpype.JClass("java.lang.IllegalArgumentException")
    builder = directory_class.builder()
    plan = directory.plan
    for u in directory.users:
        builder.addUser(u.id, u.name, u.dnd, u.call_waiting, u.busy)
        if u.numbers:
            builder.setFirstNumber(u.id, u.numbers[0])  # the SIP front rings it
        for r in u.redirects:
            forms: list[str] = []
            if r.destination is not None and r.destination != VOICEMAIL:
                forms = list(plan.forms(r.destination))
            builder.setRedirect(
                u.id, r.kind.upper(), r.enabled, r.destination, strings(forms), r.seconds
            )
    for g in directory.groups:
        builder.addGroup(g.id, g.name, g.strategy, strings(list(g.members)))
    for form, party_id in directory.number_owner.items():
        builder.addNumber(form, party_id)
    try:
        return builder.build()
    except illegal_argument as exc:
        raise Refused(f"{directory.source}: {exc.getMessage()}") from None
