"""The PBX host as the data folder describes it: directory, installed modules, instances, gates.

`load_host(data_dir)` gives the `RoutingHost` that `sfm call` routes through; `open_host`
gives the `Host` around it, for a long-running process (`sfm serve`) that must follow changes:
`reload_instances(module_id)` after an instance changed (the module's hook takes the active
instances at once; calls in flight finish with the old ones), `reload_module(module_id)` after
an install, upgrade, rollback or removal, `reload_licence(module_id)` after the licence changed,
`reload_directory()` after `sfm pbx load`.

The host names no module: it runs what each installed build's descriptor declares
(docs/MODULE_CONTRACT.md). Per build: its Java classes in a class loader of their own (parent:
the module API of the PBX version the host runs as), the life-cycle functions at stage
`SystemStarted` when the build is loaded and at `InstanceChanged` for each instance when the
instances change, and the `agiKernelEntryPoint`'s function on every call to a user. The
build's Python code runs in a process of its own (`de.sfhost.core.ModuleProcess`), reached
through the host component `ModulePython`. Whatever uploaded code does wrong (raises, hangs,
holds the GIL, a class file that does not load) is a problem of that module: it is logged,
listed by `module_problems` and in every call's module_errors, and calls route without the
module. Log lines go to the per-instance log files through one writer thread, never on the
call path.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jpype

from runtime import db, jvm
from runtime.modules import installer, java_code, loader, store
from runtime.modules.instance_log import InstanceLogSink, InstanceLogWriter, writer_for
from runtime.modules.module_client import python_log_path
from runtime.pbx_number_plan import PbxNumberPlan
from runtime.routing_host import RoutingHost

MODULE_LOG_NAME = "module.log"
START_STAGE = "SystemStarted"
INSTANCE_CHANGED_STAGE = "InstanceChanged"


@dataclass
class _ModuleRuntime:
    """One runnable module build as loaded: its classes, its Python process, its log."""

    module_id: str
    name: str
    build: str
    folder: Path
    code: java_code.ModuleCode
    sink: InstanceLogSink
    class_loader: Any = None
    function_host: Any = None  # de.sfhost.module.runtime.FunctionHost of the PBX's API
    python: Any = None  # the build's Java ModulePython (None: no Python package)
    process: Any = None  # the Java ModuleProcess that runs the build's Python code
    problems: list[str] = field(default_factory=list)
    instance_names: tuple[str, ...] = ()


@dataclass
class Host:
    """The routing core with every installed module's functions, kept in step with the data
    folder. Thread-safe for reloads (one at a time) while calls are routed from other threads.
    """

    data_dir: Path
    routing: RoutingHost
    writer: InstanceLogWriter
    problems: list[str] = field(default_factory=list)  # what could not be loaded, in words
    _modules: dict[str, _ModuleRuntime] = field(default_factory=dict)
    _problems: dict[str, list[str]] = field(default_factory=dict)
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
        """Use DATA/pbx.toml (if loaded) with the users' live state (DND, redirects) for
        calls, and hand the modules its number plan."""
        from runtime.pbx_directory import stored_path
        from runtime.pbx_live import live_directory

        path = stored_path(self.data_dir)
        if not path.is_file():
            return
        with self._lock:
            self.routing.load_directory(live_directory(self.data_dir))
            for module_id in list(self._modules):
                self._compile_into(self._modules[module_id])

    def reload_live_state(self) -> None:
        """Use the users' new live DND/redirects for the next calls (`sfm pbx user`, the
        phones page): the directory only, no rules recompiled (the number plan is the same)."""
        from runtime.pbx_directory import stored_path
        from runtime.pbx_live import live_directory

        if not stored_path(self.data_dir).is_file():
            return
        with self._lock:
            self.routing.load_directory(live_directory(self.data_dir))

    def reload_module(self, module_id: str) -> None:
        """Follow the module's row: load its current build, or drop a removed module.

        An inspect-only module runs nothing. What fails in a build's code is listed by
        `module_problems` (calls route as if the module were absent where it failed).
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
                    self._drop(loaded)
                self._problems.pop(module_id, None)
                self.routing.set_load_problems(module_id, ())
                return
            if loaded is not None and loaded.build == module.current.build:
                self._compile_into(loaded)
                self.reload_licence(module_id)
                return
            if loaded is not None:
                self._drop(loaded)
            folder = installer.build_dir(self.data_dir, module_id, module.current.build)
            runtime = _ModuleRuntime(
                module_id=module_id,
                name=module.name,
                build=module.current.build,
                folder=folder,
                code=java_code.read_build(folder),
                sink=InstanceLogSink(self.writer),
            )
            self._modules[module_id] = runtime
            self._problems[module_id] = runtime.problems
            # The instance logs first, so that they get the lines about a failing start.
            rows = self._rows(module_id)
            runtime.sink.set_instances({row.name: (row.id, row.log_level) for row in rows})
            self._start(runtime)
            self._compile_into(runtime)
            self.reload_licence(module_id)
            self.routing.set_load_problems(module_id, runtime.problems)

    def _drop(self, runtime: _ModuleRuntime) -> None:
        """Stop calling the build's function and let go of its classes and Python code."""
        self.routing.unregister_hook(runtime.module_id)
        self.routing.close_module_process(runtime.module_id)
        self._modules.pop(runtime.module_id, None)
        runtime.class_loader = runtime.function_host = runtime.python = runtime.process = None

    def _start(self, runtime: _ModuleRuntime) -> None:
        """Load the build's classes, run its start functions, register its call function."""
        for problem in runtime.code.problems:
            self._problem(runtime, problem)
        flavor = jvm.log_api_for(installer.pbx_version(self.data_dir))
        api_loader = jvm.api_class_loader(flavor)
        runtime.function_host = jpype.JClass(
            "de.sfhost.module.runtime.FunctionHost", loader=api_loader
        )
        runtime.class_loader = java_code.class_loader(
            f"{runtime.module_id} {runtime.build}", runtime.code, api_loader
        )
        if loader.package_folder(runtime.folder) is not None:
            runtime.process = self.routing.module_process(
                runtime.module_id, runtime.folder, python_log_path(self.data_dir, runtime.module_id)
            )
            runtime.python = jpype.JClass("de.sfhost.module.ext.ModulePython")(
                runtime.module_id, runtime.process
            )
        for function in runtime.code.functions_at(java_code.LIFECYCLE_ENTRY, START_STAGE):
            self._run_life_cycle(runtime, function, None)
        for function in runtime.code.functions_at(java_code.KERNEL_ENTRY):
            if not self._loads(runtime, function):
                continue
            try:
                java_hook = runtime.function_host.kernelFunction(
                    runtime.module_id,
                    runtime.name,
                    runtime.class_loader,
                    function.class_name,
                    self.routing.module_log(runtime.module_id),
                    runtime.python,
                )
                self.routing.register_function(runtime.module_id, function.stage, java_hook)
            except Exception as exc:  # not a call-processing function, or a stage we lack
                self._problem(
                    runtime,
                    f"its function {function.class_name} at {function.stage} cannot run "
                    f"({_text(exc)}); calls go on without the module",
                )
        if runtime.python is not None and not runtime.python.isStarted() and not runtime.problems:
            # No life-cycle function started the Python code: nothing asks its hook.
            self._problem(runtime, "no start function of the module started its Python code")

    def _loads(self, runtime: _ModuleRuntime, function: java_code.JavaFunction) -> bool:
        """Whether the function's class loads in the build's loader; a problem when it does
        not (missing, a corrupt class file, a class it needs that is missing). Its Class
        object never comes to Python (JPype would keep it, and with it the build's loader)."""
        problem = runtime.function_host.loadProblem(runtime.class_loader, function.class_name)
        if problem is None:
            return True
        self._problem(
            runtime,
            f"its class {function.class_name} ({function.kind} {function.stage}) does not "
            f"load ({problem}); calls go on without the module",
        )
        return False

    def _run_life_cycle(
        self, runtime: _ModuleRuntime, function: java_code.JavaFunction, row: Any
    ) -> None:
        if not self._loads(runtime, function):
            return
        host, class_loader = runtime.function_host, runtime.class_loader
        log = self.routing.module_log(runtime.module_id)
        variables = java_code.java_variables(row.config) if row is not None else None
        what = f"its life-cycle function {function.class_name} at {function.stage}"
        try:
            loader.run_uploaded(
                lambda: host.runLifeCycle(
                    runtime.module_id,
                    runtime.name,
                    class_loader,
                    function.class_name,
                    log,
                    runtime.python,
                    None if row is None else str(row.id),
                    None if row is None else row.name,
                    False if row is None else not row.active,
                    variables,
                ),
                what,
                # ModulePython.start() in it has its own limits: import, then start(api)
                loader.IMPORT_TIME_LIMIT + 2 * loader.TIME_LIMIT,
            )
        except loader.UploadedCodeFailed as exc:
            self._problem(runtime, str(exc))

    def reload_instances(self, module_id: str) -> None:
        """Run the module's InstanceChanged functions for each instance and hand its hook the
        active instances from the database (swapped in whole)."""
        with self._lock:
            loaded = self._modules.get(module_id)
            if loaded is None:
                self.reload_module(module_id)
                return
            functions = loaded.code.functions_at(java_code.LIFECYCLE_ENTRY, INSTANCE_CHANGED_STAGE)
            if functions:
                for row in self._rows(module_id):
                    for function in functions:
                        self._run_life_cycle(loaded, function, row)
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
        enabled = gate is None or gate.allows()
        reason = "licensing is not available in this host" if gate is None else gate.reason
        self.routing.set_module_enabled(module_id, enabled, reason)
        seconds_left = None if gate is None else gate.seconds_left()
        self.routing.set_module_allowed_for(module_id, seconds_left)

    def _rows(self, module_id: str) -> list[store.InstanceRow]:
        conn = db.connect(self.data_dir)
        try:
            return store.list_instances(conn, module_id)
        finally:
            conn.close()

    def _compile_into(self, loaded: _ModuleRuntime) -> None:
        """Hand the module's hook its active instances and the PBX's number plan."""
        rows = self._rows(loaded.module_id)
        # The sink learns the names first, so the lines about a refused config reach its log.
        loaded.sink.set_instances({row.name: (row.id, row.log_level) for row in rows})
        process = loaded.process
        if process is None or not process.wantsInstances():
            return
        active = [row for row in rows if row.active]
        instances = [
            {"name": row.name, "log_level": row.log_level, "variables": row.config}
            for row in active
        ]
        payload = json.dumps({"instances": instances, "plan": self._plan()})
        try:
            answer = json.loads(str(process.setInstances(payload, loader.TIME_LIMIT * 1000.0)))
            if "error" in answer:
                raise loader.UploadedCodeFailed(str(answer["error"]))
        except (jpype.JException, loader.UploadedCodeFailed) as exc:
            reason = exc.getMessage() if isinstance(exc, jpype.JException) else exc
            self._problem(loaded, f"no instance is used: {reason}")
            loaded.instance_names = ()
            return
        refused = dict(answer.get("refused") or {})
        for row in active:
            if row.name in refused:
                message = f"instance {row.name!r} is not used: {refused[row.name]}"
                self._problem(loaded, message)
                self.writer.write(row.id, "ERROR", message)
        loaded.instance_names = tuple(r.name for r in active if r.name not in refused)

    def _plan(self) -> dict[str, str]:
        """The loaded directory's [pbx] number plan as modules get it; the host's default plan
        while none is loaded (what the call tester's explanations get too)."""
        directory = self.routing.directory
        return asdict(directory.plan if directory is not None else PbxNumberPlan())

    def module_problems(self, module_id: str) -> list[str]:
        """What is wrong with the module's loaded build, in words (empty: nothing)."""
        problems = list(self._problems.get(module_id, ()))
        loaded = self._modules.get(module_id)
        if loaded is not None and loaded.process is not None:
            problems.extend(str(p) for p in loaded.process.problems())
        return problems

    def module_process_id(self, module_id: str) -> int | None:
        """The process id of the module's Python process while it runs (None: none)."""
        loaded = self._modules.get(module_id)
        pid = -1 if loaded is None or loaded.process is None else int(loaded.process.pid())
        return None if pid < 0 else pid

    def _problem(self, runtime: _ModuleRuntime, message: str) -> None:
        runtime.problems.append(message)
        self.problems.append(f"module {runtime.name}: {message}")
        self.write_module_log(runtime.module_id, "ERROR", message)
        self.routing.set_load_problems(runtime.module_id, runtime.problems)

    # ---- logs --------------------------------------------------------------------------

    def write_module_log(self, module_id: str, level: str, message: str) -> None:
        """A line about the module as a whole: to each of its instance logs (by level)."""
        loaded = self._modules.get(module_id)
        if loaded is None:
            return
        for name in loaded.sink.names():
            loaded.sink(name, level, f"[module] {message}")

    def write_instance_log(self, module_id: str, instance: str, level: str, message: str) -> None:
        """A line the module's own code wrote for one of its instances."""
        loaded = self._modules.get(module_id)
        if loaded is not None:
            loaded.sink(instance, level, message)

    def flush_logs(self, timeout: float = 5.0) -> None:
        """Put every log line so far on disk (before reading a log, before exit)."""
        with contextlib.suppress(Exception):
            self.routing.flush_log(timeout)
        self.writer.flush(timeout)

    # ---- calls -------------------------------------------------------------------------

    def route(
        self, caller: str | None, called: str, *, with_changes: bool = True
    ) -> dict[str, Any]:
        """One call through the core and every active instance (the `sfm call` document;
        see `RoutingHost.route` for `with_changes`)."""
        return self.routing.route(caller, called, with_changes=with_changes)

    def module_ids(self) -> tuple[str, ...]:
        """The modules loaded now."""
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


def problems_of(data_dir: Path, module_id: str) -> list[str]:
    """What the host running in this process found wrong with the module's loaded build (for
    the module list); empty when none runs here or nothing is wrong."""
    host = running_host(data_dir)
    return [] if host is None else host.module_problems(module_id)


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

    def instance_log(module_id: str, instance: str, level: str, message: str) -> None:
        host = holder.get("host")
        if host is not None:
            host.write_instance_log(module_id, instance, level, message)

    routing = RoutingHost(on_module_log=module_log, on_instance_log=instance_log, **routing_options)
    host = Host(data_dir=data_dir, routing=routing, writer=writer)
    holder["host"] = host
    # Registered after the routing host's and the writer's exit handlers, so it runs before them:
    # the core's last lines reach the writer, and the writer then empties its queue.
    atexit.register(host.flush_logs, 2.0)
    if register:  # the serving host rewrites instance rows of an older shape, once
        from runtime.modules.instances import migrate_stored

        migrate_stored(data_dir)
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


def _text(exc: BaseException) -> str:
    """A Java exception's class and message, or a Python one's type and text."""
    if hasattr(exc, "getClass"):
        with contextlib.suppress(Exception):
            return f"{exc.getClass().getName()}: {exc.getMessage()}"  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}"
