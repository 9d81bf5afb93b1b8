"""The PBX host as the data folder describes it: directory, installed modules, instances, gates.

`load_host(data_dir)` gives the `RoutingHost` that `sfm call` routes through; `open_host`
gives the `Host` around it, for a long-running process (`sfm serve`) that must follow changes:
`reload_instances(module_id)` after an instance changed (its compiled rules are swapped in at
once; calls in flight finish with the old tuple), `reload_module(module_id)` after an install,
upgrade, rollback or removal, `reload_licence(module_id)` after the licence changed,
`reload_directory()` after `sfm pbx load`.

Each runnable module runs the code of its installed build (loaded from its build folder, so an
upgrade changes the code), with one hook object per module holding all its active instances.
Log lines (the hook's and the routing core's about the module) go to the per-instance log
files through one writer thread, never written on the call path.
"""

from __future__ import annotations

import atexit
import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import db
from runtime.modules import installer, loader, store
from runtime.modules.instance_log import InstanceLogSink, InstanceLogWriter, writer_for
from runtime.shim import RoutingHost

MODULE_LOG_NAME = "module.log"


class _LicenceGatedHook:
    """The module's hook behind its licence gate, checked on each call by one comparison.

    The gate (`runtime.licensing.status.ModuleGate`) is built when the host starts and when
    the licence changes, never by a timer: a trial that ends while the host runs stops
    changing calls from that second on, and a licensed module is never switched off.
    """

    def __init__(self, hook: Any, no_change: Any) -> None:
        self.hook = hook
        self.no_change = no_change
        self.gate: Any = None  # None: no licensing part; the module may act

    def on_call(self, called: str, caller: str | None) -> Any:
        gate = self.gate
        if gate is not None and not gate.allows(time.time()):
            return self.no_change
        return self.hook.on_call(called, caller)


@dataclass
class _ModuleRuntime:
    """One runnable module as loaded: its build's code, its hook, its log sink."""

    module_id: str
    build: str
    package: loader.LoadedPackage
    hook: Any
    gated: _LicenceGatedHook
    sink: InstanceLogSink
    instance_names: tuple[str, ...] = ()


