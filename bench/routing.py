"""Benchmark of the call path: Java routing core, bridge, Python hook. Prints one JSON document.

All call figures are measured in one run, on the routing core's own Java worker threads (a
call's time is taken on the worker, from entering the core to its result):

- `ns_per_call`: mean nanoseconds per call, one caller making calls one after another;
- `p99_ns_16_callers`: the 99th percentile of a call's nanoseconds while 16 worker threads
  make calls at the same time;
- for the core with no hook (`no_hook`), a Python hook that does nothing (`noop_python_hook`),
  and the real `breakthrough.hook.BreakthroughHook` with 10 instances of 10,000 patterns in
  each of their four lists (`breakthrough`);
- `main_thread_proxy_ns`: the bridge floor: Java calling the same no-op hook through a plain
  JProxy (`runtime.shim.direct_proxy`) on the main Python thread, i.e. a thread Python entered.

For comparison, stderr also shows the naive design (the Java worker calling the JProxy
directly, paying for a Python thread state per call) and the raw cost of the hooks in Python.

Run: `.venv/bin/python bench/routing.py [--calls N]`.
"""

from __future__ import annotations

import argparse
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

from breakthrough.config import parse_instance  # noqa: E402
from breakthrough.hook import NO_CHANGE, BreakthroughHook, HookAnswer  # noqa: E402
from breakthrough.numbers import NumberPlan  # noqa: E402
from breakthrough.rules import compile_instance  # noqa: E402
from runtime.pbx_directory import parse_directory  # noqa: E402
from runtime.shim import RoutingHost, direct_proxy  # noqa: E402

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


def random_patterns(rng: random.Random, count: int) -> list[str]:
    """`count` distinct patterns of the shapes admins write: full numbers, prefixes with `*`,
    a few `?`; none of them matches the benchmark's numbers by accident."""
    out: set[str] = set()
    while len(out) < count:
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 11)))
        kind = rng.random()
        if kind < 0.6:
            pattern = "0049" + body
        elif kind < 0.85:
            pattern = "0049" + body[:5] + "*"
        else:
            pattern = "0" + body[:-1] + "?"
        if "5906" not in pattern:
            out.add(pattern)
    return sorted(out)


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


def measure(host: RoutingHost, calls: int) -> tuple[float, float]:
    """(mean ns of sequential calls, p99 ns with 16 concurrent callers) on the core's workers."""
    import jpype

    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    core = host.core
    warm = max(200, calls // 5)
    bench.sequential(core, CALLER, CALLED, warm)
    seq = list(bench.sequential(core, CALLER, CALLED, calls))
    per_caller = max(50, calls // CONCURRENT_CALLERS)
    bench.concurrent(core, CALLER, CALLED, CONCURRENT_CALLERS, max(20, per_caller // 5))
    conc = sorted(bench.concurrent(core, CALLER, CALLED, CONCURRENT_CALLERS, per_caller))
    p99 = conc[min(len(conc) - 1, int(len(conc) * 0.99))]
    return statistics.fmean(seq), float(p99)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="sequential calls per case")
    args = parser.parse_args(argv)
    import jpype

    directory = parse_directory(directory_mapping(), "bench directory")
    plan = NumberPlan("49", "251", "00", "0")
    t0 = time.perf_counter()
    real_hook = breakthrough_hook(plan)
    print(f"compiled 10 x 4 x 10,000 patterns in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    answer = real_hook.on_call(CALLED, CALLER)
    assert answer.applied and answer.ignore_dnd, "the benchmark call must match an instance"

    host = RoutingHost(hook_budget_ms=1000.0)
    host.load_directory(directory)
    ns: dict[str, float] = {}
    p99: dict[str, float] = {}

    ns["no_hook"], p99["no_hook"] = measure(host, args.calls)
    host.register_hook("bench", NoopHook())
    ns["noop_python_hook"], p99["noop_python_hook"] = measure(host, args.calls)
    host.register_hook("bench", real_hook)
    ns["breakthrough"], p99["breakthrough"] = measure(host, args.calls)
    host.unregister_hook("bench")

    # The bridge floor: Java -> Python proxy from the main Python thread.
    bench = jpype.JClass("de.sfhost.core.RoutingBench")
    proxy = direct_proxy(NoopHook())
    ctx = bench.contextFor(host.core, CALLER, CALLED)
    bench.callHookHere(proxy, ctx, 2000)
    floor_ns = float(bench.callHookHere(proxy, ctx, args.calls)) / args.calls

    # The naive design, for the record: the Java-owned thread calls the JProxy itself.
    naive = RoutingHost(hook_budget_ms=1000.0)
    naive.load_directory(directory)
    naive.core.register("naive", "PostTargetDeterminationIncoming", proxy)
    naive_ns, naive_p99 = measure(naive, max(500, args.calls // 5))

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
        f"naive design (Java worker calls the JProxy): {naive_ns:.0f} ns/call, "
        f"p99 {naive_p99:.0f} ns; BreakthroughHook.on_call alone in Python: "
        f"{python_only:.0f} ns",
        file=sys.stderr,
    )
    host.close()
    naive.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
