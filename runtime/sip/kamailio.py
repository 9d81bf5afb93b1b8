"""Kamailio as a supervised child process: its configuration from the PBX directory, start,
restart when it dies (with a log line), stop with the host, and its JSON-RPC (registrations).

The configuration is generated from the directory into DATA/sip/kamailio.cfg on each start:
the phones' passwords and number-to-user map (htables filled at start), the trunks' addresses,
the voicemail URI, and the decision service's port. Kamailio's own log goes to
DATA/sip/kamailio.log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from runtime.errors import Refused
from runtime.pbx_directory import PbxDirectory

log = logging.getLogger("sfm.sip")

TEMPLATE = "kamailio.cfg.j2"
MODULE_PATHS = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/kamailio/modules",
)
SHARED_MEMORY_MB = 512  # 64 MB (the default) ran out near 500 calls/s in the probe
DOMAIN = "sfm.pbx"
BUDGET_SECONDS = 1  # http_client counts its timeout in whole seconds


@dataclass(frozen=True)
class SipAddress:
    host: str
    port: int


def parse_sip_address(text: str) -> SipAddress:
    """`HOST:PORT` of `sfm serve --sip` (IPv4); Refused names the culprit."""
    host, sep, port = text.rpartition(":")
    parts = host.split(".")
    if (
        not sep
        or len(parts) != 4
        or not all(p.isdigit() and int(p) < 256 for p in parts)
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise Refused(f"--sip {text!r}: give an IPv4 address and port, e.g. 127.0.0.1:5060.")
    return SipAddress(host, int(port))


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nobody uses right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def module_path() -> str:
    for path in MODULE_PATHS:
        if Path(path, "tm.so").is_file():
            return path
    raise Refused(
        "--sip: Kamailio's modules are not installed; run scripts/setup.sh "
        "(Debian packages kamailio, kamailio-utils-modules, kamailio-extra-modules)."
    )


def render_config(
    directory: PbxDirectory,
    sip: SipAddress,
    *,
    rpc_port: int,
    decision_port: int,
    event_port: int,
    children: int = 8,
    fixed_decision: bool = False,
    realtime_priority: int | None = None,
) -> str:
    """Kamailio's configuration for this directory (text); with `realtime_priority`, every
    Kamailio process runs at SCHED_FIFO with that priority."""
    env = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    passwords = [(u.numbers[0], u.sip_password) for u in directory.users if u.sip_password]
    user_ids = [(u.numbers[0], u.id) for u in directory.users if u.sip_password]
    return env.get_template(TEMPLATE).render(
        source=directory.source,
        budget_s=BUDGET_SECONDS,
        children=children,
        sip_host=sip.host,
        sip_port=sip.port,
        rpc_port=rpc_port,
        decision_port=decision_port,
        event_port=event_port,
        domain=DOMAIN,
        module_path=module_path(),
        passwords=passwords,
        user_ids=user_ids,
        trunks=directory.trunks,
        voicemail=directory.voicemail,
        fixed_decision=fixed_decision,
        realtime_priority=realtime_priority,
    )


class Kamailio:
    """One supervised Kamailio: `start()`, restarted on death, `stop()`.

    `on_restart` is called after an unexpected exit (the calls it carried are gone).
    """

    def __init__(
        self,
        folder: Path,
        config_text: str,
        rpc_port: int,
        *,
        on_restart: Any = None,
        shared_memory_mb: int = SHARED_MEMORY_MB,
    ) -> None:
        self.folder = Path(folder)
        self.config_text = config_text
        self.rpc_port = rpc_port
        self.on_restart = on_restart
        self.shared_memory_mb = shared_memory_mb
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def config_path(self) -> Path:
        return self.folder / "kamailio.cfg"

    @property
    def log_path(self) -> Path:
        return self.folder / "kamailio.log"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return None if proc is None else proc.pid

    def start(self, timeout: float = 15.0) -> None:
        """Write the configuration, check it, start Kamailio and wait until it answers."""
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        if not Path(binary).exists():
            raise Refused("--sip: Kamailio is not installed; run scripts/setup.sh.")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text, encoding="utf-8")
        check = subprocess.run(
            [binary, "-c", "-f", str(self.config_path)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"the generated Kamailio configuration is refused: {check.stderr}")
        self._spawn(binary)
        self.wait_ready(timeout)
        self._watcher = threading.Thread(
            target=self._watch, args=(binary,), name="sip-kamailio-watch", daemon=True
        )
        self._watcher.start()

    def _spawn(self, binary: str) -> None:
        with self._lock:
            out = open(self.log_path, "ab")  # noqa: SIM115 (handed to the child)
            try:
                self._proc = subprocess.Popen(
                    [
                        binary,
                        "-f",
                        str(self.config_path),
                        "-DD",
                        "-E",
                        "-m",
                        str(self.shared_memory_mb),
                        "-M",
                        "16",
                        "-x",
                        "tlsf",
                        "-X",
                        "tlsf",
                        "-Y",
                        str(self.folder),
                        "-P",
                        str(self.folder / "kamailio.pid"),
                    ],  # fmt: skip
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,  # its children share its group: killed together
                    preexec_fn=_die_with_parent,
                )
            finally:
                out.close()

    def wait_ready(self, timeout: float = 15.0) -> None:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            proc = self._proc
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"Kamailio exited at start (code {proc.returncode}); see {self.log_path}"
                )
            with contextlib.suppress(OSError, ValueError):
                self.rpc("core.uptime", timeout=1.0)
                return
            time.sleep(0.1)
        raise RuntimeError(f"Kamailio did not answer within {timeout} s; see {self.log_path}")

    def _watch(self, binary: str) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()
            _kill_group(proc.pid)
            if self._stopping.is_set():
                return
            log.error("sip: Kamailio exited (code %s); starting it again", code)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            if self._stopping.is_set():
                return
            try:
                self._spawn(binary)
                self.wait_ready()
            except Exception as exc:  # keep trying: the PBX must come back
                log.error("sip: Kamailio did not come back (%s); trying again", exc)
                continue
            self.restarts += 1
            delay = 0.2
            log.warning("sip: Kamailio runs again (pid %s)", self.pid)
            if self.on_restart is not None:
                self.on_restart()

    def stop(self) -> None:
        """Stop Kamailio and its children (SIGTERM, then SIGKILL after 5 s)."""
        self._stopping.set()
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)
        _kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2.0)
        if self._watcher is not None:
            self._watcher.join(2.0)

    def rpc(self, method: str, *params: Any, timeout: float = 2.0) -> Any:
        """One JSON-RPC command to Kamailio (jsonrpcs over its local HTTP port)."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc_port}/RPC",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            document = json.loads(response.read())
        if "error" in document:
            raise ValueError(f"Kamailio RPC {method}: {document['error']}")
        return document.get("result")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the host process dies (even by SIGKILL), so no
    Kamailio outlives its host and holds the SIP port."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
