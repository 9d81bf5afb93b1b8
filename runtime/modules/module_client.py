"""A build's Python code in a process of its own, for the configuration functions.

`ModuleCodeProcess(build_dir)` starts `python -m runtime.modules.module_process BUILD_DIR` on
first use, imports the build's package there, and calls the shim's `check_instance`,
`instance_from_file`, `instance_to_file` and `explain` in it (docs/MODULE_CONTRACT.md). Any
process of the host uses it (the CLI, the web server, tests); the call path has its own
process per build (`de.sfhost.core.ModuleProcess`), so a check that hangs never touches calls.
A request that does not finish within its limit kills the process (the next request starts a
new one); a process that dies fails its request. Either is `UploadedCodeFailed` in words.
At most `LIVE_PROCESSES` idle processes are kept; the least recently used is closed.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import queue
import subprocess
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from runtime.errors import Refused
from runtime.modules import loader
from runtime.modules.process_protocol import (
    ANSWER,
    FUNCTION,
    IMPORT,
    StreamEnded,
    frame,
    read_frame,
)

LIVE_PROCESSES = 4
# The child ends with the thread that started it (PR_SET_PDEATHSIG): one thread that lives as
# long as this process starts them all.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfm-module-spawner")
_live: OrderedDict[int, ModuleCodeProcess] = OrderedDict()
_live_lock = threading.Lock()


def python_log_path(data_dir: Path, module_id: str) -> Path:
    """Where the stderr of a module's Python processes goes (what its code prints)."""
    return data_dir / "logs" / "modules" / module_id / "python.log"


class ModuleRaised(Exception):
    """What the module's function raised, as its process reported it: `type_name`, the
    text, and a refusal's `field`, `line` and `problems` (docs/MODULE_CONTRACT.md)."""

    def __init__(self, reported: dict[str, Any]) -> None:
        super().__init__(str(reported.get("message", "")))
        self.type_name = str(reported.get("type", "Exception"))
        self.field = reported.get("field")
        self.line = reported.get("line")
        self.problems = reported.get("problems")


class ModuleRefusedValue(ModuleRaised, ValueError):
    """The module refused a value (its exception was a ValueError)."""


class ModuleCodeProcess:
    """One build's configuration functions, run in a process of its own (thread-safe: one
    request at a time)."""

    def __init__(self, build_dir: Path, error_file: Path | None = None) -> None:
        self.build_dir = build_dir
        self.error_file = error_file
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._answers: queue.SimpleQueue[tuple[int, str] | None] = queue.SimpleQueue()
        self._functions: frozenset[str] | None = None
        self._ids = itertools.count(1)

    def functions(self) -> frozenset[str]:
        """The shim's functions (check_instance ...); Refused when the code does not load."""
        with self._lock:
            self._ensure_running()
            assert self._functions is not None
            return self._functions

    def call(self, name: str, *args: Any) -> Any:
        """The shim's `name(*args)` in the build's process: its value; ModuleRaised (a
        ModuleRefusedValue for a ValueError) for what it raised; UploadedCodeFailed when it
        did not finish within loader.TIME_LIMIT or its process died."""
        what = f"the module's {name}"
        with self._lock:
            self._ensure_running()
            payload = json.dumps({"name": name, "args": list(args)})
            answer = json.loads(self._request(FUNCTION, payload, loader.TIME_LIMIT, what))
        if "raised" in answer:
            reported = answer["raised"]
            error = ModuleRefusedValue if reported.get("value_error") else ModuleRaised
            raise error(reported)
        if "error" in answer:
            raise loader.UploadedCodeFailed(f"{what} failed ({answer['error']})")
        return answer.get("value")

    def close(self) -> None:
        """Kill the process (a later request starts a new one)."""
        with _live_lock:
            _live.pop(id(self), None)
        process, self._process = self._process, None
        self._functions = None
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
                process.wait(5)

    # ---- the process -------------------------------------------------------------------

    def _ensure_running(self) -> None:
        with _live_lock:
            if id(self) in _live:
                _live.move_to_end(id(self))
        if self._process is not None and self._process.poll() is None:
            return
        self._start()
        try:
            answer = self._request(
                IMPORT, "", loader.IMPORT_TIME_LIMIT + 1.0, "importing the module's Python code"
            )
        except loader.UploadedCodeFailed as exc:
            raise Refused(f"{self.build_dir}: the module's code does not load ({exc})") from None
        if answer.startswith("!"):
            self.close()
            raise Refused(answer[1:])
        self._functions = frozenset(answer.split()[1:])

    def _start(self) -> None:
        from runtime.routing_host import module_process_command, module_process_environment

        env = dict(os.environ, **module_process_environment())
        env["SFM_MODULE_PARENT"] = str(os.getpid())
        process = _SPAWNER.submit(
            subprocess.Popen,
            [*module_process_command(), str(self.build_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self.error_file is None else subprocess.PIPE,
            env=env,
            cwd=self.build_dir,
        ).result()
        if self.error_file is not None and process.stderr is not None:
            threading.Thread(
                target=_drain, args=(process.stderr, self.error_file), daemon=True,
                name="sfm-module-config-stderr",
            ).start()  # fmt: skip
        answers: queue.SimpleQueue[tuple[int, str] | None] = queue.SimpleQueue()
        assert process.stdout is not None
        reader = threading.Thread(
            target=_read_answers, args=(process.stdout, answers), daemon=True,
            name="sfm-module-config-reader",
        )  # fmt: skip
        reader.start()
        self._process, self._answers = process, answers
        with _live_lock:
            _live[id(self)] = self
            _live.move_to_end(id(self))
            others = [c for key, c in _live.items() if key != id(self)]
            idle = others[: max(0, len(_live) - LIVE_PROCESSES)]
        for client in idle:
            if client._lock.acquire(blocking=False):
                try:
                    client.close()
                finally:
                    client._lock.release()

    def _request(self, kind: bytes, payload: str, limit: float, what: str) -> str:
        process = self._process
        assert process is not None and process.stdin is not None
        request_id = next(self._ids)
        try:
            process.stdin.write(frame(kind, request_id, payload))
            process.stdin.flush()
        except OSError:
            self.close()
            raise loader.UploadedCodeFailed(f"{what} failed (its Python process ended)") from None
        while True:
            try:
                answer = self._answers.get(timeout=limit)
            except queue.Empty:
                self.close()
                raise loader.UploadedCodeFailed(
                    f"{what} did not finish within {limit:g} s"
                ) from None
            if answer is None:
                code = process.poll()
                self.close()
                raise loader.UploadedCodeFailed(
                    f"{what} failed (its Python process ended, exit code {code})"
                )
            if answer[0] == request_id:
                return answer[1]


def _read_answers(stream: BinaryIO, answers: queue.SimpleQueue[tuple[int, str] | None]) -> None:
    """The reader of one process: its answers into `answers`, None when it ends."""
    try:
        while True:
            kind, request_id, payload = read_frame(stream)
            if kind == ANSWER:
                answers.put((request_id, payload))
    except (StreamEnded, OSError, ValueError):
        answers.put(None)


def _drain(stream: BinaryIO, path: Path) -> None:
    """Append what a process writes to stderr to `path`, made only once there is output (a
    refused command changes nothing in the data folder)."""
    out: BinaryIO | None = None
    try:
        while chunk := os.read(stream.fileno(), 8192):
            if out is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                out = path.open("ab")
            out.write(chunk)
            out.flush()
    except OSError:
        pass  # the process ended, or the file cannot be written: its output is lost
    finally:
        stream.close()
        if out is not None:
            out.close()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        clients = list(_live.values())
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()
