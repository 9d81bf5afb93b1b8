"""Benchmark of the call path: Java routing core, bridge, Python hook. Prints one JSON document.

All call figures are measured in one run, on the routing core's own Java worker threads (a
call's time is taken on the worker, from entering the core to its result):

- `ns_per_call`: mean nanoseconds per call, one caller making calls one after another;
- `p99_ns_16_callers`: the 99th percentile of a call's nanoseconds while 16 worker threads
  make calls at the same time;
- for the core with no module (`no_hook`), and Breakthrough's own call-processing function
  (its Java class `de.obyte.breakthrough.BreakthroughHook`, loaded in a module class loader as
  the host loads it, asking the module's Python hook through `ModulePython`) with a Python
  hook that does nothing (`noop_python_hook`) and with Breakthrough's shim hook
  (`sfm_module.CallHook`) holding 10 instances of 10,000 patterns in each of their four lists
  (`breakthrough`): both go through the same Java function and bridge;
- `main_thread_proxy_ns`: the bridge floor: Java calling the same no-op hook through a plain
  JProxy (`runtime.shim.direct_proxy`) on the main Python thread, i.e. a thread Python entered.

The cases are measured in interleaved rounds (`--rounds`); each figure is the best round, the
one least disturbed by other processes on the machine (medians go to stderr).

The core's workers keep a Python thread state for life and call the hook directly (see
`runtime.shim`). For comparison, stderr also shows the naive design (a plain Java worker,
started without the shim's thread host, calling the JProxy: a Python thread state made and
dropped per call) and the raw cost of the hook in Python.

Run: `.venv/bin/python bench/routing.py [--calls N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "module_src"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from bench.rule_lists import random_patterns  # noqa: E402
from breakthrough.config import parse_instance  # noqa: E402
from breakthrough.hook import NO_CHANGE, BreakthroughHook, HookAnswer  # noqa: E402
from breakthrough.number_forms import NumberPlan  # noqa: E402
from breakthrough.rules import compile_instance  # noqa: E402
from breakthrough.sfm_module import CallHook  # noqa: E402
from runtime.jvm import api_class_loader, ensure_jvm  # noqa: E402
from runtime.modules import java_code  # noqa: E402
from runtime.pbx_directory import parse_directory  # noqa: E402
from runtime.shim import (  # noqa: E402
    HookHolder,
    RoutingHost,
    direct_proxy,
    hook_bridge,
    module_python,
)
from sfm_build.javac import CompileJob, compile_all  # noqa: E402

CALLER = "00492515906850"
CALLED = "00492515906201"  # the boss: DND on, forward to the secretary
INSTANCES = 10
PATTERNS_PER_LIST = 10_000
CONCURRENT_CALLERS = 16


class NoopHook:
    """A Python hook that changes nothing (the cost of the bridge alone)."""

    def on_call(self, called: str, caller: str | None) -> HookAnswer:
        return NO_CHANGE


def directory_mapping() -> dict[str, Any]:
    return {
        "pbx": {
            "version": "8.1.0.4",
            "country_code": "49",
            "area_code": "251",
            "international_prefix": "00",
            "national_prefix": "0",
        },
        "users": [
            {
                "id": "boss",
                "name": "Max Mustermann",
                "numbers": ["201", "00492515906201"],
                "dnd": True,
                "redirects": {"always": {"enabled": True, "destination": "202"}},
            },
            {"id": "secretary", "name": "Erika Musterfrau", "numbers": ["202"]},
        ],
    }


def breakthrough_hook(plan: NumberPlan) -> BreakthroughHook:
    """10 instances, 10,000 patterns in each list; the last instance matches the call."""
    rng = random.Random(2611)
    compiled = []
    for i in range(INSTANCES):
        called_active = random_patterns(rng, PATTERNS_PER_LIST)
        caller_active = random_patterns(rng, PATTERNS_PER_LIST)
        if i == INSTANCES - 1:
            called_active[0] = "0049251590620?"
            caller_active[0] = "+4925159068*"
        cfg = parse_instance(
            {
                "name": f"Instanz {i + 1}",
                "log_level": "INFO",
                "active": True,
                "numbers": {
                    "called": {
                        "active": called_active,
                        "exceptions": random_patterns(rng, PATTERNS_PER_LIST),
                    },
                    "caller": {
                        "active": caller_active,
                        "exceptions": random_patterns(rng, PATTERNS_PER_LIST),
                    },
                },
                "settings": {"bypass_dnd": True, "bypass_redirects": True},
            },
            f"bench instance {i + 1}",
        )
        compiled.append(compile_instance(cfg, plan))
    return BreakthroughHook(compiled)


def breakthrough_function(host: RoutingHost, holder: HookHolder) -> Any:
    """Breakthrough's kernel function, compiled from module_src/jvm_src and loaded in a module
    class loader, as the routing core's hook; its ModulePython asks `holder.hook`."""
    import jpype

    jvm_src = ROOT / "module_src" / "jvm_src"
    job = CompileJob("current", 11, (jvm_src / "common", jvm_src / "current"), "log4j")
    classes = compile_all([job], ROOT / "runtime" / "jvm_src")["current"]
    code = java_code.ModuleCode()
    for path, data in classes.items():
        cls = java_code.read_class(data, path)
        code.classes[cls.name] = cls
    api_loader = api_class_loader("log4j")
    loader = java_code.class_loader("bench", code, api_loader)
    python = module_python("bench", lambda module: None)
    python.registerCallHook(hook_bridge(holder))
    function_host = jpype.JClass("de.sfhost.module.runtime.FunctionHost", loader=api_loader)
    return function_host.kernelFunction(
        "bench",
        "Bench",
        loader,
        "de.obyte.breakthrough.BreakthroughHook",
        host.module_log("bench"),
        python,
    )


