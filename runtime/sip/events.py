"""The host's end of Kamailio's call events (evapi): one line per event, read on a thread.

Kamailio relays `kind=start&callid=..&users=..` when a call is answered and `kind=end&callid=..`
when it ends, through its evapi process (so no Kamailio worker waits for Python). The listener
connects to Kamailio's event port, hands every line to `on_event`, and connects again after
Kamailio restarted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

log = logging.getLogger("sfm.sip")


class EventListener:
    def __init__(self, port: int, on_event: Callable[[dict[str, str]], None]) -> None:
        self.port = port
        self.on_event = on_event
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sip-events", daemon=True)

    def start(self, wait: float = 5.0) -> None:
        """Start reading; wait (up to `wait` s) for the first connection."""
        self._thread.start()
        self.connected.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
            except OSError:
                time.sleep(0.1)
                continue
            sock.settimeout(None)
            self._sock = sock
            self.connected.set()
            try:
                self._read(sock)
            except OSError:
                pass
            finally:
                self.connected.clear()
                with contextlib.suppress(OSError):
                    sock.close()

    def _read(self, sock: socket.socket) -> None:
        pending = b""
        while not self._stop.is_set():
            chunk = sock.recv(65536)
            if not chunk:
                return  # Kamailio went away; _run connects again
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                query = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
                try:
                    self.on_event(query)
                except Exception as exc:  # one bad line must not end the listener
                    log.error("sip: call event %r not understood (%s)", text, exc)
