"""`sfm serve --sip HOST:PORT`: the decision service and a supervised Kamailio, as one part.

`SipFront(host, data_dir, address).start()` reads the host's directory (with live state),
starts the decision service on a free loopback port, writes Kamailio's configuration into
DATA/sip/ and starts Kamailio; `stop()` ends both. The web page and the JSON API read
`registrations()` and `calls.snapshot()`. When the host was opened with a `RealtimeCalls`
(`sfm serve --sip` does so where the kernel allows), the decision threads run on its real-time
call path, and Kamailio's processes below them (runtime/realtime.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.realtime import KAMAILIO_PRIORITY, RealtimeCalls
from runtime.sip.calls import CallsInProgress
from runtime.sip.decision import Decider, DecisionServer, HostLike
from runtime.sip.kamailio import Kamailio, SipAddress, free_tcp_port, render_config

log = logging.getLogger("sfm.sip")


@dataclass(frozen=True)
class Registration:
    """A registered phone: the user's registration name (first number) and its contact."""

    aor: str
    contact: str
    expires: int
    user_agent: str


class SipFront:
    """The SIP front of one host; see the module docstring."""

    def __init__(
        self,
        host: HostLike,
        data_dir: Path,
        address: SipAddress,
        *,
        children: int = 8,
        fixed_decision: bool = False,
    ) -> None:
        self.host = host
        self.data_dir = Path(data_dir)
        self.address = address
        self.children = children
        self.fixed_decision = fixed_decision
        self.calls = CallsInProgress()
        from runtime.pbx_live import stamp_path

        self.decider = Decider(host, self.calls, stamp_path(self.data_dir))
        self.decision: DecisionServer | None = None
        self.kamailio: Kamailio | None = None
        self._decision_port: int | None = None
        self.events: Any = None  # de.sfhost.sip.CallEvents, once started

    @property
    def realtime(self) -> RealtimeCalls | None:
        """Where the decisions run (the host's choice, runtime/realtime.py; None: normal)."""
        realtime: RealtimeCalls | None = self.host.routing.realtime
        return realtime

    @property
    def folder(self) -> Path:
        return self.data_dir / "sip"

    def start(self) -> None:
        """Start the decision service and Kamailio; Refused when no directory is loaded."""
        directory = self.host.routing.directory
        if directory is None:
            raise Refused(
                "--sip: no PBX directory is loaded; load one with `sfm pbx load FILE` first."
            )
        self.decision = DecisionServer(self.decider, realtime=self.realtime)
        self.decision.start()
        self._decision_port = self.decision.port
        rpc_port = free_tcp_port()
        event_port = free_tcp_port()
        config = render_config(
            directory,
            self.address,
            rpc_port=rpc_port,
            decision_port=self.decision.port,
            event_port=event_port,
            children=self.children,
            fixed_decision=self.fixed_decision,
            realtime_priority=None if self.realtime is None else KAMAILIO_PRIORITY,
        )
        self.kamailio = Kamailio(self.folder, config, rpc_port, on_restart=self.calls.clear)
        try:
            self.kamailio.start()
        except BaseException:
            self.decision.stop()
            raise
        import jpype

        self.events = jpype.JClass("de.sfhost.sip.CallEvents")(event_port, self.decider.java)
        self.events.start(5000)
        with _running_lock:
            _running[self.data_dir.resolve()] = self
        log.warning(
            "sip: Kamailio (pid %s) takes SIP calls on udp:%s:%s",
            self.kamailio.pid, self.address.host, self.address.port,
        )  # fmt: skip

    def stop_decisions(self) -> None:
        """Stop the decision service only (Kamailio then rings the called users plainly)."""
        if self.decision is not None:
            self.decision.stop()
            self.decision = None

    @property
    def decision_port(self) -> int | None:
        """The decision service's port (Kamailio's configuration names it)."""
        return self._decision_port

    def resume_decisions(self) -> None:
        """Start the decision service again on its port (after `stop_decisions`)."""
        if self.decision is None and self._decision_port is not None:
            self.decision = DecisionServer(
                self.decider, port=self._decision_port, realtime=self.realtime
            )
            self.decision.start()

    def stop(self) -> None:
        """Stop Kamailio and the decision service."""
        with _running_lock:
            if _running.get(self.data_dir.resolve()) is self:
                del _running[self.data_dir.resolve()]
        if self.kamailio is not None:
            self.kamailio.stop()
        if self.events is not None:
            self.events.stop()
        with contextlib.suppress(Exception):
            self.stop_decisions()
        self.decider.close()

    def registrations(self) -> list[Registration]:
        """The registered phones now (from Kamailio's location table); [] if it cannot say."""
        if self.kamailio is None:
            return []
        try:
            result = self.kamailio.rpc("ul.dump")
        except Exception as exc:  # Kamailio restarting: the page says "none" for a moment
            log.info("sip: registrations not readable now (%s)", exc)
            return []
        return parse_ul_dump(result)


_running: dict[Path, SipFront] = {}
_running_lock = threading.Lock()


def running_front(data_dir: Path) -> SipFront | None:
    """The SipFront this process started for `data_dir` (None without `--sip`)."""
    with _running_lock:
        return _running.get(Path(data_dir).resolve())


def parse_ul_dump(result: Any) -> list[Registration]:
    """Kamailio's `ul.dump` JSON into registrations (contacts of every AoR)."""
    out: list[Registration] = []
    if not isinstance(result, dict):
        return out
    for domain in result.get("Domains") or []:
        for aor_entry in (domain.get("Domain") or {}).get("AoRs") or []:
            info = aor_entry.get("Info") or {}
            aor = str(info.get("AoR", ""))
            for contact_entry in info.get("Contacts") or []:
                c = contact_entry.get("Contact") or {}
                expires = c.get("Expires", 0)
                out.append(
                    Registration(
                        aor=aor,
                        contact=str(c.get("Address", "")),
                        expires=int(expires) if str(expires).isdigit() else 0,
                        user_agent=str(c.get("User-Agent", "")),
                    )
                )
    return sorted(out, key=lambda r: (r.aor, r.contact))
