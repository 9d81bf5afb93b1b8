"""The decision service: Kamailio asks it, per INVITE, what the routing core decides.

Kamailio's `http_client_query` sends `GET /decide?caller=..&called=..&callid=..` over a kept-alive
loopback connection; the answer is one line of `key=value;` pairs that Kamailio's `param.value`
transformation reads (no JSON parser needed in Kamailio):

    act=ring|forward|busy|voicemail|plain   what to do now
    aors=201.202   users=boss,sec           ring these registration names (the users' first numbers)
    to=0049301234                           forward: the outside number (through the first trunk)
    div=201  dname=Max%20Mustermann         Diversion: the originally called number and display
    cname=Max%20Mustermann                  the display of the called party (for a later redirect)
    tsec=20 tact=.. taors=.. tto=..         after tsec seconds without answer: the TIMEOUT redirect
    bact=.. baors=.. bto=..                 when the phone answers 486: the BUSY redirect

An unused key is "-". `plain` (and any answer Kamailio cannot read, or none within its
budget) rings the called number plainly: the call always goes through.
`GET /event?kind=start|end&callid=..` tells the service that a call was answered or ended
(calls.py), which is how users become busy.

Why HTTP from Kamailio, not Python inside Kamailio: a module hook may hold the Python GIL for
seconds; Kamailio's HTTP query then times out and the call still rings, while Kamailio itself
never waits on Python. The service runs in the host's process so that it routes through the
same Host (every installed module's hook) as `sfm call` and the web page.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from runtime.errors import Refused
from runtime.pbx_directory import VOICEMAIL, PbxDirectory, RedirectSetting
from runtime.pbx_number_plan import is_withheld
from runtime.sip.calls import CallInProgress, CallsInProgress

log = logging.getLogger("sfm.sip")

ANSWER_KEYS = (
    "act", "aors", "users", "to", "div", "dname", "cname",
    "tsec", "tact", "taors", "tto", "bact", "baors", "bto",
)  # fmt: skip


class RoutingLike(Protocol):
    """What the service needs of `runtime.shim.RoutingHost`."""

    @property
    def directory(self) -> PbxDirectory | None: ...

    def load_directory(self, directory: PbxDirectory) -> None: ...


class HostLike(Protocol):
    """What the service needs of `runtime.host.Host`: its public routing entry."""

    routing: Any

    def route(
        self, caller: str | None, called: str, *, with_changes: bool = True
    ) -> dict[str, Any]: ...

    def reload_live_state(self) -> None: ...


def answer_line(fields: dict[str, str]) -> str:
    """The `key=value;` line Kamailio reads; every key present, "-" when unused (Kamailio's
    `param.value` reads no pair of an answer that has an empty value)."""
    return ";".join(f"{k}={fields.get(k) or '-'}" for k in ANSWER_KEYS)


class Decider:
    """Turns the routing core's decision into what Kamailio carries out.

    The users' busy state comes from the calls in progress: before a call is routed, the
    core's directory is the host's (with the live DND/redirects) plus "busy" for every user
    in a call; it is swapped only when that set changed.
    """

    def __init__(
        self, host: HostLike, calls: CallsInProgress, live_stamp: Path | None = None
    ) -> None:
        self.host = host
        self.calls = calls
        # `sfm pbx user` and the phones page touch this file after a change of the live state
        # (DND, redirects): the host then reloads its directory before the next call.
        self._live_stamp_path = live_stamp
        self._live_stamp = self._stamp()
        self._lock = threading.Lock()
        self._applied: PbxDirectory | None = None  # the directory we gave the core
        self._base: PbxDirectory | None = None  # the host's directory under our busy flags
        self._busy: frozenset[str] = frozenset()
        self.decided = 0
        self.fallbacks = 0

    def _stamp(self) -> int:
        if self._live_stamp_path is None:
            return 0
        try:
            return self._live_stamp_path.stat().st_mtime_ns
        except OSError:
            return 0

    # ---- busy state ---------------------------------------------------------------------

    def _sync_busy(self) -> PbxDirectory | None:
        stamp = self._stamp()
        if stamp != self._live_stamp:
            self._live_stamp = stamp
            self.host.reload_live_state()  # the directory only: about a millisecond
        routing = self.host.routing
        current = routing.directory
        busy = self.calls.busy_users()
        if current is self._applied and busy == self._busy:
            return current
        with self._lock:
            current = routing.directory
            if current is None:
                return None
            if current is not self._applied:
                self._base = current  # the host reloaded its directory (e.g. live DND change)
            base = self._base
            assert base is not None
            if current is self._applied and busy == self._busy:
                return current
            users = tuple(
                dataclasses.replace(u, busy=True) if u.id in busy and not u.busy else u
                for u in base.users
            )
            overlay = dataclasses.replace(base, users=users) if busy else base
            routing.load_directory(overlay)
            self._applied = overlay
            self._busy = busy
            return overlay

    # ---- deciding -----------------------------------------------------------------------

    def decide(self, caller: str, called: str) -> str:
        """The answer line for one INVITE (never raises: a fault answers `plain`)."""
        try:
            directory = self._sync_busy()
            if directory is None:
                raise Refused("no PBX directory is loaded")
            # A real call needs the decision only, not which effects changed it.
            doc = self.host.route(
                None if is_withheld(caller) else caller, called, with_changes=False
            )
            fields = self._fields(directory, caller, called, doc)
        except Refused as exc:
            self.fallbacks += 1
            log.warning("sip: call from %s to %s rings plainly: %s", caller, called, exc)
            return answer_line({"act": "plain"})
        except Exception as exc:  # the call always goes through; the log says why
            self.fallbacks += 1
            log.error(
                "sip: call from %s to %s rings plainly: the decision failed (%s: %s)",
                caller, called, type(exc).__name__, exc,
            )  # fmt: skip
            return answer_line({"act": "plain"})
        self.decided += 1
        return answer_line(fields)

    def _fields(
        self, directory: PbxDirectory, caller: str, called: str, doc: dict[str, Any]
    ) -> dict[str, str]:
        outcome = doc.get("outcome")
        rings = [str(r) for r in doc.get("rings") or []]
        forwarded = [str(n) for n in doc.get("forwarded_to") or []]
        fields: dict[str, str] = {}
        if forwarded or outcome == "voicemail":
            display = (
                doc.get("originally_called")
                or directory.name_of(directory.number_owner.get(called, ""))
                or called
            )
            fields["div"] = called
            fields["dname"] = _display(str(display))
        owner = directory.number_owner.get(called)
        fields["cname"] = _display((directory.name_of(owner) if owner else "") or called)
        if outcome in ("ring", "waiting"):
            fields["act"] = "ring"
            fields["aors"] = ".".join(_aors(directory, rings))
            fields["users"] = ",".join(rings)
            target = directory.number_owner.get(called)
            if len(rings) == 1 and directory.user(target or "") is not None:
                self._missed(directory, caller, doc, rings[0], target == rings[0], fields,
                             busy_too=outcome == "ring")  # fmt: skip
        elif outcome == "forward" and forwarded:
            fields["act"] = "forward"
            fields["to"] = forwarded[-1]
        elif outcome == "busy":
            fields["act"] = "busy"
        elif outcome == "voicemail":
            fields["act"] = "voicemail"
        else:
            raise Refused(f"the routing core answered {outcome!r}, which the SIP front lacks")
        return fields

    def _missed(
        self,
        directory: PbxDirectory,
        caller: str,
        doc: dict[str, Any],
        user_id: str,
        is_target: bool,
        fields: dict[str, str],
        *,
        busy_too: bool,
    ) -> None:
        """The TIMEOUT (and BUSY) redirect that takes over if the ringing user does not
        answer (or the phone says busy), with the module effects the core reported."""
        user = directory.user(user_id)
        assert user is not None
        effects: list[Iterable[str]] = (
            [a.get("effects") or () for a in doc.get("applied") or []] if is_target else []
        )
        for kind, prefix in (("timeout", "t"), ("busy", "b")):
            if kind == "busy" and not busy_too:
                continue  # a waiting call: call waiting is on, the BUSY redirect is not used
            r = _effective(directory, user.redirect(kind), caller, user_id, effects)
            if r is None or r.destination is None:
                continue
            act, aors, to = self._next(directory, caller, r.destination)
            fields[f"{prefix}act"], fields[f"{prefix}aors"], fields[f"{prefix}to"] = act, aors, to
            if kind == "timeout":
                fields["tsec"] = str(r.seconds)

    def _next(self, directory: PbxDirectory, caller: str, destination: str) -> tuple[str, str, str]:
        if destination == VOICEMAIL:
            return "voicemail", "", ""
        if directory.number_owner.get(destination) is None:
            return "forward", "", destination
        doc = self.host.route(
            None if is_withheld(caller) else caller, destination, with_changes=False
        )
        outcome = doc.get("outcome")
        if outcome in ("ring", "waiting"):
            return "ring", ".".join(_aors(directory, doc.get("rings") or [])), ""
        if outcome == "forward" and doc.get("forwarded_to"):
            return "forward", "", str(doc["forwarded_to"][-1])
        return str(outcome), "", ""

    # ---- events -------------------------------------------------------------------------

    def event(self, query: dict[str, str]) -> None:
        kind = query.get("kind", "")
        call_id = query.get("callid", "")
        if not call_id:
            return
        if kind == "start":
            # Kamailio prints an unset dialog variable as "<null>" (a call from a trunk).
            users = [u for u in query.get("users", "").split(",") if u and u != "<null>"]
            callee = [u for u in query.get("callee", "").split(",") if u and u != "<null>"]
            if len(callee) == 1:  # a group's ringing: who answered is not told; none is busy
                users += callee
            self.calls.started(
                CallInProgress(
                    call_id,
                    query.get("caller", ""),
                    query.get("called", ""),
                    tuple(dict.fromkeys(users)),
                    CallsInProgress.now(),
                )
            )
        elif kind == "end":
            self.calls.ended(call_id)


def _aors(directory: PbxDirectory, user_ids: Iterable[str]) -> list[str]:
    out: list[str] = []
    for uid in user_ids:
        user = directory.user(str(uid))
        if user is not None and user.numbers:
            out.append(user.numbers[0])
    return out


def _display(name: str) -> str:
    clean = "".join(ch for ch in name if ch not in '"\\\r\n;')[:64]
    return quote(clean, safe="")


def _effective(
    directory: PbxDirectory,
    r: RedirectSetting,
    caller: str,
    user_id: str,
    effects: list[Iterable[str]],
) -> RedirectSetting | None:
    """The redirect if it applies to this call (the core's rules for the module effects)."""
    if not r.enabled or r.destination is None:
        return None
    if r.destination != VOICEMAIL and directory.number_owner.get(r.destination) == user_id:
        return None  # a forward to oneself is a loop, never followed
    sets = [set(e) for e in effects]
    if any("bypass_redirects" in e and "bypass_self_redirects_only" not in e for e in sets):
        return None
    if any("bypass_self_redirects_only" in e for e in sets) and _leads_to(
        directory, r.destination, caller
    ):
        return None
    return r


def _leads_to(directory: PbxDirectory, destination: str, caller: str) -> bool:
    if destination == VOICEMAIL or is_withheld(caller):
        return False
    try:
        forms = directory.plan.forms(destination)
    except Refused:
        return False
    if caller in forms:
        return True
    owner = directory.number_owner.get(destination)
    return owner is not None and directory.number_owner.get(caller) == owner


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per Kamailio worker
    decider: Decider
    connections: set[Any]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle and the peer's
        # delayed ACK hold the body back ~40 ms on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections.add(self.connection)

    def finish(self) -> None:
        self.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/decide":
            body = self.decider.decide(query.get("caller", ""), query.get("called", ""))
        elif url.path == "/event":
            self.decider.event(query)
            body = "ok"
        elif url.path == "/health":
            body = "ok"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # one line per call would be noise; decisions log what matters


class DecisionServer:
    """The decision service on 127.0.0.1 (port 0: a free one), one thread per connection."""

    def __init__(self, decider: Decider, port: int = 0) -> None:
        self._connections: set[Any] = set()
        handler = type(
            "DecisionHandler", (_Handler,), {"decider": decider, "connections": self._connections}
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="sip-decision", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop answering (Kamailio then rings plainly) and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        for conn in list(self._connections):  # kept-alive connections end too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