@dataclass
class Host:
    """The routing core with every installed module's hook, kept in step with the data folder.

    Thread-safe for reloads (one at a time) while calls are routed from other threads.
    """

    data_dir: Path
    routing: RoutingHost
    writer: InstanceLogWriter
    problems: list[str] = field(default_factory=list)  # what could not be loaded, in words
    _modules: dict[str, _ModuleRuntime] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ---- loading ---------------------------------------------------------------------

    def load(self) -> None:
        """Load the stored directory and every installed module (at start)."""
        self.reload_directory()
        conn = db.connect(self.data_dir)
        try:
            module_ids = store.list_module_ids(conn)
        finally:
            conn.close()
        for module_id in module_ids:
            self.reload_module(module_id)

    def reload_directory(self) -> None:
        """Use DATA/pbx.toml (if loaded) for calls, and recompile rules for its number plan."""
        from runtime.pbx_directory import load_directory, stored_path

        path = stored_path(self.data_dir)
        if not path.is_file():
            return
        with self._lock:
            self.routing.load_directory(load_directory(path))
            for module_id in list(self._modules):
                self.reload_instances(module_id)

    def reload_module(self, module_id: str) -> None:
        """Follow the module's row: load its current build's code, or drop a removed module.

        An inspect-only module (no Python runtime) gets no hook. A build whose code fails to
        load is skipped with its reason in `problems` (calls route as if it were absent).
        """
        with self._lock:
            conn = db.connect(self.data_dir)
            try:
                module = store.get_module(conn, module_id)
            finally:
                conn.close()
            loaded = self._modules.get(module_id)
            if module is None or not module.current.runnable:
                if loaded is not None:
                    self.routing.unregister_hook(module_id)
                    del self._modules[module_id]
                return
            if loaded is None or loaded.build != module.current.build:
                folder = installer.build_dir(self.data_dir, module_id, module.current.build)
                try:
                    package = loader.load_package(folder)
                    hook_module = package.submodule("hook")
                    sink = InstanceLogSink(self.writer)
                    hook = hook_module.BreakthroughHook((), log=sink)
                    gated = _LicenceGatedHook(hook, hook_module.NO_CHANGE)
                except Exception as exc:  # uploaded code: whatever it raises, the PBX runs on
                    self._problem(module_id, f"module {module.name}: its code does not load "
                                  f"({type(exc).__name__}: {exc}); calls go on without it")
                    if loaded is not None:
                        self.routing.unregister_hook(module_id)
                        del self._modules[module_id]
                    return
                loaded = _ModuleRuntime(
                    module_id, module.current.build, package, hook, gated, sink
                )
                self._modules[module_id] = loaded
                self._compile_into(loaded)
                self.reload_licence(module_id)
                self.routing.register_hook(module_id, gated)
            else:
                self._compile_into(loaded)
                self.reload_licence(module_id)

    def reload_instances(self, module_id: str) -> None:
        """Recompile the module's active instances from the database and swap them in whole."""
        with self._lock:
            loaded = self._modules.get(module_id)
            if loaded is None:
                self.reload_module(module_id)
                return
            self._compile_into(loaded)

    def reload_licence(self, module_id: str) -> None:
        """Gate the module's hook by its licence state (trial, licensed: on; expired: off)."""
        loaded = self._modules.get(module_id)
        if loaded is None:
            return
        conn = db.connect(self.data_dir)
        try:
            gate = licence_gate(conn, self.data_dir, module_id)
        finally:
            conn.close()
        loaded.gated.gate = gate
        enabled = gate is None or gate.allows(time.time())
        reason = "licensing is not available in this host" if gate is None else gate.reason
        self.routing.set_module_enabled(module_id, enabled, reason)

    def _compile_into(self, loaded: _ModuleRuntime) -> None:
        conn = db.connect(self.data_dir)
        try:
            rows = store.list_instances(conn, loaded.module_id)
        finally:
            conn.close()
        package = loaded.package
        # The sink learns the names first, so the lines about a refused config reach its log.
        loaded.sink.set_instances({row.name: (row.id, row.log_level) for row in rows})
        compiled: list[Any] = []
        try:
            rules = package.submodule("rules")
            plan = self._plan(package)
        except Exception as exc:  # uploaded code, or a plan it refuses: no instance runs
            self._problem(
                loaded.module_id,
                f"no instance of module {loaded.module_id} is used: its rules cannot be "
                f"compiled ({type(exc).__name__}: {exc})",
            )
            loaded.hook.replace_instances(())
            loaded.instance_names = ()
            return
        for row in rows:
            if not row.active:
                continue
            try:
                # Rows hold the variables by the descriptor's names; the module reads its file.
                from runtime.modules import instances, module_config

                settings = module_config.load(package.folder.parent.parent)
                mapping = settings.to_file(instances.stored(settings, row))
                cfg = package.config.parse_instance(mapping, f"instance {row.name!r}")
                compiled.append(rules.compile_instance(cfg, plan))
            except Exception as exc:  # a stored config the installed code refuses: skip it
                message = f"instance {row.name!r} is not used: {exc}"
                self._problem(loaded.module_id, message)
                self.writer.write(row.id, "ERROR", message)
        loaded.hook.replace_instances(tuple(compiled))
        loaded.instance_names = tuple(c.name for c in compiled)

    def _plan(self, package: loader.LoadedPackage) -> Any:
        """The module's NumberPlan for the loaded directory's [pbx] table (default: none)."""
        numbers = package.submodule("numbers")
        directory = self.routing.directory
        if directory is None:
            return numbers.NumberPlan()
        plan = directory.plan
        return numbers.NumberPlan(
            country_code=plan.country_code,
            area_code=plan.area_code,
            international_prefix=plan.international_prefix,
            national_prefix=plan.national_prefix,
        )

    def _problem(self, module_id: str, message: str) -> None:
        self.problems.append(message)
        self.write_module_log(module_id, "ERROR", message)

    # ---- logs --------------------------------------------------------------------------

    def write_module_log(self, module_id: str, level: str, message: str) -> None:
        """A line about the module as a whole: to each of its instance logs (by level)."""
        loaded = self._modules.get(module_id)
        if loaded is None:
            return
        for name in loaded.sink.names():
            loaded.sink(name, level, f"[module] {message}")

    def flush_logs(self, timeout: float = 5.0) -> None:
        """Put every log line so far on disk (before reading a log, before exit)."""
        with contextlib.suppress(Exception):
            self.routing.flush_log(timeout)
        self.writer.flush(timeout)

    # ---- calls -------------------------------------------------------------------------

    def route(self, caller: str | None, called: str) -> dict[str, Any]:
        """One call through the core and every active instance (the `sfm call` document)."""
        return self.routing.route(caller, called)

    def module_ids(self) -> tuple[str, ...]:
        """The modules whose hooks are registered now."""
        return tuple(self._modules)

    def close(self) -> None:
        """Write the queued log lines and stop the routing core."""
        with _running_lock:
            if _running.get(self.data_dir.resolve()) is self:
                del _running[self.data_dir.resolve()]
        self.flush_logs(1.0)
        self.routing.close()


_running: dict[Path, Host] = {}
_running_lock = threading.Lock()


def running_host(data_dir: Path) -> Host | None:
    """The Host this process opened for `data_dir` and has not closed (e.g. in `sfm serve`).

    The JSON API uses it to make a change take effect at once for new calls.
    """
    with _running_lock:
        return _running.get(Path(data_dir).resolve())


def licence_gate(conn: sqlite3.Connection, data_dir: Path, module_id: str) -> Any:
    """The module's in-memory licence gate (`ModuleGate`), from the licensing part's status;
    None when there is no licensing part (the module may then act)."""
    try:
        from runtime.licensing.status import module_gate
    except ImportError:  # licensing is another engineer's part
        return None
    return module_gate(conn, data_dir, module_id)


def open_host(data_dir: Path, *, register: bool = True, **routing_options: Any) -> Host:
    """A Host for the data folder: directory, every installed module, their active instances.

    With `register`, `running_host(data_dir)` finds it until it is closed.
    """
    writer = writer_for(data_dir)
    holder: dict[str, Host] = {}

    def module_log(module_id: str, level: str, message: str) -> None:
        host = holder.get("host")
        if host is not None:
            host.write_module_log(module_id, level, message)

    routing = RoutingHost(on_module_log=module_log, **routing_options)
    host = Host(data_dir=data_dir, routing=routing, writer=writer)
    holder["host"] = host
    # Registered after the shim's and the writer's exit handlers, so it runs before them:
    # the core's last lines reach the writer, and the writer then empties its queue.
    atexit.register(host.flush_logs, 2.0)
    host.load()
    if register:
        with _running_lock:
            _running[data_dir.resolve()] = host
    return host


def load_host(data_dir: Path) -> RoutingHost:
    """The RoutingHost built from the data folder (see `open_host` for the whole Host).

    For one-off use (`sfm call`): the caller closes the RoutingHost; log lines are written
    at exit at the latest.
    """
    return open_host(data_dir, register=False).routing
