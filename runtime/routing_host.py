"""The routing host: the Java routing core as the host's Python side drives it.

`RoutingHost` owns one Java `de.sfhost.core.RoutingCore`; calls run on the core's Java worker
threads, as in a real PBX. A module's call-processing function (its Java class, see
runtime/modules/java_code.py) is registered with `register_function`; it reaches the module's
Python code through the module's `de.sfhost.module.ext.ModulePython`, which talks to the
build's own process (`module_process`, a Java `de.sfhost.core.ModuleProcess`). No call needs
this interpreter: uploaded code that never releases the GIL stalls only its own process.

`register_in_process_hook` runs a Python hook in this interpreter instead, called by the
core's workers through a JPype proxy: for tests, benchmarks and `sfm call --pbx` (the module
source shipped with the host), never for uploaded code.

Log lines of the core and of the modules' processes are queued in Java and written by a Python
thread of this host, off the call path (`on_module_log`, `on_instance_log`,
`on_module_error`). docs/ARCHITECTURE.md says why the call path looks as it does.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import logging
import os
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jpype

from runtime.effect_changes import changed_effects
from runtime.errors import Refused
from runtime.java_directory import java_directory
from runtime.jvm import ensure_jvm
from runtime.modules import loader
from runtime.modules.hook_answer import HookAnswerLike, PythonCallHook, answer_text
from runtime.pbx_directory import PbxDirectory
from runtime.pbx_number_plan import is_withheld, normalise
from runtime.realtime import RealtimeCalls

_LOG = logging.getLogger("runtime.modules")
# A module process that has not answered a call for this many seconds is killed and started
# again (calls meanwhile are answered at once, routed without the module).
STUCK_LIMIT = 3.0
_REPO = Path(__file__).resolve().parent.parent

ModuleErrorCallback = Callable[[str, str], None]
ModuleLogCallback = Callable[[str, str, str], None]
InstanceLogCallback = Callable[[str, str, str, str], None]

__all__ = ["HookAnswerLike", "PythonCallHook", "RoutingHost", "direct_proxy"]


class HookHolder:
    """The in-process hook a bridge asks; `hook` may be replaced (calls in flight keep theirs)."""

    def __init__(self, hook: PythonCallHook) -> None:
        self.hook = hook


@dataclass
class _Registered:
    java_hook: Any
    holder: HookHolder | None  # None: a Java function registered with register_function


# Python idents of core workers inside an in-process hook now (see _stop_stuck_workers).
_INSIDE: set[int] = set()


@functools.cache
def _bridge_class() -> type:
    """The JProxy class of an in-process hook (defined once the JVM runs)."""

    @jpype.JImplements("de.sfhost.core.PythonHookBridge")
    class _HookBridge:
        def __init__(self, holder: HookHolder) -> None:
            self.holder = holder

        @jpype.JOverride
        def answer(self, numbers: Any) -> str:
            ident = threading.get_ident()
            _INSIDE.add(ident)
            try:
                return answer_text(self.holder.hook, str(numbers))
            finally:
                _INSIDE.discard(ident)

    return _HookBridge


def module_process_command() -> list[str]:
    """The command that runs one build's Python code in a process of its own (its build
    folder is the last argument)."""
    return [sys.executable, "-m", "runtime.modules.module_process"]


def module_process_environment() -> dict[str, str]:
    """What a module's process needs in its environment beyond the host's: `runtime` on its
    path."""
    paths = [str(_REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}


_HOSTS: weakref.WeakSet[RoutingHost] = weakref.WeakSet()


@atexit.register
def _close_all_hosts() -> None:
    # Registered after JPype's own exit handler, so it runs first: the core's worker threads
    # leave in-process hooks before the JVM goes away, and the module processes end.
    for host in list(_HOSTS):
        with contextlib.suppress(Exception):
            host.close()


class _NoChange:
    """A hook answer that changes nothing (for the warm-up)."""

    ignore_dnd = ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False
    answer_busy = answer_voicemail = False
    applied: tuple[tuple[str, tuple[str, ...]], ...] = ()


class _WarmUpHook:
    def on_call(self, called: str, caller: str | None) -> HookAnswerLike:
        return _NoChange()


_warm_lock = threading.Lock()
_warmed = False


def _warm_up_once(jc: _JavaClasses) -> None:
    """Route a few calls through a throw-away core, once per process: the first calls pay
    one-time costs (class loading, JPype's method lookup, JIT) of tens of milliseconds, which
    would eat a real call's 50 ms hook budget."""
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        core = jc.RoutingCore(1)
        builder = jc.Directory.builder()
        builder.addUser("warm", "", False, False, False)
        builder.addNumber("1", "warm")
        core.setDirectory(builder.build())
        core.setHookBudgetMillis(5000.0)
        bridge = _bridge_class()(HookHolder(_WarmUpHook()))
        core.register("warm-up", jc.STAGE, jc.InProcessPythonHook(bridge))
        try:
            for _ in range(3):
                core.routeJson("2", "1")
        finally:
            core.shutdown()
            core.awaitTermination(1000.0)
        _warmed = True


class RoutingHost:
    """The routing core with its registered modules; one call = one `route()`.

    Thread-safe: `route` may be called from any thread (an HTTP handler, the CLI, a test);
    the call itself runs on a Java worker thread of the core.
    """

    def __init__(
        self,
        *,
        hook_budget_ms: float = 50.0,
        hop_limit: int = 8,
        workers: int = 16,
        on_module_error: ModuleErrorCallback | None = None,
        on_module_log: ModuleLogCallback | None = None,
        on_instance_log: InstanceLogCallback | None = None,
        realtime: RealtimeCalls | None = None,
    ) -> None:
        ensure_jvm()
        self.realtime = realtime  # where module processes answer calls (None: normal priority)
        self._jc = _JavaClasses()
        _warm_up_once(self._jc)
        self._core = self._jc.RoutingCore(workers)
        self._core.setHookBudgetMillis(float(hook_budget_ms))
        self._core.setHopLimit(hop_limit)
        self._budget_ms = float(hook_budget_ms)
        self._on_module_error = on_module_error
        self._on_module_log = on_module_log
        self._on_instance_log = on_instance_log
        self._modules: dict[str, _Registered] = {}
        self._processes: dict[str, Any] = {}
        self._logs: dict[str, Any] = {}
        # module id -> what went wrong loading it; every call's module_errors repeats these
        self._load_problems: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._directory: PbxDirectory | None = None
        self._log_queue = self._jc.ModuleLogQueue()
        self._closed = threading.Event()
        self._log_busy = False
        self._log_thread = threading.Thread(
            target=self._write_log, name="sfhost-module-log", daemon=True
        )
        self._log_thread.start()
        _HOSTS.add(self)

    # ---- setup -------------------------------------------------------------------------

    @property
    def core(self) -> Any:
        """The Java RoutingCore (for benchmarks and Java-side callers)."""
        return self._core

    @property
    def directory(self) -> PbxDirectory | None:
        return self._directory

    def load_directory(self, directory: PbxDirectory) -> None:
        """Use `directory` for every later call (replaced whole; calls in flight keep theirs)."""
        self._core.setDirectory(java_directory(directory))
        self._directory = directory

    def register_in_process_hook(
        self, module_id: str, hook: PythonCallHook, *, log_level: str = "TRACE"
    ) -> None:
        """Call `hook.on_call(called, caller)` in this interpreter once per call to a user,
        from now on (tests, benchmarks, `sfm call --pbx`; never uploaded code).

        Registering the same `module_id` again replaces the earlier hook object (calls in
        flight finish with the old one).
        """
        with self._lock:
            existing = self._modules.get(module_id)
            if existing is not None and existing.holder is not None:
                existing.holder.hook = hook
                return
            holder = HookHolder(hook)
            java_hook = self._jc.InProcessPythonHook(_bridge_class()(holder))
            log = self.module_log(module_id, log_level)
            self._core.register(module_id, self._jc.STAGE, java_hook, log)
            self._modules[module_id] = _Registered(java_hook, holder)

    def module_log(self, module_id: str, log_level: str = "TRACE") -> Any:
        """The Java ModuleLog of the module (its lines reach `on_module_log` off the call
        path); made once per module id."""
        log = self._logs.get(module_id)
        if log is None:
            log = self._log_queue.forModule(module_id, self._jc.LogLevel.valueOf(log_level))
            self._logs[module_id] = log
        return log

    def module_process(self, module_id: str, build_dir: Path, error_file: Path | None) -> Any:
        """A Java `ModuleProcess` for the build's Python code (started by its ModulePython's
        start), closed with this host or with `close_module_process`; its stderr is appended
        to `error_file`."""
        process = self._jc.ModuleProcess(
            module_id,
            self._jc.StringArray([*module_process_command(), str(build_dir)]),
            self._jc.HashMap(
                module_process_environment()
                | ({} if self.realtime is None else self.realtime.module_environment())
            ),
            str(build_dir),
            None if error_file is None else str(error_file),
            self.module_log(module_id),
            self._log_queue,
            loader.IMPORT_TIME_LIMIT + 1.0,
            loader.TIME_LIMIT,
            STUCK_LIMIT,
        )
        process.setCallWaitMillis(self._budget_ms)
        with self._lock:
            before = self._processes.pop(module_id, None)
            self._processes[module_id] = process
        if before is not None:
            before.close()
        return process

    def close_module_process(self, module_id: str) -> None:
        """Kill the module's process (dropping a build)."""
        with self._lock:
            process = self._processes.pop(module_id, None)
        if process is not None:
            process.close()

    def register_function(self, module_id: str, stage: str, java_hook: Any) -> None:
        """Call the module's Java call-processing function (a KernelHook, see
        de.sfhost.module.runtime.FunctionHost) once per call to a user at `stage`, replacing
        what the module had registered. Refused when this host has no such stage."""
        with self._lock:
            try:
                self._core.register(module_id, stage, java_hook, self.module_log(module_id))
            except self._jc.IllegalArgumentException as exc:
                raise Refused(f"module {module_id}: {exc.getMessage()}") from None
            self._modules[module_id] = _Registered(java_hook, None)

    def set_load_problems(self, module_id: str, problems: Sequence[str]) -> None:
        """What went wrong loading the module (empty: nothing); each call's module_errors
        lists these, so `sfm call` shows why a module was routed around."""
        with self._lock:
            if problems:
                self._load_problems[module_id] = list(problems)
            else:
                self._load_problems.pop(module_id, None)

    def java_hook(self, module_id: str) -> Any:
        """The Java KernelHook that stands for the module in the core (None if not
        registered); for benchmarks and Java-side callers that register it themselves."""
        module = self._modules.get(module_id)
        return None if module is None else module.java_hook

    def unregister_hook(self, module_id: str) -> None:
        """Stop calling the module (calls in flight finish with it)."""
        with self._lock:
            module = self._modules.pop(module_id, None)
        if module is not None:
            self._core.unregister(module_id, self._jc.STAGE)

    def set_module_enabled(self, module_id: str, enabled: bool, reason: str) -> None:
        """Switch a module on or off for calls (off: not called, calls route as if it were
        absent, e.g. when the trial ran out unlicensed). The reason goes to the module log."""
        self._core.setModuleEnabled(module_id, bool(enabled), reason)

    def set_module_allowed_for(self, module_id: str, seconds: float | None) -> None:
        """The licence gate, checked by the core on every call: the module acts for `seconds`
        more (a trial's time left on the monotonic clock), or for good (None)."""
        self._core.setModuleAllowedFor(module_id, float("inf") if seconds is None else seconds)

    def is_module_enabled(self, module_id: str) -> bool:
        return bool(self._core.isModuleEnabled(module_id))

    # ---- calls -------------------------------------------------------------------------

    def route(
        self, caller: str | None, called: str, *, with_changes: bool = True
    ) -> dict[str, Any]:
        """Route one call on a Java worker thread; the `sfm call` JSON document as a dict.

        `caller` None, "" or "anonymous" is a withheld number. A malformed number, or a
        called number that no user or group has, is refused (Refused names it).
        `with_changes=False` leaves out `changed` (which effects changed the call: it routes
        the call again per matching instance), for callers that only carry the call out.
        """
        if self._directory is None:
            raise Refused("no PBX directory is loaded; load one with `sfm pbx load FILE`.")
        called_n = normalise(called, "called number")
        caller_n = None if is_withheld(caller) else normalise(str(caller), "caller number")
        try:
            text = self._core.routeJson(caller_n, called_n)
        except self._jc.IllegalArgumentException as exc:
            raise Refused(str(exc.getMessage())) from None
        result: dict[str, Any] = json.loads(str(text))
        if with_changes:
            result["changed"] = changed_effects(
                self._core, caller_n, called_n, result["applied"]
            )
        if self._load_problems:
            errors = result.setdefault("module_errors", [])
            for module_id, problems in list(self._load_problems.items()):
                errors.extend(f"{module_id}: {problem}" for problem in problems)
        return result

    # ---- log ---------------------------------------------------------------------------

    def flush_log(self, timeout: float = 5.0) -> None:
        """Wait (up to `timeout` seconds) until every queued module log line is written."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self._log_queue.pending() == 0 and not self._log_busy:
                return
            time.sleep(0.002)

    def _write_log(self) -> None:
        poll = self._log_queue.poll
        while not self._closed.is_set():
            try:
                line = poll(100)
            except Exception:
                return
            if line is None:
                continue
            self._log_busy = True
            try:
                self._write_line(line)
            except Exception:
                _LOG.exception("writing a module log line failed")
            finally:
                self._log_busy = self._log_queue.pending() > 0

    def _write_line(self, line: Any) -> None:
        module_id = str(line.moduleId)
        level = str(line.level.name())
        message = str(line.message)
        if line.instance is not None:
            if self._on_instance_log is not None:
                self._on_instance_log(module_id, str(line.instance), level, message)
            return
        if self._on_module_log is not None:
            self._on_module_log(module_id, level, message)
        else:
            _LOG.log(_PY_LEVELS.get(level, logging.INFO), "%s: %s", module_id, message)
        if level == "ERROR" and self._on_module_error is not None:
            self._on_module_error(module_id, message)

    def close(self) -> None:
        """Stop the core's worker threads, the module processes and the log writer;
        idempotent. The host routes no calls afterwards. Waits up to a second for the
        workers to end (one stuck in an in-process hook ends when the hook returns)."""
        if self._closed.is_set():
            return
        for module_id in list(self._modules):
            self.unregister_hook(module_id)
        for module_id in list(self._processes):
            self.close_module_process(module_id)
        self.flush_log(timeout=1.0)
        self._closed.set()
        self._core.shutdown()
        if not self._core.awaitTermination(1000.0):
            self._stop_stuck_workers()
        if self._log_thread is not threading.current_thread():
            self._log_thread.join(timeout=1.0)
        _HOSTS.discard(self)

    def _stop_stuck_workers(self) -> None:
        """Raise SystemExit in workers still inside an in-process hook after close.

        A Java thread still executing Python when the interpreter finalises at exit can abort
        the process; the exception reaches the hook at its next bytecode, and the worker ends.
        A hook blocked in C (sleep, a lock) is not disturbed.
        """
        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
        for ident in list(_INSIDE):
            set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(SystemExit))
        self._core.awaitTermination(500.0)


_PY_LEVELS = {
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
}


class _JavaClasses:
    """The Java classes the routing host uses, looked up once the JVM runs."""

    def __init__(self) -> None:
        self.RoutingCore = jpype.JClass("de.sfhost.core.RoutingCore")
        self.Directory = jpype.JClass("de.sfhost.core.Directory")
        self.InProcessPythonHook = jpype.JClass("de.sfhost.core.InProcessPythonHook")
        self.ModuleProcess = jpype.JClass("de.sfhost.core.ModuleProcess")
        self.ModuleLogQueue = jpype.JClass("de.sfhost.core.ModuleLogQueue")
        self.LogLevel = jpype.JClass("de.sfhost.module.api.LogLevel")
        self.IllegalArgumentException = jpype.JClass("java.lang.IllegalArgumentException")
        self.HashMap = jpype.JClass("java.util.HashMap")
        self.StringArray = jpype.JArray(jpype.JString)
        self.STAGE = str(
            jpype.JClass("de.sfhost.module.api.HookRegistry").STAGE_POST_TARGET_DETERMINATION_INCOMING
        )


def direct_proxy(hook: PythonCallHook) -> Any:
    """`hook` as a plain Java KernelHook (a JProxy that Java calls directly), for the tests
    and the benchmark's floor. Exceptions reach Java as HookFailure with the message."""
    ensure_jvm()
    hook_failure = jpype.JClass("de.sfhost.core.HookFailure")

    @jpype.JImplements("de.sfhost.module.api.KernelHook")
    class _DirectHook:
        @jpype.JOverride
        def onCall(self, ctx: Any, overrides: Any) -> None:  # noqa: N802 (Java name)
            try:
                caller = ctx.getCallerNumber()
                answer = hook.on_call(
                    str(ctx.getCalledNumber()), None if caller is None else str(caller)
                )
            except Exception as exc:
                raise hook_failure(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from exc
            if answer.ignore_dnd:
                overrides.setIgnoreDnd(True)
            if answer.ignore_redirects:
                overrides.setIgnoreRedirects(True)
            if answer.ignore_redirects_to_caller:
                overrides.setIgnoreRedirectsToCaller(True)
            if answer.force_call_waiting:
                overrides.setForceCallWaiting(True)
            for name, effects in answer.applied:
                overrides.noteApplied(name, jpype.JArray(jpype.JString)(list(effects)))

    return _DirectHook()
