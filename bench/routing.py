"""Benchmark of the call path: Java routing core, module function, module Python code.
Prints one JSON document.

All call figures are measured in one run, on the routing core's own Java worker threads (a
call's time is taken on the worker, from entering the core to its result):

- `ns_per_call`: mean nanoseconds per call, one caller making calls one after another;
- `p99_ns_16_callers`: the 99th percentile of a call's nanoseconds while 16 worker threads
  make calls at the same time;

for these cases:
- `no_hook`: the core with no module (the floor);
- `process_noop` and `process_breakthrough`: the path of an installed module. Breakthrough's own
  call-processing function (its Java class `de.obyte.breakthrough.BreakthroughHook`, loaded in
  a module class loader as the host loads it) asks the module's Python code through
  `ModulePython`, which runs in a process of its own (`de.sfhost.core.ModuleProcess`, one
  frame each way over a pipe): a hook that does nothing, and Breakthrough's shim hook
  (`sfm_module.CallHook`) holding 10 instances of 10,000 patterns in each of their four lists;
- `in_process_noop` and `in_process_breakthrough`: the baseline, the same hooks in this
  interpreter, called by the core's workers through a JPype proxy (`InProcessPythonHook`:
  what every module's hook did before it moved to its own process, less the worker threads
  that lived inside Python frames).

The cases are measured in interleaved rounds (`--rounds`); each figure is the best round, the
one least disturbed by other processes on the machine (medians go to stderr). The ratios
process/in-process go to stderr as well.

Run: `.venv/bin/python bench/routing.py [--calls N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "module_src"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from bench.rule_lists import random_patterns  # noqa: E402
from breakthrough import form  # noqa: E402
from breakthrough.config import parse_instance  # noqa: E402
from breakthrough.hook import NO_CHANGE, BreakthroughHook, HookAnswer  # noqa: E402
from breakthrough.number_forms import NumberPlan  # noqa: E402
from breakthrough.rules import compile_instance  # noqa: E402
from breakthrough.sfm_module import CallHook  # noqa: E402
from runtime.jvm import api_class_loader, ensure_jvm  # noqa: E402
from runtime.modules import java_code  # noqa: E402
from runtime.modules.hook_answer import PythonCallHook  # noqa: E402
from runtime.pbx_directory import parse_directory  # noqa: E402
from runtime.routing_host import HookHolder, RoutingHost, _bridge_class  # noqa: E402
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


def instance_mappings() -> list[dict[str, Any]]:
    """10 instances (instance TOML shape), 10,000 patterns in each list; the last instance
    matches the call."""
    rng = random.Random(2611)
    mappings = []
    for i in range(INSTANCES):
        called_active = random_patterns(rng, PATTERNS_PER_LIST)
        caller_active = random_patterns(rng, PATTERNS_PER_LIST)
        if i == INSTANCES - 1:
            called_active[0] = "0049251590620?"
            caller_active[0] = "+4925159068*"
        mappings.append(
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
            }
        )
    return mappings


def breakthrough_hook(plan: NumberPlan, mappings: list[dict[str, Any]]) -> BreakthroughHook:
    compiled = [
        compile_instance(parse_instance(m, f"bench instance {m['name']}"), plan) for m in mappings
    ]
    return BreakthroughHook(compiled)


def variables_of(mapping: dict[str, Any]) -> dict[str, Any]:
    """An instance TOML mapping as the variables by the descriptor's names (what the host
    hands set_instances)."""
    out: dict[str, Any] = {}
    for spec in form.fields():
        node: Any = mapping
        for part in spec.key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            out[spec.variable] = node
    return out


NOOP_SHIM = """
class _NoChange:
    ignore_dnd = ignore_redirects = ignore_redirects_to_caller = force_call_waiting = False
    applied = ()


NO_CHANGE = _NoChange()


class NoopHook:
    def on_call(self, called, caller):
        return NO_CHANGE


def start(api):
    api.register_call_hook(NoopHook())
"""


def build_folders(root: Path) -> dict[str, Path]:
    """Two installed-build folders: a module whose hook does nothing, and Breakthrough's
    Python package (module_src/breakthrough) as the host installs it."""
    noop = root / "modules" / "bench-noop" / "1"
    (noop / "python" / "noop_module").mkdir(parents=True)
    (noop / "python" / "noop_module" / "__init__.py").write_text("", "utf-8")
    (noop / "python" / "noop_module" / "sfm_module.py").write_text(NOOP_SHIM, "utf-8")
    real = root / "modules" / "bench-breakthrough" / "1"
    shutil.copytree(
        ROOT / "module_src" / "breakthrough",
        real / "python" / "breakthrough",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return {"noop": noop, "breakthrough": real}


def kernel_function(host: RoutingHost, module_id: str, python: Any) -> Any:
    """Breakthrough's kernel function, compiled from module_src/jvm_src and loaded in a module
    class loader, as the routing core's hook; it asks `python` (a ModulePython)."""
    import jpype

    jvm_src = ROOT / "module_src" / "jvm_src"
    job = CompileJob("current", 11, (jvm_src / "common", jvm_src / "current"), "log4j")
    classes = compile_all([job], ROOT / "runtime" / "jvm_src")["current"]
    code = java_code.ModuleCode()
    for path, data in classes.items():
        cls = java_code.read_class(data, path)
        code.classes[cls.name] = cls
    api_loader = api_class_loader("log4j")
    loader = java_code.class_loader(module_id, code, api_loader)
    function_host = jpype.JClass("de.sfhost.module.runtime.FunctionHost", loader=api_loader)
    return function_host.kernelFunction(
        module_id,
        "Bench",
        loader,
        "de.obyte.breakthrough.BreakthroughHook",
        host.module_log(module_id),
        python,
    )


