"""One installed build's Python code in a process of its own.

`python -m runtime.modules.module_process BUILD_DIR` imports the build's package under the
loader's rules and answers the host's requests (runtime/modules/process_protocol.py) on its
stdin and stdout: import, start(api), calls, set_instances and the configuration functions
(docs/MODULE_CONTRACT.md). When the host names a Unix socket in `SFM_MODULE_CALLS`, this
process connects to it before it reads a request and sends its call answers there, with the
log lines the hook wrote during the call (the host's waiting threads read them,
`de.sfhost.core.CallChannel`); everything else stays on stdout.

Uploaded code that raises, hangs or never releases the GIL here stalls nothing of the host:
the host waits for an answer only as long as it allows and kills this process when it is
stuck (`de.sfhost.core.ModuleProcess`, runtime/modules/module_client.py).

Calls are answered on the thread that reads the requests, one after another in their order;
the other requests run on a second thread, so a configuration being compiled does not hold up
calls (the interpreter switches threads every millisecond here). When the host runs its call
path at real-time priority (runtime/realtime.py), it names the CPU in `SFM_MODULE_REALTIME`,
and the thread that answers calls runs there at SCHED_FIFO; the other threads keep normal
priority. Whatever the module prints goes to stderr (the host keeps it in a file); stdout and
the socket carry only frames. The process ends when the host closes its stdin, and with the
host process itself (Linux: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import queue
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from runtime import realtime
from runtime.errors import Refused
from runtime.modules import loader
from runtime.modules.hook_answer import US, answer_text
from runtime.modules.process_protocol import (
    ANSWER,
    CALL,
    FUNCTION,
    IMPORT,
    INSTANCES,
    LOG,
    START,
    StreamEnded,
    frame,
    read_frame,
    write_all,
)

SHIM_MODULE = "sfm_module"
CONFIG_FUNCTIONS = ("check_instance", "instance_from_file", "instance_to_file", "explain")
PARENT_ENV = "SFM_MODULE_PARENT"  # the host's process id: this process ends with it
CALLS_ENV = "SFM_MODULE_CALLS"  # the host's socket for call answers (CallChannel.ENV)
_PR_SET_PDEATHSIG = 1


class ModuleServer:
    """Answers the host's requests for one build (see the module docstring)."""

    def __init__(
        self,
        build_dir: Path,
        out_fd: int,
        calls_fd: int | None = None,
        call_cpu: int | None = None,
    ) -> None:
        self.build_dir = build_dir
        self._call_cpu = call_cpu  # the call thread's CPU at real-time priority (None: normal)
        self._out = out_fd
        self._calls = calls_fd  # where call answers go (None: stdout, with the rest)
        self._write_lock = threading.Lock()
        self.shim: Any = None
        self.hook: Any = None
        self._admin: queue.SimpleQueue[tuple[bytes, int, str]] = queue.SimpleQueue()
        self._call_thread = threading.get_ident()  # main() serves on the thread that made it
        # Log frames the hook writes during a call, sent with its answer in one write: the
        # host reads them with the answer, not woken once per line.
        self._held: list[bytes] | None = None

    def send(self, kind: bytes, request_id: int, payload: str) -> None:
        data = frame(kind, request_id, payload)
        with self._write_lock:
            write_all(self._out, data)

    def log(self, text: str) -> None:
        """A LOG frame: held for the call's answer when the call thread writes it."""
        held = self._held
        if held is not None and threading.get_ident() == self._call_thread:
            held.append(frame(LOG, 0, text))
        else:
            self.send(LOG, 0, text)

    def serve(self, stream: BinaryIO) -> None:
        """Answer requests until the host closes the stream."""
        threading.Thread(target=self._admin_loop, name="sfm-module-admin", daemon=True).start()
        if self._call_cpu is not None:  # after the admin thread started: it keeps normal priority
            try:
                realtime.enter(self._call_cpu, realtime.MODULE_PRIORITY)
            except OSError as exc:
                print(f"calls are answered at normal priority: {exc}", file=sys.stderr)
        while True:
            try:
                kind, request_id, payload = read_frame(stream)
            except (StreamEnded, OSError):
                return
            if kind == CALL:
                hook = self.hook
                self._held = held = []
                try:
                    text = (
                        "!the module registered no call hook"
                        if hook is None
                        else answer_text(hook, payload)
                    )
                finally:
                    self._held = None
                held.append(frame(ANSWER, request_id, text))
                if self._calls is not None:
                    write_all(self._calls, b"".join(held))  # only this thread writes there
                else:
                    with self._write_lock:
                        write_all(self._out, b"".join(held))
            else:
                self._admin.put((kind, request_id, payload))

    def _admin_loop(self) -> None:
        while True:
            kind, request_id, payload = self._admin.get()
            if kind == INSTANCES:
                gc.unfreeze()  # the instances replaced now may be collected
            try:
                text = self.answer(kind, payload)
            except BaseException as exc:  # uploaded code, or an answer that is not JSON data
                text = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
            if kind != FUNCTION:
                # What import, start and the instances made lives until the next instances:
                # out of the collector's way, or a full collection (hundreds of thousands of
                # compiled patterns) would stall the calls that happen to trigger it.
                gc.collect()
                gc.freeze()
            self.send(ANSWER, request_id, text)

    def answer(self, kind: bytes, payload: str) -> str:
        """The answer to one request other than a call (its format: process_protocol.py)."""
        if kind == IMPORT:
            return self._import()
        if kind == START:
            return self._start()
        if kind == INSTANCES:
            return json.dumps(self._set_instances(json.loads(payload)))
        if kind == FUNCTION:
            request = json.loads(payload)
            return json.dumps(self._function(str(request["name"]), list(request["args"])))
        return json.dumps({"error": f"unknown request {kind!r}"})

    def _import(self) -> str:
        try:
            package = loader.load_package(self.build_dir)
            folder = loader.package_folder(self.build_dir)
            if folder is not None and (folder / f"{SHIM_MODULE}.py").is_file():
                self.shim = package.submodule(SHIM_MODULE)
        except Refused as refused:
            return f"!{refused}"
        except BaseException as exc:  # uploaded code
            return f"!the module's code does not load ({type(exc).__name__}: {exc})"
        names = [n for n in CONFIG_FUNCTIONS if callable(getattr(self.shim, n, None))]
        if callable(getattr(self.shim, "start", None)):
            names.append("start")
        return " ".join(["ok", *names])

    def _start(self) -> str:
        start = getattr(self.shim, "start", None)
        if not callable(start):
            return "ok"
        try:
            start(_ModuleApi(self))
        except BaseException as exc:  # uploaded code: SystemExit and KeyboardInterrupt too
            return f"!the module's start(api) failed ({type(exc).__name__}: {exc})"
        hook = self.hook
        if hook is None:
            return "ok"
        takes_instances = callable(getattr(hook, "set_instances", None))
        return "ok hook set_instances" if takes_instances else "ok hook"

    def _set_instances(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            refused = self.hook.set_instances(request["instances"], request["plan"])
            return {"refused": {str(k): str(v) for k, v in dict(refused or {}).items()}}
        except BaseException as exc:  # uploaded code
            return {"error": f"the module's set_instances failed ({type(exc).__name__}: {exc})"}

    def _function(self, name: str, args: list[Any]) -> dict[str, Any]:
        function = getattr(self.shim, name, None) if name in CONFIG_FUNCTIONS else None
        if not callable(function):
            return {"error": f"the module has no function {name}"}
        try:
            value = function(*args)
        except BaseException as exc:  # uploaded code: its refusal, or its fault
            return {"raised": raised(exc)}
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return {"error": f"the module's {name} returned something that is not JSON data"}
        return {"value": value}


def raised(exc: BaseException) -> dict[str, Any]:
    """What the host needs of a module's exception: type, text, and a refusal's `field`,
    `line` and `problems` (docs/MODULE_CONTRACT.md, check_instance)."""
    field = getattr(exc, "field", None)
    line = getattr(exc, "line", None)
    problems = getattr(exc, "problems", None)
    listed = None
    if isinstance(problems, list):
        listed = [
            {
                "field": p.get("field") if isinstance(p.get("field"), str) else None,
                "line": p.get("line") if isinstance(p.get("line"), int) else None,
                "message": p.get("message"),
            }
            for p in problems
            if isinstance(p, dict) and isinstance(p.get("message"), str)
        ]
    return {
        "type": type(exc).__name__,
        "value_error": isinstance(exc, ValueError),
        "message": str(exc),
        "field": field if isinstance(field, str) else None,
        "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
        "problems": listed,
    }


class _ModuleApi:
    """The `api` a module's start(api) gets (docs/MODULE_CONTRACT.md)."""

    def __init__(self, server: ModuleServer) -> None:
        self._server = server

    def register_call_hook(self, hook: Any) -> None:
        """Ask `hook.on_call(called, caller)` on every call the module's function passes on."""
        self._server.hook = hook

    def instance_log(self, instance: str, level: str, message: str) -> None:
        """A line for the named instance's log (the host writes it, off the call path)."""
        text = US.join((str(instance).replace(US, " "), str(level).replace(US, " "), str(message)))
        self._server.log(text)


def _take_protocol_fds() -> tuple[int, int]:
    """The frames' own copies of stdin and stdout; fd 0 then reads nothing and fd 1 writes to
    stderr, so nothing the module prints can break a frame."""
    frames_in, frames_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return frames_in, frames_out


def _end_with_host() -> None:
    """Be killed when the host process ends, even by SIGKILL (Linux; elsewhere: at EOF)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit() and os.getppid() != int(parent):
        os._exit(0)  # the host ended before the signal was set up


def _connect_calls() -> int | None:
    """The socket for call answers the host named (its file descriptor), or None."""
    address = os.environ.pop(CALLS_ENV, None)
    if not address:
        return None
    calls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    calls.connect(address)
    return calls.detach()


def _realtime_placement() -> int | None:
    """The call CPU the host asked for (runtime/realtime.py), or None. This thread, and every
    thread started from it, first gets the CPUs the host's other work runs on."""
    value = os.environ.pop(realtime.MODULE_ENV, None)
    if not value:
        return None
    try:
        call_cpu, others = realtime.parse_module_environment(value)
        os.sched_setaffinity(0, others)
    except (ValueError, OSError) as exc:
        print(
            f"calls are answered at normal priority: {realtime.MODULE_ENV}: {exc}", file=sys.stderr
        )
        return None
    return call_cpu


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m runtime.modules.module_process BUILD_DIR", file=sys.stderr)
        return 2
    frames_in, frames_out = _take_protocol_fds()
    _end_with_host()
    sys.setswitchinterval(0.001)
    server = ModuleServer(Path(args[0]), frames_out, _connect_calls(), _realtime_placement())
    with open(frames_in, "rb", buffering=1 << 16) as frames:
        server.serve(frames)
    # Daemon threads may still run uploaded code: leave without waiting for them.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
