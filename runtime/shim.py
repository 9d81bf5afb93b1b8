"""The JPype bridge between the Java routing core and modules' Java functions and Python hooks.

`RoutingHost` owns one Java `de.sfhost.core.RoutingCore` (calls come in on its Java worker
threads, as in a real PBX). A module's call-processing function (its Java class, see
runtime/modules/java_code.py) is registered with `register_function`; it reaches the module's
Python hook through the module's `de.sfhost.module.ext.ModulePython` (`module_python`), whose
hook the module's Python shim registers (`hook_bridge`). `register_hook` registers a Python
hook directly, without a Java function (tests and benchmarks).

Design: the workers live inside a Python frame and call the hook directly.
A Java-owned thread that calls a JProxy makes CPython create and destroy a thread state on
every call (PyGILState_Ensure/Release on a thread without one: 15-75 µs per call here,
depending on load), while a thread that already has one pays only the GIL crossing. So each
worker of the core, when it starts, calls once into Python (`de.sfhost.core.ThreadHost`), and
that Python frame calls straight back into Java to run the worker's loop. JPype releases the
GIL while Python calls Java, but the outer PyGILState stays held: the thread keeps its Python
thread state for life, and each later hook call on it is one GIL crossing. The worker calls
the module's hook itself (`PythonHook`; the numbers go over as one string and the answer comes
back as one string through `PythonHookBridge`), once per call per module: no hand-off.

Figures (`bench/routing.py`, ns per call on the core's workers, best of 10 rounds, 2 shared
cores): the earlier design queued each call for Python-started threads and waited on a future,
two thread wake-ups per call: no-op hook 11,700-23,200 against a main-thread proxy call of
5,800-5,900 (2.0-3.95x), p99 with 16 callers 250,000. This design: no-op hook 3,000-6,000
against 5,800-7,000 from the main thread (0.44-0.92x; the worker's call is cheaper than that
floor, which marshals the call context and overrides object by object), p99 with 16 callers
6,700-11,400.

What keeps the rules of the host (see RoutingCore):
- The time budget: a watchdog thread of the core watches the hook each worker is in. When one
  overruns, the call is carried on by a new worker (the next hooks, then the routing) and
  routes as if the module were absent, with the reason in module_errors and the module log;
  the stuck worker is left behind and ends when the hook returns, its late answer discarded.
  Each hook has the whole budget from when it is asked; hooks are asked one after another.
  A hook with as many calls stuck in it as the core has workers is skipped at once.
- Python hooks are entered one worker at a time through a fair gate: 16 workers fighting for
  the GIL gave a p99 of 2.4-12 ms (CPython lets the thread that just dropped the GIL take it
  back, others wait for the 5 ms switch interval). The watchdog takes the gate back from a
  hook that held it for a tick (5 ms at most), so a hook waiting on I/O holds up no one.
- A hook that raises is caught here: its message and traceback reach Java in the answer
  string (an exception raised through a JProxy would lose its text); the module log gets the
  traceback.
- `close()` stops the workers; one still running a hook's Python code after a second gets
  SystemExit, since a Java thread still executing Python when the interpreter finalises can
  abort the process.

Log lines of the core (errors of hooks, a module switched off) are queued in Java and written
by a Python thread of this host, off the call path, to `on_module_log` / `on_module_error`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jpype

from runtime.effect_changes import changed_effects
from runtime.errors import Refused
from runtime.jvm import ensure_jvm
from runtime.pbx_directory import VOICEMAIL, PbxDirectory
from runtime.pbx_number_plan import is_withheld, normalise

_LOG = logging.getLogger("runtime.modules")
# Separators of the one-string answer handed to Java (de.sfhost.core.PythonHookBridge).
_RS = "\x1e"
_US = "\x1f"


class HookAnswerLike(Protocol):
    """The fields of a module hook's answer the host reads."""

    @property
    def ignore_dnd(self) -> bool: ...
    @property
    def ignore_redirects(self) -> bool: ...
    @property
    def ignore_redirects_to_caller(self) -> bool: ...
    @property
    def force_call_waiting(self) -> bool: ...
    # answer_busy and answer_voicemail are optional (False when absent)
    @property
    def applied(self) -> Sequence[tuple[str, Sequence[str]]]: ...


class PythonCallHook(Protocol):
    """A module's call hook: called once per call (for a user target) for all its instances."""

    def on_call(self, called: str, caller: str | None) -> HookAnswerLike: ...


ModuleErrorCallback = Callable[[str, str], None]
ModuleLogCallback = Callable[[str, str, str], None]


