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
`GET /event?kind=start|end&callid=..` records that a call was answered or ended (Kamailio
sends these over evapi, read by the same Java part), which is how users become busy.

The service runs in the host's JVM (`de.sfhost.sip`: a small HTTP/1.1 server, the decider,
the call events): a decision calls the routing core from Java and never takes the host's
Python GIL (a module's Python answers from its own process), so the host's Python threads
(web page, API) never delay a call. It routes through the same core, with every installed
module's hook, as `sfm call` and the web page. This module is its Python face: start, stop,
the counters, and the Java side's log lines written to the `sfm.sip` logger.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import jpype

from runtime.jvm import ensure_jvm
from runtime.realtime import RealtimeCalls
from runtime.sip.calls import CallsInProgress

log = logging.getLogger("sfm.sip")


class HostLike(Protocol):
    """What the service needs of `runtime.host.Host`: the routing core and the live state."""

    routing: Any

    def reload_live_state(self) -> None: ...


def answer_line(fields: dict[str, str]) -> str:
    """The `key=value;` line Kamailio reads, as the Java decider writes it: every key present,
    "-" when unused (Kamailio's `param.value` reads no pair of an answer that has an empty
    value)."""
    ensure_jvm()
    java_map = jpype.JClass("java.util.HashMap")()
    for k, v in fields.items():
        java_map.put(k, v)
    return str(jpype.JClass("de.sfhost.sip.Decider").answerLine(java_map))


def _live_state_proxy(host: HostLike) -> Any:
    @jpype.JImplements("de.sfhost.sip.LiveState")
    class _LiveState:
        @jpype.JOverride
        def reload(self) -> None:
            try:
                host.reload_live_state()
            except Exception as exc:  # the call goes on with the state it had
                log.error("sip: the users' live state could not be reloaded (%s)", exc)

    return _LiveState()


class Decider:
    """The Java decider of one SIP front (`de.sfhost.sip.Decider`) and its log writer."""

    def __init__(self, host: HostLike, calls: CallsInProgress, live_stamp: Path | None) -> None:
        ensure_jvm()
        self._log = jpype.JClass("de.sfhost.sip.SipLog")()
        self._live = _live_state_proxy(host)
        self.java = jpype.JClass("de.sfhost.sip.Decider")(
            host.routing.core,
            calls.java,
            None if live_stamp is None else str(live_stamp),
            self._live,
            self._log,
        )
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_log, name="sip-log", daemon=True)
        self._writer.start()

    @property
    def decided(self) -> int:
        """Calls decided by the routing core so far."""
        return int(self.java.decided())

    @property
    def fallbacks(self) -> int:
        """Calls answered `plain` (a fault or a number nobody has) so far."""
        return int(self.java.fallbacks())

    def decide(self, caller: str, called: str) -> str:
        """The answer line for one INVITE, as the service gives it (never raises)."""
        return str(self.java.decide(caller, called))

    def event(self, query: dict[str, str]) -> None:
        """One call event (`kind`, `callid`, `users`, `callee`, `caller`, `called`)."""
        java_map = jpype.JClass("java.util.HashMap")()
        for k, v in query.items():
            java_map.put(k, v)
        self.java.event(java_map)

    def flush_log(self, timeout: float = 2.0) -> None:
        """Wait (up to `timeout` s) until the Java side's queued log lines are written."""
        import time

        until = time.monotonic() + timeout
        while self._log.pending() > 0 and time.monotonic() < until:
            time.sleep(0.005)

    def close(self) -> None:
        self._stop.set()
        self._writer.join(1.0)

    def _write_log(self) -> None:
        levels = {"WARNING": logging.WARNING, "ERROR": logging.ERROR, "INFO": logging.INFO}
        while not self._stop.is_set():
            try:
                line = self._log.poll(100)
            except Exception:  # the JVM is going away
                return
            if line is None:
                continue
            level, _, message = str(line).partition("\t")
            log.log(levels.get(level, logging.INFO), "%s", message)


def _thread_setup(realtime: RealtimeCalls) -> Any:
    """A Java Runnable that puts the thread running it on the real-time call path."""
    warned = threading.Event()

    @jpype.JImplements("java.lang.Runnable")
    class _EnterCallPath:
        @jpype.JOverride
        def run(self) -> None:
            try:
                realtime.enter_decision_thread()
            except BaseException as exc:  # the thread then decides at normal priority
                if not warned.is_set():
                    warned.set()
                    log.warning("sip: a decision thread runs at normal priority (%s)", exc)

    return _EnterCallPath()


class DecisionServer:
    """The decision service on 127.0.0.1 (port 0: a free one), `de.sfhost.sip.DecisionServer`
    (one thread per kept-alive connection; with `realtime`, each on the real-time call path)."""

    def __init__(
        self, decider: Decider, port: int = 0, realtime: RealtimeCalls | None = None
    ) -> None:
        server_class = jpype.JClass("de.sfhost.sip.DecisionServer")
        setup = None if realtime is None else _thread_setup(realtime)
        try:
            self.java = server_class(decider.java, port, setup)
        except jpype.JException as exc:
            raise OSError(f"the decision service cannot listen on port {port}: {exc}") from None
        self.port: int = int(self.java.getPort())

    def start(self) -> None:
        self.java.start()

    def stop(self) -> None:
        """Stop answering (Kamailio then rings plainly) and close every connection."""
        self.java.stop()
