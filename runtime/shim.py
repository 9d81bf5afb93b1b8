"""The JPype bridge between the Java routing core and module hooks written in Python.

`RoutingHost` owns one Java `de.sfhost.core.RoutingCore` (calls come in on its Java worker
threads, as in a real PBX) and registers Python hooks there.

Why a queue and not a plain JProxy: a Java-owned thread that calls into Python makes CPython
create and destroy a thread state on every call (about 60 µs here), while a thread that
Python itself started pays only the bridge crossing (a few µs). So a routing worker never
calls Python. For each module the core holds a `QueuedHook`; the worker queues the call's
numbers there and waits, within the time budget, on a future. Long-lived Python threads,
started here, sit in the Java `take()` (the GIL released while they wait), run the module's
`on_call` once per call, and complete the future with the answer. A hook that raises is caught
here: its traceback goes to the module log and Java gets a failure carrying the message; a hook
that is too slow is left behind by the worker, which routes the call as if the module were
absent.

Log lines of the core (errors of hooks, a module switched off) are queued in Java and written
by a Python thread of this host, off the call path, to `on_module_log` / `on_module_error`.
"""

from __future__ import annotations

import atexit
import contextlib
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

from runtime.errors import Refused
from runtime.jvm import ensure_jvm
from runtime.numbering import is_withheld, normalise
from runtime.pbx_directory import VOICEMAIL, PbxDirectory

STAGE = "PostTargetDeterminationIncoming"
_LOG = logging.getLogger("runtime.modules")
# Separators of the applied-instances text handed to Java in one string (HookRequest).
_RS = "\x1e"
_US = "\x1f"


class HookAnswerLike(Protocol):
    """The fields of `breakthrough.hook.HookAnswer` the host reads."""

    @property
    def ignore_dnd(self) -> bool: ...
    @property
    def ignore_redirects(self) -> bool: ...
    @property
    def ignore_redirects_to_caller(self) -> bool: ...
    @property
    def force_call_waiting(self) -> bool: ...
    @property
    def applied(self) -> Sequence[tuple[str, Sequence[str]]]: ...


class PythonCallHook(Protocol):
    """A module's call hook: called once per call (for a user target) for all its instances."""

    def on_call(self, called: str, caller: str | None) -> HookAnswerLike: ...


ModuleErrorCallback = Callable[[str, str], None]
ModuleLogCallback = Callable[[str, str, str], None]


def encode_answer(answer: HookAnswerLike) -> tuple[int, str | None]:
    """The answer as HookRequest flags and the applied-instances text (None when none)."""
    flags = (
        (1 if answer.ignore_dnd else 0)
        | (2 if answer.ignore_redirects else 0)
        | (4 if answer.ignore_redirects_to_caller else 0)
        | (8 if answer.force_call_waiting else 0)
    )
    applied = answer.applied
    if not applied:
        return flags, None
    return flags, _RS.join(_US.join((name, *effects)) for name, effects in applied)


def _serve(bridge: Any, module_id: str, holder: _HookHolder) -> None:
    """Body of a hook thread: answer the module's calls until the bridge is closed.

    The thread was started by Python, so its Python thread state lives as long as it does.
    Each call costs one bridge crossing: `answerAndTake` hands Java the previous answer and
    returns the next call's numbers as one string (method calls and one string are much
    cheaper through JPype than reading Java fields).
    """
    try:
        numbers = bridge.takeNumbers()
        while numbers is not None:
            called, _, caller = str(numbers).partition(_US)
            try:
                answer = holder.hook.on_call(called, caller or None)
                flags, applied = encode_answer(answer)
            except Exception as exc:
                # Java would see a Python exception without its text: hand it the message,
                # and the traceback for the module log.
                numbers = bridge.failAndTake(f"{type(exc).__name__}: {exc}", traceback.format_exc())
                continue
            numbers = bridge.answerAndTake(flags, applied)
    except Exception:  # the JVM interrupted this thread: nothing left to answer
        _LOG.exception("hook thread of module %s stopped", module_id)


@dataclass
class _HookHolder:
    hook: PythonCallHook


@dataclass
class _PythonModule:
    bridge: Any
    holder: _HookHolder
    threads: list[threading.Thread]


_HOSTS: weakref.WeakSet[RoutingHost] = weakref.WeakSet()


@atexit.register
def _close_all_hosts() -> None:
    # Registered after JPype's own exit handler, so it runs first: the hook threads leave
    # their Java take() before the JVM goes away.
    for host in list(_HOSTS):
        with contextlib.suppress(Exception):
            host.close()