def encode_answer(answer: HookAnswerLike) -> tuple[int, str | None]:
    """The answer as PythonHook flags and the applied-instances text (None when none)."""
    flags = (
        (1 if answer.ignore_dnd else 0)
        | (2 if answer.ignore_redirects else 0)
        | (4 if answer.ignore_redirects_to_caller else 0)
        | (8 if answer.force_call_waiting else 0)
        | (16 if getattr(answer, "answer_busy", False) else 0)
        | (32 if getattr(answer, "answer_voicemail", False) else 0)
    )
    applied = answer.applied
    if not applied:
        return flags, None
    return flags, _RS.join(_US.join((name, *effects)) for name, effects in applied)


@dataclass
class _PythonModule:
    java_hook: Any
    holder: HookHolder | None  # None: a Java function registered with register_function


# The flags of an answer as its first character ('0' + flags), see PythonHookBridge.
_FLAG_CHARS = tuple(chr(ord("0") + flags) for flags in range(64))


def answer_text(hook: PythonCallHook, numbers: str) -> str:
    """The one-string answer of `hook` to the call `numbers` ("called" or "called US caller"),
    as `de.sfhost.core.PythonHookBridge` defines it; never raises.

    A failing hook is answered with "!" message US traceback: a Python exception raised
    through a JProxy would reach Java without its message.
    """
    called, _, caller = numbers.partition(_US)
    try:
        answer = hook.on_call(called, caller or None)
        cached = _ANSWER_TEXTS.get(id(answer))
        if cached is not None and cached[0] is answer:
            return cached[1]
        flags, applied = encode_answer(answer)
    except BaseException as exc:  # uploaded code: SystemExit and KeyboardInterrupt too
        message = f"{type(exc).__name__}: {exc}".replace(_US, " ")
        return f"!{message}{_US}{traceback.format_exc()}"
    text = _FLAG_CHARS[flags] if applied is None else _FLAG_CHARS[flags] + applied
    if _is_immutable_answer(answer):
        if len(_ANSWER_TEXTS) >= 256:
            _ANSWER_TEXTS.clear()
        _ANSWER_TEXTS[id(answer)] = (answer, text)
    return text


# Answer texts of immutable answer objects, by identity (hooks tend to return
# the same few answer objects again and again; encoding one costs about 0.5 µs). The entry
# holds the object, so its id cannot be reused while cached.
_ANSWER_TEXTS: dict[int, tuple[object, str]] = {}
_FROZEN_TYPES: dict[type, bool] = {}


def _is_immutable_answer(answer: object) -> bool:
    """A frozen dataclass whose `applied` is a tuple of (str, tuple of str)."""
    cls = type(answer)
    frozen = _FROZEN_TYPES.get(cls)
    if frozen is None:
        params = getattr(cls, "__dataclass_params__", None)
        frozen = _FROZEN_TYPES[cls] = bool(params is not None and params.frozen)
    if not frozen:
        return False
    applied = getattr(answer, "applied", None)
    return type(applied) is tuple and all(
        type(entry) is tuple and type(entry[1]) is tuple for entry in applied
    )


@functools.cache
def _module_bridge_class() -> type:
    """The JProxy class through which a module's ModulePython starts its Python code."""

    @jpype.JImplements("de.sfhost.module.ext.PythonModuleBridge")
    class _ModuleBridge:
        def __init__(self, starter: Callable[[Any], str | None]) -> None:
            self.starter = starter

        @jpype.JOverride
        def start(self, module: Any) -> str | None:
            try:
                return self.starter(module)
            except BaseException as exc:  # a proxy must not raise: Java would lose the text
                return f"{type(exc).__name__}: {exc}"

    return _ModuleBridge


def module_python(module_id: str, starter: Callable[[Any], str | None]) -> Any:
    """A Java `ModulePython` for one module build; `starter(module_python)` imports the
    build's Python code and calls its shim's start, returning None or the failure in words."""
    ensure_jvm()
    java_class = jpype.JClass("de.sfhost.module.ext.ModulePython")
    return java_class(module_id, _module_bridge_class()(starter))


class HookHolder:
    """The Python hook a bridge asks; `hook` may be replaced (calls in flight keep theirs)."""

    def __init__(self, hook: PythonCallHook) -> None:
        self.hook = hook


def hook_bridge(holder: HookHolder) -> Any:
    """A Java `PythonHookBridge` that asks `holder.hook` (what ModulePython.registerCallHook
    takes)."""
    ensure_jvm()
    return _proxy_classes()[1](holder)


