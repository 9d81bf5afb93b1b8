"""Live state of the PBX's users: DND and redirects as the users set them while the PBX runs.

The directory file (`sfm pbx load`) loads a whole PBX; what a user switches afterwards (on the
web page, through the JSON API, with `sfm pbx user ID --dnd on`) is kept in SQLite under the
data folder and laid over the file's values. `live_directory(data_dir)` is the directory calls
are routed with; a running host picks a change up with `Host.reload_directory()`, so it takes
effect on the next call without a restart. Loading a new file clears the live state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import db
from runtime.errors import Refused
from runtime.pbx_directory import (
    REDIRECT_KINDS,
    VOICEMAIL,
    PbxDirectory,
    PbxUser,
    RedirectSetting,
    load_stored_directory,
)
from runtime.pbx_number_plan import normalise

DEFAULT_TIMEOUT_SECONDS = 20
# Touched after every change of the live state, so a running host (another process) notices
# a change with one stat() per call instead of a query.
STAMP_NAME = "pbx-live.stamp"


def stamp_path(data_dir: Path) -> Path:
    """The file whose modification time says when the live state last changed."""
    return Path(data_dir) / STAMP_NAME


def _touch(data_dir: Path) -> None:
    path = stamp_path(data_dir)
    path.touch()
    os.utime(path)  # a new mtime even within the file system's timestamp granularity


@dataclass(frozen=True)
class UserChange:
    """What to change of one user: `dnd` (None: leave), `redirects` {kind: setting}."""

    dnd: bool | None = None
    redirects: tuple[RedirectSetting, ...] = ()


def parse_redirect(text: str, current: PbxUser) -> RedirectSetting:
    """`always=202`, `busy=voicemail`, `timeout=0301234:25`, `always=off`, `always=on`.

    `on` re-enables the destination the user has; Refused names the culprit.
    """
    kind, sep, value = text.partition("=")
    kind = kind.strip().lower()
    value = value.strip()
    if not sep or kind not in REDIRECT_KINDS:
        raise Refused(
            f"--redirect {text!r}: write KIND=DESTINATION or KIND=off, KIND one of "
            f"{', '.join(REDIRECT_KINDS)} (e.g. always=202)."
        )
    have = current.redirect(kind)
    seconds = have.seconds or (DEFAULT_TIMEOUT_SECONDS if kind == "timeout" else 0)
    if value.lower() == "off":
        return RedirectSetting(kind, False, have.destination, have.seconds)
    if value.lower() == "on":
        if have.destination is None:
            raise Refused(
                f"--redirect {text!r}: user {current.id!r} has no {kind} destination to switch "
                f"on; give one (e.g. {kind}=202)."
            )
        return RedirectSetting(kind, True, have.destination, seconds)
    destination, colon, secs = value.partition(":")
    if colon:
        if kind != "timeout":
            raise Refused(f"--redirect {text!r}: only a timeout redirect has seconds.")
        if not secs.isdigit() or not 1 <= int(secs) <= 600:
            raise Refused(f"--redirect {text!r}: the seconds must be a whole number 1..600.")
        seconds = int(secs)
    if destination.strip().lower() == VOICEMAIL:
        return RedirectSetting(kind, True, VOICEMAIL, seconds)
    number = normalise(destination, f"--redirect {kind} destination")
    return RedirectSetting(kind, True, number, seconds)


def set_user_state(data_dir: Path, user_id: str, change: UserChange) -> PbxUser:
    """Store `change` for `user_id` (one transaction) and return the user as calls now see it.

    Refused (nothing stored) when there is no directory or no such user.
    """
    directory = live_directory(data_dir)
    if directory.user(user_id) is None:
        known = ", ".join(u.id for u in directory.users) or "none"
        raise Refused(f"user {user_id!r}: no such user in the PBX directory (users: {known}).")
    conn = db.connect(data_dir)
    try:
        with db.transaction(conn):
            if change.dnd is not None:
                _put(conn, user_id, "dnd", change.dnd)
            for r in change.redirects:
                _put(
                    conn,
                    user_id,
                    f"redirects.{r.kind}",
                    {"enabled": r.enabled, "destination": r.destination, "seconds": r.seconds},
                )
    finally:
        conn.close()
    _touch(data_dir)
    user = live_directory(data_dir).user(user_id)
    assert user is not None
    return user


def clear_live_state(data_dir: Path) -> None:
    """Forget every live change (a newly loaded directory file is the whole truth again)."""
    conn = db.connect(data_dir)
    try:
        with db.transaction(conn):
            conn.execute("DELETE FROM pbx_live_state")
    finally:
        conn.close()
    _touch(data_dir)


def live_directory(data_dir: Path) -> PbxDirectory:
    """The stored directory with the live state laid over it; Refused when none is loaded."""
    directory = load_stored_directory(data_dir)
    conn = db.connect(data_dir)
    try:
        rows = conn.execute("SELECT user_id, field, value FROM pbx_live_state").fetchall()
    finally:
        conn.close()
    return apply_state(directory, [(r[0], r[1], json.loads(r[2])) for r in rows])


def apply_state(directory: PbxDirectory, rows: list[tuple[str, str, Any]]) -> PbxDirectory:
    """`directory` with the given (user_id, field, value) overrides; unknown users are skipped
    (a user removed from a later file)."""
    by_user: dict[str, dict[str, Any]] = {}
    for user_id, name, value in rows:
        by_user.setdefault(user_id, {})[name] = value
    if not by_user:
        return directory
    users: list[PbxUser] = []
    for u in directory.users:
        fields = by_user.get(u.id)
        if fields is None:
            users.append(u)
            continue
        redirects = {r.kind: r for r in u.redirects}
        for kind in REDIRECT_KINDS:
            value = fields.get(f"redirects.{kind}")
            if isinstance(value, dict):
                redirects[kind] = RedirectSetting(
                    kind,
                    bool(value.get("enabled")),
                    value.get("destination"),
                    int(value.get("seconds") or 0),
                )
        dnd = fields.get("dnd", u.dnd)
        users.append(
            dataclasses.replace(
                u,
                dnd=bool(dnd),
                redirects=tuple(redirects[k] for k in REDIRECT_KINDS if k in redirects),
            )
        )
    return dataclasses.replace(directory, users=tuple(users))


def user_document(user: PbxUser) -> dict[str, Any]:
    """The JSON shape of a user's live state (CLI --json, the JSON API)."""
    return {
        "id": user.id,
        "name": user.name,
        "numbers": list(user.numbers),
        "dnd": user.dnd,
        "call_waiting": user.call_waiting,
        "sip": user.sip_password is not None,
        "redirects": {
            kind: {
                "enabled": user.redirect(kind).enabled,
                "destination": user.redirect(kind).destination,
                **({"seconds": user.redirect(kind).seconds} if kind == "timeout" else {}),
            }
            for kind in REDIRECT_KINDS
        },
    }


def _put(conn: sqlite3.Connection, user_id: str, name: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO pbx_live_state (user_id, field, value, changed_at) "
        "VALUES (?, ?, ?, datetime('now')) ON CONFLICT (user_id, field) "
        "DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
        (user_id, name, json.dumps(value)),
    )