def sequential_mean(core: Any, calls: int) -> float:
    """Mean ns of `calls` calls made one after another on one worker thread of the core."""
    import jpype

    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    return statistics.fmean(bench.sequential(core, CALLER, CALLED, calls))


def concurrent_p99(core: Any, calls_each: int) -> float:
    """p99 ns of a call while 16 worker threads of the core make calls at the same time."""
    import jpype

    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    times = sorted(bench.concurrent(core, CALLER, CALLED, CONCURRENT_CALLERS, calls_each))
    return float(times[min(len(times) - 1, int(len(times) * 0.99))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500, help="sequential calls per round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds over all cases")
    args = parser.parse_args(argv)
    import jpype

    directory = parse_directory(directory_mapping(), "bench directory")
    plan = NumberPlan("49", "251", "00", "0")
    t0 = time.perf_counter()
    real_hook = breakthrough_hook(plan)
    print(f"compiled 10 x 4 x 10,000 patterns in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    # 400,000 compiled patterns are long-lived objects; without this the first full garbage
    # collections after compiling stall calls by hundreds of microseconds.
    gc.collect()
    gc.freeze()
    answer = real_hook.on_call(CALLED, CALLER)
    assert answer.applied and answer.ignore_dnd, "the benchmark call must match an instance"
    shim_hook = CallHook(log=None, hook=real_hook)  # the shim's hook, the bench instances

    ensure_jvm()
    stage = "PostTargetDeterminationIncoming"
    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    host = RoutingHost(hook_budget_ms=1000.0)
    host.load_directory(directory)
    core = host.core
    noop = NoopHook()
    holder = HookHolder(noop)
    function = breakthrough_function(host, holder)
    log = host.module_log("bench")
    proxy = direct_proxy(noop)
    ctx = bench.contextFor(core, CALLER, CALLED)

    # The cases share the core, its worker threads and the module's Java function; "no_hook"
    # takes the function out of the core, the others swap the Python hook object behind it.
    def use(case: str) -> None:
        if case == "no_hook":
            core.unregister("bench", stage)
        else:
            holder.hook = noop if case == "noop_python_hook" else shim_hook
            core.register("bench", stage, function, log)

    cases = ("no_hook", "noop_python_hook", "breakthrough")
    # Warm up the JIT and the bridge before measuring.
    for case in cases:
        use(case)
        bench.sequential(core, CALLER, CALLED, 20_000 if case == "no_hook" else 1000)
        bench.concurrent(core, CALLER, CALLED, CONCURRENT_CALLERS, 50)
    bench.callHookHere(proxy, ctx, 2000)

    # Rounds interleave the cases, so that load from other processes on this machine hits
    # them alike; each figure is the best round (as timeit does: the round least disturbed
    # by other processes), every case and the floor alike. Medians go to stderr.
    means: dict[str, list[float]] = {c: [] for c in cases}
    p99s: dict[str, list[float]] = {c: [] for c in cases}
    floors: list[float] = []
    per_caller = max(50, args.calls // CONCURRENT_CALLERS)
    for _ in range(args.rounds):
        for case in cases:
            use(case)
            means[case].append(sequential_mean(core, args.calls))
            p99s[case].append(concurrent_p99(core, per_caller))
        # The bridge floor: Java calls the same no-op hook through a plain JProxy, on the
        # main Python thread (a thread Python entered).
        floors.append(float(bench.callHookHere(proxy, ctx, args.calls)) / args.calls)
    ns = {c: min(v) for c, v in means.items()}
    p99 = {c: min(v) for c, v in p99s.items()}
    floor_ns = min(floors)
    medians = {c: round(statistics.median(v)) for c, v in means.items()}
    print(
        f"medians over {args.rounds} rounds: ns_per_call {medians}, "
        f"main_thread_proxy_ns {round(statistics.median(floors))}",
        file=sys.stderr,
    )

    # The naive design, for the record: a plain Java worker (a core without the shim's thread
    # host) calls the JProxy itself, so CPython makes a thread state for each call.
    core.unregister("bench", stage)
    plain = jpype.JClass("de.sfhost.core.RoutingCore")(1)
    plain.setDirectory(core.getDirectory())
    plain.setHookBudgetMillis(1000.0)
    plain.register("naive", stage, proxy)
    naive_ns = sequential_mean(plain, max(200, args.calls // 4))
    plain.shutdown()

    t0 = time.perf_counter_ns()
    for _ in range(args.calls):
        real_hook.on_call(CALLED, CALLER)
    python_only = (time.perf_counter_ns() - t0) / args.calls

    result = {
        "ns_per_call": {k: round(v) for k, v in ns.items()},
        "p99_ns_16_callers": {k: round(v) for k, v in p99.items()},
        "main_thread_proxy_ns": round(floor_ns),
    }
    print(json.dumps(result))
    print(
        f"breakthrough/noop = {ns['breakthrough'] / ns['noop_python_hook']:.2f} (target <= 1.5); "
        f"noop/main-thread proxy = {ns['noop_python_hook'] / floor_ns:.2f} (target <= 2); "
        f"naive design (plain Java worker calls the JProxy): {naive_ns:.0f} ns/call; "
        f"BreakthroughHook.on_call alone in Python: {python_only:.0f} ns",
        file=sys.stderr,
    )
    host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
