"""The PBX directory (INTERFACES.md): number plan, users with their state, groups, trunks.

`load_directory(path)` reads and checks a directory TOML file; anything wrong is refused with
`runtime.errors.Refused`, naming the file and the field (e.g. `users[1] (id "boss")
.redirects.always.destination`). `store_directory(path, data_dir)` checks a file and then
replaces `DATA/pbx.toml` atomically (temporary file + rename): on refusal nothing changes.

Every number is expanded into all its forms with the PBX's number plan here, on the Python
side, so the Java core needs only an exact map from form to user or group.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.pbx_number_plan import PbxNumberPlan, normalise
from sfm_format.toml_file import parse_toml, read_toml_file

STORED_NAME = "pbx.toml"
VOICEMAIL = "voicemail"
REDIRECT_KINDS = ("always", "busy", "timeout")
STRATEGIES = ("parallel", "sequential", "round_robin")
DEFAULT_TIMEOUT_SECONDS = 20

_ID = re.compile(r"^[\w][\w.@-]{0,63}\Z")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,3}\Z")
_DIGITS = re.compile(r"^[0-9]*\Z")
# A SIP password goes into Kamailio's generated configuration inside double quotes.
_SIP_PASSWORD = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{4,128}\Z")
_VOICEMAIL_URI = re.compile(r"^sips?:[A-Za-z0-9_.!~*'()&=+$,;?/%:@\[\]-]{1,200}\Z")
_HOST_PORT = re.compile(r"^(?P<host>[0-9]{1,3}(\.[0-9]{1,3}){3}):(?P<port>[0-9]{1,5})\Z")


@dataclass(frozen=True)
class RedirectSetting:
    """One redirect of a user. `destination` is "voicemail", a normalised number, or None."""

    kind: str
    enabled: bool = False
    destination: str | None = None
    seconds: int = 0


@dataclass(frozen=True)
class PbxUser:
    id: str
    name: str
    numbers: tuple[str, ...]
    dnd: bool = False
    call_waiting: bool = False
    busy: bool = False
    redirects: tuple[RedirectSetting, ...] = ()
    sip_password: str | None = None  # set: may register its first number as a SIP phone

    def redirect(self, kind: str) -> RedirectSetting:
        """The redirect of that kind ("always", "busy", "timeout"); off when not set."""
        for r in self.redirects:
            if r.kind == kind:
                return r
        return RedirectSetting(kind)


@dataclass(frozen=True)
class PbxGroup:
    id: str
    name: str
    numbers: tuple[str, ...]
    members: tuple[str, ...]
    strategy: str = "parallel"


@dataclass(frozen=True)
class PbxTrunk:
    """A SIP trunk: INVITEs from `host:port` are incoming outside calls; forwards to outside
    numbers leave through the first trunk."""

    id: str
    name: str
    host: str
    port: int


@dataclass(frozen=True)
class PbxDirectory:
    """A checked PBX directory. `number_owner` maps every form of every number to its id."""

    version: str
    plan: PbxNumberPlan
    users: tuple[PbxUser, ...]
    groups: tuple[PbxGroup, ...]
    source: str
    number_owner: Mapping[str, str] = field(default_factory=dict)
    trunks: tuple[PbxTrunk, ...] = ()
    voicemail: str | None = None  # [pbx] voicemail = "sip:..."

    def user(self, user_id: str) -> PbxUser | None:
        """The user with that id, or None."""
        for u in self.users:
            if u.id == user_id:
                return u
        return None

    def name_of(self, party_id: str) -> str:
        """The display name of a user or group ("" when it has none)."""
        for u in self.users:
            if u.id == party_id:
                return u.name
        for g in self.groups:
            if g.id == party_id:
                return g.name
        return ""


def stored_path(data_dir: Path) -> Path:
    """Where `sfm pbx load` keeps the directory in the data folder."""
    return Path(data_dir) / STORED_NAME


def stored_pbx_table(data_dir: Path) -> Mapping[str, Any]:
    """The `[pbx]` table (version, number plan) of the directory `sfm pbx load` stored, read
    without checking the rest; empty when none is loaded. Refused when it is not TOML."""
    path = stored_path(data_dir)
    if not path.is_file():
        return {}
    table = read_toml_file(path, Refused).get("pbx", {})
    return table if isinstance(table, Mapping) else {}


def load_directory(path: str | Path) -> PbxDirectory:
    """Read and check the directory file `path`; Refused names the file and the field."""
    mapping = read_toml_file(path, Refused, missing="no such PBX directory file")
    return parse_directory(mapping, str(path))


def parse_directory_text(raw: bytes, source: str) -> PbxDirectory:
    """Check the TOML text `raw` of a directory; `source` names it in messages."""
    return parse_directory(parse_toml(raw, source, Refused), source)


def load_stored_directory(data_dir: Path) -> PbxDirectory:
    """The directory last stored with `sfm pbx load`; Refused when there is none."""
    path = stored_path(data_dir)
    if not path.is_file():
        raise Refused(
            f"{data_dir}: no PBX directory loaded yet; load one with `sfm pbx load FILE`."
        )
    return load_directory(path)


def store_directory(path: str | Path, data_dir: Path) -> PbxDirectory:
    """Check `path` and make it the data folder's directory (atomic replace).

    Refused input leaves the stored directory as it was.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise Refused(f"{p}: no such PBX directory file.") from None
    except OSError as exc:
        raise Refused(f"{p}: cannot be read ({exc.strerror}).") from None
    directory = parse_directory_text(raw, str(p))
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pbx-", suffix=".toml", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, stored_path(data_dir))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return directory