@functools.cache
def _proxy_classes() -> tuple[type, type]:
    """The JProxy classes of the shim (defined once the JVM runs): the worker threads' host and
    a module's hook bridge."""

    @jpype.JImplements("de.sfhost.core.ThreadHost")
    class _WorkerThreadHost:
        """Runs a core worker's whole loop inside this Python frame: the thread keeps its
        Python thread state for life, so its hook calls only cross the GIL."""

        def __init__(self) -> None:
            # Python idents of the workers inside run(), for close() (see _stop_stuck_workers).
            self.inside: set[int] = set()

        @jpype.JOverride
        def run(self, body: Any) -> None:
            ident = threading.get_ident()
            self.inside.add(ident)
            try:
                body.run()
            finally:
                self.inside.discard(ident)

    @jpype.JImplements("de.sfhost.core.PythonHookBridge")
    class _HookBridge:
        def __init__(self, holder: HookHolder) -> None:
            self.holder = holder

        @jpype.JOverride
        def answer(self, numbers: Any) -> str:
            return answer_text(self.holder.hook, str(numbers))

    return _WorkerThreadHost, _HookBridge


_HOSTS: weakref.WeakSet[RoutingHost] = weakref.WeakSet()


@atexit.register
def _close_all_hosts() -> None:
    # Registered after JPype's own exit handler, so it runs first: the core's worker threads
    # leave their Python frames before the JVM goes away.
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
    """Route a few calls through a throw-away core and bridge, once per process.

    The first call through the bridge pays one-time costs (class loading, JPype's method
    lookup, JIT) of tens of milliseconds, which would eat a real call's 50 ms hook budget.
    """
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        core = jc.RoutingCore(1)
        core.setThreadHost(_proxy_classes()[0]())
        builder = jc.Directory.builder()
        builder.addUser("warm", "", False, False, False)
        builder.addNumber("1", "warm")
        core.setDirectory(builder.build())
        core.setHookBudgetMillis(5000.0)
        bridge = _proxy_classes()[1](HookHolder(_WarmUpHook()))
        core.register("warm-up", jc.STAGE, jc.PythonHook(bridge))
        try:
            for _ in range(3):
                core.routeJson("2", "1")
        finally:
            core.shutdown()
            core.awaitTermination(1000.0)
        _warmed = True