def module_in_process(host: RoutingHost, module_id: str, folder: Path, instances: str) -> Any:
    """The build's Python code started in a process of its own, with `instances` (JSON)."""
    import jpype

    process = host.module_process(module_id, folder, None)
    python = jpype.JClass("de.sfhost.module.ext.ModulePython")(module_id, process)
    python.start()
    if process.wantsInstances():
        answer = json.loads(str(process.setInstances(instances, 600_000.0)))
        assert answer == {"refused": {}}, answer
    return python


def in_process_hook(hook: PythonCallHook) -> Any:
    """The in-process baseline: `hook` behind a JPype proxy, asked on the worker thread."""
    import jpype

    bridge = _bridge_class()(HookHolder(hook))
    return jpype.JClass("de.sfhost.core.InProcessPythonHook")(bridge)


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
    mappings = instance_mappings()
    t0 = time.perf_counter()
    real_hook = breakthrough_hook(plan, mappings)
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
    log = host.module_log("bench")
    plan_map = {"country_code": "49", "area_code": "251", "international_prefix": "00",
                "national_prefix": "0"}  # fmt: skip
    instances = json.dumps(
        {
            "instances": [
                {"name": m["name"], "log_level": "INFO", "variables": variables_of(m)}
                for m in mappings
            ],
            "plan": plan_map,
        }
    )
    with tempfile.TemporaryDirectory(prefix="sfm-bench-") as tmp:
        folders = build_folders(Path(tmp))
        t0 = time.perf_counter()
        hooks = {
            "no_hook": None,
            "process_noop": kernel_function(
                host, "bench-noop", module_in_process(host, "bench-noop", folders["noop"], "")
            ),
            "process_breakthrough": kernel_function(
                host,
                "bench-breakthrough",
                module_in_process(host, "bench-breakthrough", folders["breakthrough"], instances),
            ),
            "in_process_noop": in_process_hook(NoopHook()),
            "in_process_breakthrough": in_process_hook(shim_hook),
        }
        print(f"started the module processes in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        result = measure(core, bench, hooks, stage, log, args)
    print(json.dumps(result))
    ns = result["ns_per_call"]
    p99 = result["p99_ns_16_callers"]
    print(
        "process/in-process: noop "
        f"{ns['process_noop'] / ns['in_process_noop']:.2f} (p99 "
        f"{p99['process_noop'] / p99['in_process_noop']:.2f}), breakthrough "
        f"{ns['process_breakthrough'] / ns['in_process_breakthrough']:.2f} (p99 "
        f"{p99['process_breakthrough'] / p99['in_process_breakthrough']:.2f}); "
        f"breakthrough/noop in its process "
        f"{ns['process_breakthrough'] / ns['process_noop']:.2f}",
        file=sys.stderr,
    )
    host.close()
    return 0


def measure(
    core: Any, bench: Any, hooks: dict[str, Any], stage: str, log: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Every case in interleaved rounds on the same core; the best round of each."""

    def use(case: str) -> None:
        if hooks[case] is None:
            core.unregister("bench", stage)
        else:
            core.register("bench", stage, hooks[case], log)

    # Warm up the JIT, the bridge and the module processes before measuring.
    for case in hooks:
        use(case)
        bench.sequential(core, CALLER, CALLED, 20_000 if case == "no_hook" else 1000)
        bench.concurrent(core, CALLER, CALLED, CONCURRENT_CALLERS, 50)
    means: dict[str, list[float]] = {c: [] for c in hooks}
    p99s: dict[str, list[float]] = {c: [] for c in hooks}
    per_caller = max(50, args.calls // CONCURRENT_CALLERS)
    for _ in range(args.rounds):
        for case in hooks:
            use(case)
            means[case].append(sequential_mean(core, args.calls))
            p99s[case].append(concurrent_p99(core, per_caller))
    medians = {c: round(statistics.median(v)) for c, v in means.items()}
    print(f"medians over {args.rounds} rounds: ns_per_call {medians}", file=sys.stderr)
    return {
        "ns_per_call": {c: round(min(v)) for c, v in means.items()},
        "p99_ns_16_callers": {c: round(min(v)) for c, v in p99s.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
