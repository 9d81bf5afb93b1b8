"""Where a trial's checkpoints are kept: three copies, each signed, so deleting one restores
from the others.

1. the database row `licence_trials` (signed with the PBX key, `pbx_key`);
2. `DATA/licensing/trials/<module id>.json` in the data folder (signed with the PBX key);
3. `STATE/trials/<hardware id>/<module id>.json` outside the data folder, in the user's state
   folder (`$SFM_STATE_DIR`, else `$XDG_STATE_HOME/sfm`, else `~/.local/state/sfm`), signed
   with a key kept there (`STATE/state.key`). It survives a new data folder and a deleted
   `pbx.key`; it is the one thing of ours written outside `--data` (docs/LICENSING.md).

A copy whose signature does not match is reported as altered (`None` in `Found.checkpoint`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from runtime.licensing.data_folder import licensing_dir, write_once
from runtime.licensing.pbx_key import pbx_key, sign, signature_matches

log = logging.getLogger(__name__)

STATE_DIR_VARIABLE = "SFM_STATE_DIR"
STATE_KEY_FILE = "state.key"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Checkpoint:
    """A trial's state as of one moment: its used time and the clocks that moment."""

    module_id: str
    hardware_id: str
    started_at: int  # wall clock at the first install (shown; the end is counted by `used`)
    used: int  # trial seconds consumed up to this checkpoint
    wall: int
    boot_id: str
    since_boot: int

    def message(self) -> str:
        return (
            f"trial/v2|{self.module_id}|{self.hardware_id}|{self.started_at}|{self.used}|"
            f"{self.wall}|{self.boot_id}|{self.since_boot}"
        )


@dataclass(frozen=True)
class Found:
    """One copy of a trial as read: its checkpoint, or None when it was altered."""

    place: str
    checkpoint: Checkpoint | None


def user_state_dir() -> Path:
    """The folder outside the data folder that keeps the third copy of every trial."""
    given = os.environ.get(STATE_DIR_VARIABLE, "")
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "sfm"


def _file_name(module_id: str) -> str:
    if _SAFE_NAME.match(module_id):
        return f"{module_id}.json"
    return hashlib.sha256(module_id.encode()).hexdigest()[:32] + ".json"


def _state_key(hw: str) -> bytes:
    folder = user_state_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = write_once(folder / STATE_KEY_FILE, secrets.token_hex(32).encode())
    return hmac.new(secret.strip(), hw.encode(), hashlib.sha256).digest()


def _data_file(data_dir: Path, module_id: str) -> Path:
    return data_dir / "licensing" / "trials" / _file_name(module_id)


def _state_file(hw: str, module_id: str) -> Path:
    return user_state_dir() / "trials" / hw / _file_name(module_id)


# ---- reading ------------------------------------------------------------------------------


def _row(conn: sqlite3.Connection, data_dir: Path, module_id: str, hw: str) -> Found | None:
    row = conn.execute(
        "SELECT started_at, latest_seen, mac, used, boot_id, since_boot FROM licence_trials"
        " WHERE module_id = ? AND hardware_id = ?",
        (module_id, hw),
    ).fetchone()
    if row is None:
        return None
    started, wall, mac, used, boot_id, since_boot = (
        int(row[0]),
        int(row[1]),
        str(row[2]),
        int(row[3]),
        str(row[4]),
        int(row[5]),
    )
    key = pbx_key(data_dir, hw)
    if used < 0:  # written before the used-time evidence (migration 0101)
        legacy = f"trial/v1|{module_id}|{hw}|{started}|{wall}"
        point = Checkpoint(module_id, hw, started, max(0, wall - started), wall, "", 0)
        return Found("database", point if signature_matches(key, legacy, mac) else None)
    point = Checkpoint(module_id, hw, started, used, wall, boot_id, since_boot)
    return Found("database", point if signature_matches(key, point.message(), mac) else None)


def _file(path: Path, key: bytes, place: str, module_id: str, hw: str) -> Found | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read the trial copy %s: %s", path, exc)
        return Found(place, None)
    try:
        doc = json.loads(text)
        mac = str(doc.pop("mac"))
        point = Checkpoint(**doc)
    except (ValueError, TypeError, KeyError, AttributeError):
        return Found(place, None)
    if point.module_id != module_id or point.hardware_id != hw:
        return None  # another module's or another machine's record: not this trial's copy
    return Found(place, point if signature_matches(key, point.message(), mac) else None)


def read_copies(conn: sqlite3.Connection, data_dir: Path, module_id: str, hw: str) -> list[Found]:
    """Every copy of the trial of `module_id` on this machine that exists (maybe none)."""
    found = [_row(conn, data_dir, module_id, hw)]
    found.append(
        _file(_data_file(data_dir, module_id), pbx_key(data_dir, hw), "data folder", module_id, hw)
    )
    try:
        state_key = _state_key(hw)
    except OSError as exc:
        log.warning("the trial copy outside the data folder cannot be read: %s", exc)
    else:
        found.append(_file(_state_file(hw, module_id), state_key, "state folder", module_id, hw))
    return [f for f in found if f is not None]


# ---- writing ------------------------------------------------------------------------------


def write_row(conn: sqlite3.Connection, data_dir: Path, point: Checkpoint) -> None:
    """Insert or replace the database copy (the caller holds the transaction)."""
    mac = sign(pbx_key(data_dir, point.hardware_id), point.message())
    conn.execute(
        "INSERT OR REPLACE INTO licence_trials"
        " (module_id, hardware_id, started_at, latest_seen, mac, used, boot_id, since_boot)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            point.module_id,
            point.hardware_id,
            point.started_at,
            point.wall,
            mac,
            point.used,
            point.boot_id,
            point.since_boot,
        ),
    )


def _write_json(path: Path, point: Checkpoint, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {**asdict(point), "mac": sign(key, point.message())}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_files(data_dir: Path, point: Checkpoint) -> None:
    """Write the data-folder and the state-folder copy; a copy that cannot be written is
    logged and skipped (the others still hold the trial)."""
    hw = point.hardware_id
    licensing_dir(data_dir)
    targets = [(_data_file(data_dir, point.module_id), lambda: pbx_key(data_dir, hw))]
    targets.append((_state_file(hw, point.module_id), lambda: _state_key(hw)))
    for path, key in targets:
        try:
            _write_json(path, point, key())
        except OSError as exc:
            log.warning("could not write the trial copy %s: %s", path, exc)