class _NoChange:
    """A hook answer that changes nothing (for the warm-up)."""

    ignore_dnd = ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False
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
        builder = jc.Directory.builder()
        builder.addUser("warm", "", False, False, False)
        builder.addNumber("1", "warm")
        core.setDirectory(builder.build())
        core.setHookBudgetMillis(5000.0)
        bridge = jc.QueuedHook()
        thread = threading.Thread(
            target=_serve, args=(bridge, "warm-up", _HookHolder(_WarmUpHook())), daemon=True
        )
        thread.start()
        core.register("warm-up", STAGE, bridge)
        try:
            for _ in range(3):
                core.routeJson("2", "1")
        finally:
            bridge.close()
            core.shutdown()
            thread.join(timeout=1.0)
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
        hook_threads: int = 2,
        spin_us: float = 0.0,
        on_module_error: ModuleErrorCallback | None = None,
        on_module_log: ModuleLogCallback | None = None,
    ) -> None:
        ensure_jvm()
        self._jc = _JavaClasses()
        _warm_up_once(self._jc)
        self._core = self._jc.RoutingCore(workers)
        self._core.setHookBudgetMillis(float(hook_budget_ms))
        self._core.setHopLimit(hop_limit)
        self._hook_threads = max(1, hook_threads)
        # Polling before parking saves a thread wake-up per hand-over when a core is free;
        # on a loaded machine it only burns CPU, hence off by default.
        self._spin_ns = int(spin_us * 1000)
        self._core.setAnswerSpinNanos(self._spin_ns)
        self._on_module_error = on_module_error
        self._on_module_log = on_module_log
        self._modules: dict[str, _PythonModule] = {}
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
        jc = self._jc
        builder = jc.Directory.builder()
        plan = directory.plan
        for u in directory.users:
            builder.addUser(u.id, u.name, u.dnd, u.call_waiting, u.busy)
            for r in u.redirects:
                forms: list[str] = []
                if r.destination is not None and r.destination != VOICEMAIL:
                    forms = list(plan.forms(r.destination))
                builder.setRedirect(
                    u.id,
                    r.kind.upper(),
                    r.enabled,
                    r.destination,
                    jc.StringArray(forms),
                    r.seconds,
                )
        for g in directory.groups:
            builder.addGroup(g.id, g.name, g.strategy, jc.StringArray(list(g.members)))
        for form, party_id in directory.number_owner.items():
            builder.addNumber(form, party_id)
        try:
            built = builder.build()
        except jc.IllegalArgumentException as exc:
            raise Refused(f"{directory.source}: {exc.getMessage()}") from None
        self._core.setDirectory(built)
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
            if existing is not None:
                existing.holder.hook = hook
                return
            bridge = self._jc.QueuedHook(self._spin_ns)
            holder = _HookHolder(hook)
            threads = [
                threading.Thread(
                    target=_serve,
                    args=(bridge, module_id, holder),
                    name=f"sfhost-hook-{module_id}-{i}",
                    daemon=True,
                )
                for i in range(self._hook_threads)
            ]
            for t in threads:
                t.start()
            log = self._log_queue.forModule(module_id, self._jc.LogLevel.valueOf(log_level))
            self._core.register(module_id, STAGE, bridge, log)
            self._modules[module_id] = _PythonModule(bridge, holder, threads)

    def java_hook(self, module_id: str) -> Any:
        """The Java QueuedHook that stands for the module in the core (None if not registered);
        for benchmarks and Java-side callers that register it themselves."""
        module = self._modules.get(module_id)
        return None if module is None else module.bridge

    def unregister_hook(self, module_id: str) -> None:
        """Stop calling the module's hook; its threads end."""
        with self._lock:
            module = self._modules.pop(module_id, None)
        if module is None:
            return
        self._core.unregister(module_id, STAGE)
        module.bridge.close()
        for t in module.threads:
            t.join(timeout=1.0)

    def set_module_enabled(self, module_id: str, enabled: bool, reason: str) -> None:
        """Switch a module on or off for calls (off: not called, calls route as if it were
        absent, e.g. when the trial ran out unlicensed). The reason goes to the module log."""
        self._core.setModuleEnabled(module_id, bool(enabled), reason)

    def is_module_enabled(self, module_id: str) -> bool:
        return bool(self._core.isModuleEnabled(module_id))

    # ---- calls -------------------------------------------------------------------------

    def route(self, caller: str | None, called: str) -> dict[str, Any]:
        """Route one call on a Java worker thread; the `sfm call` JSON document as a dict.

        `caller` None, "" or "anonymous" is a withheld number. A malformed number, or a
        called number that no user or group has, is refused (Refused names it).
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
        """Stop the hook threads, the log writer and the core's threads; idempotent.

        The host routes no calls afterwards.
        """
        if self._closed.is_set():
            return
        for module_id in list(self._modules):
            self.unregister_hook(module_id)
        self.flush_log(timeout=1.0)
        self._closed.set()
        self._core.shutdown()
        if self._log_thread is not threading.current_thread():
            self._log_thread.join(timeout=1.0)
        _HOSTS.discard(self)


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
        self.QueuedHook = jpype.JClass("de.sfhost.core.QueuedHook")
        self.ModuleLogQueue = jpype.JClass("de.sfhost.core.ModuleLogQueue")
        self.LogLevel = jpype.JClass("de.sfhost.module.api.LogLevel")
        self.IllegalArgumentException = jpype.JClass("java.lang.IllegalArgumentException")
        self.StringArray = jpype.JArray(jpype.JString)


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