# ---- checking -------------------------------------------------------------------------------


class _Checker:
    """Reads one directory mapping; every refusal names `source` and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def refuse(self, where: str, problem: str) -> Refused:
        return Refused(f"{self.source}: {where}: {problem}")

    def table(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.refuse(where, f"must be a table, not {value!r}.")
        return value

    def no_unknown(self, table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in known:
                raise self.refuse(
                    f"{where}.{key}" if where else key,
                    f"unknown field; expected one of {', '.join(known)}.",
                )

    def string(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str:
        if key not in table:
            if default is None:
                raise self.refuse(f"{where}.{key}" if where else key, "is missing.")
            return default
        value = table[key]
        if not isinstance(value, str):
            raise self.refuse(f"{where}.{key}", f"must be a quoted string, not {value!r}.")
        if pattern is not None and not pattern.match(value):
            raise self.refuse(f"{where}.{key}", f"{value!r} is not valid{hint}.")
        return value

    def boolean(self, table: Mapping[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.refuse(f"{where}.{key}", f"must be true or false, not {value!r}.")
        return value

    def strings(self, table: Mapping[str, Any], key: str, where: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.refuse(f"{where}.{key}", f"must be a list of quoted strings, not {value!r}.")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.refuse(f"{where}.{key}[{i}]", f"must be a quoted string, not {item!r}.")
        return value

    def number(self, text: str, where: str) -> str:
        try:
            return normalise(text, "number")
        except Refused as exc:
            raise self.refuse(where, str(exc)) from None


def parse_directory(mapping: Mapping[str, Any], source: str) -> PbxDirectory:
    """Check a directory mapping (parsed TOML); Refused names `source` and the field."""
    c = _Checker(source)
    c.no_unknown(mapping, ("pbx", "users", "groups", "trunks"), "")
    if "pbx" not in mapping:
        raise Refused(f"{source}: has no [pbx] table (version and number plan).")
    pbx = c.table(mapping["pbx"], "[pbx]")
    c.no_unknown(
        pbx,
        (
            "version",
            "country_code",
            "area_code",
            "international_prefix",
            "national_prefix",
            "voicemail",
        ),
        "pbx",
    )
    voicemail: str | None = None
    if "voicemail" in pbx:
        voicemail = c.string(
            pbx, "voicemail", "pbx", pattern=_VOICEMAIL_URI, hint=' (a SIP URI, e.g. "sip:vm@host")'
        )
    version = c.string(pbx, "version", "pbx", pattern=_VERSION, hint=' (e.g. "8.1.0.4")')
    digits = {}
    for key in ("country_code", "area_code", "international_prefix", "national_prefix"):
        digits[key] = c.string(pbx, key, "pbx", pattern=_DIGITS, hint=" (digits only)")
        if key != "area_code" and not digits[key]:
            raise c.refuse(f"pbx.{key}", "must not be empty.")
    if digits["national_prefix"].startswith(digits["international_prefix"]):
        raise c.refuse(
            "pbx.national_prefix",
            f"{digits['national_prefix']!r} starts with the international_prefix "
            f"{digits['international_prefix']!r}, so no national number could be told apart.",
        )
    plan = PbxNumberPlan(**digits)

    users_raw = mapping.get("users", [])
    groups_raw = mapping.get("groups", [])
    if not isinstance(users_raw, list):
        raise c.refuse("users", "must be an array of tables ([[users]]).")
    if not isinstance(groups_raw, list):
        raise c.refuse("groups", "must be an array of tables ([[groups]]).")

    seen_ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    owner_where: dict[str, str] = {}

    def claim_id(party_id: str, where: str) -> None:
        if party_id in seen_ids:
            raise c.refuse(f"{where}.id", f"{party_id!r} is already used by {seen_ids[party_id]}.")
        seen_ids[party_id] = where

    def claim_numbers(numbers: list[str], party_id: str, where: str) -> tuple[str, ...]:
        clean: list[str] = []
        for i, text in enumerate(numbers):
            at = f"{where}.numbers[{i}]"
            number = c.number(text, at)
            for form in plan.forms(number):
                if form in owner and owner[form] != party_id:
                    raise c.refuse(
                        at,
                        f"{text!r} is also a number of {owner_where[form]} (both reach {form!r}).",
                    )
                owner[form] = party_id
                owner_where[form] = f"{where.split(' ')[0]} ({party_id!r})"
            clean.append(number)
        return tuple(clean)

    users: list[PbxUser] = []
    for i, raw in enumerate(users_raw):
        where = f"users[{i}]"
        u = c.table(raw, where)
        uid = c.string(u, "id", where, pattern=_ID, hint=" (up to 64 letters, digits, _ . @ -)")
        where = f"users[{i}] (id {uid!r})"
        c.no_unknown(
            u,
            ("id", "name", "numbers", "dnd", "call_waiting", "busy", "redirects", "sip_password"),
            where,
        )
        claim_id(uid, where)
        redirects = _redirects(c, u.get("redirects", {}), f"{where}.redirects")
        users.append(
            PbxUser(
                id=uid,
                name=c.string(u, "name", where, default=""),
                numbers=claim_numbers(c.strings(u, "numbers", where), uid, where),
                dnd=c.boolean(u, "dnd", where),
                call_waiting=c.boolean(u, "call_waiting", where),
                busy=c.boolean(u, "busy", where),
                redirects=redirects,
                sip_password=_sip_password(c, u, where),
            )
        )
        if users[-1].sip_password is not None and not users[-1].numbers:
            raise c.refuse(f"{where}.sip_password", "needs a number to register with.")
    user_ids = {u.id for u in users}

    groups: list[PbxGroup] = []
    for i, raw in enumerate(groups_raw):
        where = f"groups[{i}]"
        g = c.table(raw, where)
        gid = c.string(g, "id", where, pattern=_ID, hint=" (up to 64 letters, digits, _ . @ -)")
        where = f"groups[{i}] (id {gid!r})"
        c.no_unknown(g, ("id", "name", "numbers", "members", "strategy"), where)
        claim_id(gid, where)
        members = c.strings(g, "members", where)
        for j, m in enumerate(members):
            if m not in user_ids:
                raise c.refuse(f"{where}.members[{j}]", f"{m!r} is no user of this directory.")
        strategy = c.string(g, "strategy", where, default="parallel")
        if strategy not in STRATEGIES:
            raise c.refuse(f"{where}.strategy", f"{strategy!r} is none of {', '.join(STRATEGIES)}.")
        groups.append(
            PbxGroup(
                id=gid,
                name=c.string(g, "name", where, default=""),
                numbers=claim_numbers(c.strings(g, "numbers", where), gid, where),
                members=tuple(members),
                strategy=strategy,
            )
        )
    trunks = _trunks(c, mapping.get("trunks", []), claim_id)
    return PbxDirectory(
        version=version,
        plan=plan,
        users=tuple(users),
        groups=tuple(groups),
        source=source,
        number_owner=owner,
        trunks=trunks,
        voicemail=voicemail,
    )


def _sip_password(c: _Checker, u: Mapping[str, Any], where: str) -> str | None:
    if "sip_password" not in u:
        return None
    return c.string(
        u,
        "sip_password",
        where,
        pattern=_SIP_PASSWORD,
        hint=" (4 to 128 printable characters, no space, quote or backslash)",
    )


def _trunks(c: _Checker, raw: Any, claim_id: Any) -> tuple[PbxTrunk, ...]:
    if not isinstance(raw, list):
        raise c.refuse("trunks", "must be an array of tables ([[trunks]]).")
    out: list[PbxTrunk] = []
    seen: dict[tuple[str, int], str] = {}
    for i, item in enumerate(raw):
        where = f"trunks[{i}]"
        t = c.table(item, where)
        tid = c.string(t, "id", where, pattern=_ID, hint=" (up to 64 letters, digits, _ . @ -)")
        where = f"trunks[{i}] (id {tid!r})"
        c.no_unknown(t, ("id", "name", "address"), where)
        claim_id(tid, where)
        address = c.string(t, "address", where)
        m = _HOST_PORT.match(address)
        if m is None or int(m["port"]) > 65535 or int(m["port"]) == 0:
            raise c.refuse(f"{where}.address", f"{address!r} is not an IPv4 address:port.")
        key = (m["host"], int(m["port"]))
        if key in seen:
            raise c.refuse(f"{where}.address", f"{address!r} is also the address of {seen[key]}.")
        seen[key] = where
        out.append(PbxTrunk(tid, c.string(t, "name", where, default=""), key[0], key[1]))
    return tuple(out)


def _redirects(c: _Checker, raw: Any, where: str) -> tuple[RedirectSetting, ...]:
    table = c.table(raw, where)
    c.no_unknown(table, REDIRECT_KINDS, where)
    out: list[RedirectSetting] = []
    for kind in REDIRECT_KINDS:
        if kind not in table:
            continue
        at = f"{where}.{kind}"
        r = c.table(table[kind], at)
        known = (
            ("enabled", "destination", "seconds")
            if kind == "timeout"
            else ("enabled", "destination")
        )
        c.no_unknown(r, known, at)
        enabled = c.boolean(r, "enabled", at)
        destination: str | None = None
        if "destination" in r:
            text = c.string(r, "destination", at)
            if text.strip().lower() == VOICEMAIL:
                destination = VOICEMAIL
            elif text.strip():
                destination = c.number(text, f"{at}.destination")
        if enabled and destination is None:
            raise c.refuse(f"{at}.destination", "is needed when the redirect is enabled.")
        seconds = 0
        if kind == "timeout":
            value = r.get("seconds", DEFAULT_TIMEOUT_SECONDS)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600:
                raise c.refuse(f"{at}.seconds", f"must be a whole number 1..600, not {value!r}.")
            seconds = value
        out.append(RedirectSetting(kind, enabled, destination, seconds))
    return tuple(out)