class RoutingHost:
    """The routing core with its registered Python hooks; one call = one `route()`.

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
    ) -> None:
        ensure_jvm()
        self._jc = _JavaClasses()
        _warm_up_once(self._jc)
        self._core = self._jc.RoutingCore(workers)
        # Before the first call: the workers start with it, each inside a Python frame.
        self._thread_host = _proxy_classes()[0]()
        self._core.setThreadHost(self._thread_host)
        self._core.setHookBudgetMillis(float(hook_budget_ms))
        self._core.setHopLimit(hop_limit)
        self._on_module_error = on_module_error
        self._on_module_log = on_module_log
        self._modules: dict[str, _PythonModule] = {}
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

    def register_hook(
        self, module_id: str, hook: PythonCallHook, *, log_level: str = "TRACE"
    ) -> None:
        """Call `hook.on_call(called, caller)` once per call to a user, from now on.

        Registering the same `module_id` again replaces the earlier hook object (calls in
        flight finish with the old one).
        """
        with self._lock:
            existing = self._modules.get(module_id)
            if existing is not None and existing.holder is not None:
                existing.holder.hook = hook
                return
            holder = HookHolder(hook)
            java_hook = self._jc.PythonHook(_proxy_classes()[1](holder))
            log = self.module_log(module_id, log_level)
            self._core.register(module_id, self._jc.STAGE, java_hook, log)
            self._modules[module_id] = _PythonModule(java_hook, holder)

    def module_log(self, module_id: str, log_level: str = "TRACE") -> Any:
        """The Java ModuleLog of the module (its lines reach `on_module_log` off the call
        path); made once per module id."""
        log = self._logs.get(module_id)
        if log is None:
            log = self._log_queue.forModule(module_id, self._jc.LogLevel.valueOf(log_level))
            self._logs[module_id] = log
        return log

    def register_function(self, module_id: str, stage: str, java_hook: Any) -> None:
        """Call the module's Java call-processing function (a KernelHook, see
        de.sfhost.module.runtime.FunctionHost) once per call to a user at `stage`, replacing
        what the module had registered. Refused when this host has no such stage."""
        with self._lock:
            try:
                self._core.register(module_id, stage, java_hook, self.module_log(module_id))
            except self._jc.IllegalArgumentException as exc:
                raise Refused(f"module {module_id}: {exc.getMessage()}") from None
            self._modules[module_id] = _PythonModule(java_hook, None)

    def set_load_problems(self, module_id: str, problems: Sequence[str]) -> None:
        """What went wrong loading the module (empty: nothing); each call's module_errors
        lists these, so `sfm call` shows why a module was routed around."""
        with self._lock:
            if problems:
                self._load_problems[module_id] = list(problems)
            else:
                self._load_problems.pop(module_id, None)

    def java_hook(self, module_id: str) -> Any:
        """The Java `PythonHook` (a KernelHook) that stands for the module in the core (None if
        not registered); for benchmarks and Java-side callers that register it themselves.
        Its `onCall` runs the Python hook on the calling thread, with no time budget."""
        module = self._modules.get(module_id)
        return None if module is None else module.java_hook

    def unregister_hook(self, module_id: str) -> None:
        """Stop calling the module's hook (calls in flight finish with it)."""
        with self._lock:
            module = self._modules.pop(module_id, None)
        if module is None:
            return
        self._core.unregister(module_id, self._jc.STAGE)

    def set_module_enabled(self, module_id: str, enabled: bool, reason: str) -> None:
        """Switch a module on or off for calls (off: not called, calls route as if it were
        absent, e.g. when the trial ran out unlicensed). The reason goes to the module log."""
        self._core.setModuleEnabled(module_id, bool(enabled), reason)

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
                module_id = str(line.moduleId)
                level = str(line.level.name())
                message = str(line.message)
                if self._on_module_log is not None:
                    self._on_module_log(module_id, level, message)
                else:
                    _LOG.log(_PY_LEVELS.get(level, logging.INFO), "%s: %s", module_id, message)
                if level == "ERROR" and self._on_module_error is not None:
                    self._on_module_error(module_id, message)
            except Exception:
                _LOG.exception("writing a module log line failed")
            finally:
                self._log_busy = self._log_queue.pending() > 0

    def close(self) -> None:
        """Stop the core's worker threads and the log writer; idempotent.

        The host routes no calls afterwards. Waits up to a second for the workers to end (one
        stuck in a hook ends when the hook returns).
        """
        if self._closed.is_set():
            return
        for module_id in list(self._modules):
            self.unregister_hook(module_id)
        self.flush_log(timeout=1.0)
        self._closed.set()
        self._core.shutdown()
        if not self._core.awaitTermination(1000.0):
            self._stop_stuck_workers()
        if self._log_thread is not threading.current_thread():
            self._log_thread.join(timeout=1.0)
        _HOSTS.discard(self)

    def _stop_stuck_workers(self) -> None:
        """Raise SystemExit in workers still running a hook's Python code after close.

        A worker is a Java thread running Python: if one were still executing Python when the
        interpreter finalises at exit, CPython would end it from under the JVM (the process
        aborted in about half the runs with a hook looping forever). The exception reaches the
        hook at its next bytecode; the worker then leaves its loop and ends. A hook blocked
        in C (sleep, a lock) is not disturbed.
        """
        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
        for ident in list(self._thread_host.inside):
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
    """The Java classes the shim uses, looked up once the JVM runs."""

    def __init__(self) -> None:
        self.RoutingCore = jpype.JClass("de.sfhost.core.RoutingCore")
        self.Directory = jpype.JClass("de.sfhost.core.Directory")
        self.PythonHook = jpype.JClass("de.sfhost.core.PythonHook")
        self.ModuleLogQueue = jpype.JClass("de.sfhost.core.ModuleLogQueue")
        self.LogLevel = jpype.JClass("de.sfhost.module.api.LogLevel")
        self.IllegalArgumentException = jpype.JClass("java.lang.IllegalArgumentException")
        self.StringArray = jpype.JArray(jpype.JString)
        self.STAGE = str(
            jpype.JClass("de.sfhost.module.api.HookRegistry").STAGE_POST_TARGET_DETERMINATION_INCOMING
        )


def java_directory(directory: PbxDirectory) -> Any:
    """The Java `de.sfhost.core.Directory` of a PBX directory (Refused naming the file when
    the core refuses it)."""
    ensure_jvm()
    jc = _JavaClasses()
    builder = jc.Directory.builder()
    plan = directory.plan
    for u in directory.users:
        builder.addUser(u.id, u.name, u.dnd, u.call_waiting, u.busy)
        if u.numbers:
            builder.setFirstNumber(u.id, u.numbers[0])  # the SIP front rings it
        for r in u.redirects:
            forms: list[str] = []
            if r.destination is not None and r.destination != VOICEMAIL:
                forms = list(plan.forms(r.destination))
            builder.setRedirect(
                u.id, r.kind.upper(), r.enabled, r.destination, jc.StringArray(forms), r.seconds
            )
    for g in directory.groups:
        builder.addGroup(g.id, g.name, g.strategy, jc.StringArray(list(g.members)))
    for form, party_id in directory.number_owner.items():
        builder.addNumber(form, party_id)
    try:
        return builder.build()
    except jc.IllegalArgumentException as exc:
        raise Refused(f"{directory.source}: {exc.getMessage()}") from None


def direct_proxy(hook: PythonCallHook) -> Any:
    """`hook` as a plain Java KernelHook (a JProxy that Java calls directly).

    Not used on the call path: a Java-owned worker calling it pays for a new Python thread
    state per call. The benchmark uses it to measure the bridge floor from the main thread
    and the naive design. Exceptions reach Java as HookFailure with the message.
    """
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
