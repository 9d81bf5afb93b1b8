"""Benchmark of rule decisions: the compiled rule engine against a naive loop over regexes.

Prints one JSON document on stdout and nothing else:
`{"ns_per_decision": {"1": .., "100": .., "10000": ..}, "naive_ns_per_decision": {...},
"hook_ns_per_call": ..}`: the time of one decision with that many patterns in each of an
instance's four lists, ours and the baseline (a loop over one precompiled regex per pattern, as
fnmatch would do), measured in one run on the same calls; and the time of one
`BreakthroughHook.on_call` deciding 10 instances of 10,000 patterns per list at once (log
level INFO: no explanations). A summary with the ratios goes to stderr.

Run: `python bench/rules.py [--seconds S] [--hook-instances N]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_src"))

from breakthrough.config import InstanceConfig, Settings  # noqa: E402
from breakthrough.hook import BreakthroughHook  # noqa: E402
from breakthrough.number_forms import NumberPlan, is_withheld  # noqa: E402
from breakthrough.rules import compile_instance, decide  # noqa: E402
from breakthrough.wildcards import parse_pattern  # noqa: E402

SIZES = (1, 100, 10_000)
PLAN = NumberPlan()
Call = tuple[str, str]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _subscriber(rng: random.Random) -> str:
    """A German number without prefix: area code and subscriber, 9 to 11 digits."""
    area = rng.choice(["251", "30", "89", "40", "221", "2501", "5971", "69"])
    return area + _digits(rng, rng.randint(6, 8) - (len(area) - 3))


def realistic_pattern(rng: random.Random, *, narrow: bool = False) -> str:
    """One pattern of the kinds admins write: numbers in any form, ranges by * and ?.

    `narrow` for "Ausnahmen", which take out single numbers or small blocks ("einzelne oder
    mehrere Nummern"), not whole areas.
    """
    kind = rng.random()
    number = _subscriber(rng)
    if kind < 0.30:  # an exact number as STARFACE signals it
        return "0049" + number
    if kind < 0.38:  # an exact number as people write it
        return rng.choice(["0", "+49"]) + number
    if kind < 0.48:  # an internal extension
        return _digits(rng, rng.randint(3, 4) if narrow else rng.randint(2, 4))
    if kind < 0.66:  # a range by prefix: a company's block, or (not narrow) an area
        cut = rng.randint(len(number) - 3 if narrow else 3, len(number) - 2)
        return rng.choice(["0049", "0", "+49"]) + number[:cut] + "*"
    if kind < 0.88:  # the product text's advice: any prefix form, fixed tail
        return "*" + number[-rng.randint(9 if narrow else 7, 10) :]
    # a block of extensions behind a number, or a single unknown digit
    body = "0" + number
    holes = rng.randint(1, 2 if narrow else 3)
    return body[:-holes] + "?" * holes


def instance(rng: random.Random, size: int) -> InstanceConfig:
    """An instance with `size` patterns in each of its four lists.

    The active lists lead with broad catch-alls so that every list is consulted for many calls
    (exceptions are only looked at when "Aktiv für" matched, the caller only when the called
    number passed).
    """

    def patterns(lead: str, *, narrow: bool) -> tuple[str, ...]:
        return (lead, *(realistic_pattern(rng, narrow=narrow) for _ in range(size - 1)))

    return InstanceConfig(
        name=f"bench-{size}",
        called_active=patterns("*", narrow=False),
        called_exceptions=patterns(realistic_pattern(rng, narrow=True), narrow=True),
        caller_active=patterns("*0", narrow=False),
        caller_exceptions=patterns(realistic_pattern(rng, narrow=True), narrow=True),
        settings=Settings(bypass_dnd=True, force_call_waiting=True),
    )


def instance_of(pattern: str, rng: random.Random) -> str:
    """A number that `pattern` matches (wildcards filled at random)."""
    out = []
    for ch in pattern:
        if ch == "?":
            out.append(rng.choice("0123456789"))
        elif ch == "*":
            out.append(_digits(rng, rng.randint(0, 3)))
        else:
            out.append(ch)
    return "".join(out)


def calls(rng: random.Random, cfg: InstanceConfig, count: int) -> list[Call]:
    """Calls of which about half hit some pattern of the lists, in all signalled forms."""
    pool = cfg.called_exceptions + cfg.caller_active[1:] + cfg.caller_exceptions
    result = []
    for _ in range(count):
        pair = []
        for _side in range(2):
            if pool and rng.random() < 0.5:
                number = instance_of(parse_pattern(rng.choice(pool), "bench"), rng)
            else:
                number = rng.choice(["0049", "0", "+49", ""]) + _subscriber(rng)
            if not number.strip("+"):
                number = "201"
            pair.append(number)
        result.append((pair[0], pair[1]))
    return result


def _regex(pattern: str) -> re.Pattern[str]:
    canonical = parse_pattern(pattern, "bench")
    body = "".join(
        "[0-9]" if ch == "?" else "[0-9]*" if ch == "*" else re.escape(ch) for ch in canonical
    )
    return re.compile(body)


class NaiveRule:
    """The baseline: the same rule, deciding by a loop over one compiled regex per pattern."""

    def __init__(self, cfg: InstanceConfig, plan: NumberPlan) -> None:
        self.plan = plan
        self.lists = [
            [_regex(p) for p in patterns]
            for patterns in (
                cfg.called_active,
                cfg.called_exceptions,
                cfg.caller_active,
                cfg.caller_exceptions,
            )
        ]
        self.effects = cfg.settings.switched_on()

    @staticmethod
    def _first(regexes: Sequence[re.Pattern[str]], forms: Sequence[str]) -> int | None:
        for index, regex in enumerate(regexes):
            for form in forms:
                if regex.fullmatch(form):
                    return index
        return None

    def decide(self, called: str, caller: str) -> tuple[bool, tuple[str, ...]]:
        called_forms = self.plan.forms(called)
        caller_forms = () if is_withheld(caller) else self.plan.forms(caller)
        # The same AND as the rule: the caller only when the called number passed.
        match = (
            self._first(self.lists[0], called_forms) is not None
            and self._first(self.lists[1], called_forms) is None
            and self._first(self.lists[2], caller_forms) is not None
            and self._first(self.lists[3], caller_forms) is None
        )
        return match, self.effects if match else ()


def time_per_call(
    decide_one: Callable[[str, str], object], sample: list[Call], budget: float
) -> float:
    """Nanoseconds per decision: the best round of whole passes over `sample` in `budget` s.

    Each round times one pass over every call of the sample with time.perf_counter_ns; the
    fastest round counts, as in timeit, because the slower ones measure other processes on a
    shared machine, not this code. The garbage collector is off while timing.
    """
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        deadline = time.perf_counter_ns() + int(budget * 1e9)
        rounds = 0
        while rounds < 3 or time.perf_counter_ns() < deadline:
            start = time.perf_counter_ns()
            for called, caller in sample:
                decide_one(called, caller)
            best = min(best, (time.perf_counter_ns() - start) / len(sample))
            rounds += 1
    finally:
        gc.enable()
    return best


def hook_time(rng: random.Random, instances: int, size: int, budget: float) -> float | None:
    """ns per `BreakthroughHook.on_call` for `instances` instances of `size` patterns per list.

    Checks first that the hook answers as the instances decided one by one (None if not).
    """
    configs = []
    for position in range(instances):
        cfg = instance(rng, size)
        configs.append(
            InstanceConfig(
                name=f"bench {position + 1}",
                called_active=cfg.called_active,
                called_exceptions=cfg.called_exceptions,
                caller_active=cfg.caller_active,
                caller_exceptions=cfg.caller_exceptions,
                settings=cfg.settings,
            )
        )
    sample = [call for cfg in configs for call in calls(rng, cfg, max(1, 400 // instances))]
    started = time.perf_counter()
    compiled = [compile_instance(cfg, PLAN) for cfg in configs]
    hook = BreakthroughHook(compiled)
    compile_seconds = time.perf_counter() - started
    matches = 0
    for called, caller in sample:
        expected = tuple(
            (c.name, d.effects) for c in compiled if (d := decide(c, called, caller)).match
        )
        if hook.on_call(called, caller).applied != expected:
            print(f"bench: the hook disagrees on {called} <- {caller}", file=sys.stderr)
            return None
        matches += bool(expected)
    # The compiled patterns are long-lived: keep the collector from walking them while timing.
    gc.collect()
    gc.freeze()
    ns = time_per_call(hook.on_call, sample, budget)
    gc.unfreeze()
    print(
        f"bench: hook with {instances} instances of {size} patterns per list: compiled in "
        f"{compile_seconds:.2f} s, {matches}/{len(sample)} calls match some instance, "
        f"{ns:.0f} ns per call",
        file=sys.stderr,
    )
    return ns


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument(
        "--hook-instances", type=int, default=10, help="instances for hook_ns_per_call"
    )
    args = parser.parse_args(argv)
    rng = random.Random(2_6_1)
    ours: dict[str, float] = {}
    naive: dict[str, float] = {}
    for size in SIZES:
        cfg = instance(rng, size)
        sample = calls(rng, cfg, 400)
        started = time.perf_counter()
        compiled = compile_instance(cfg, PLAN)
        compiled.build_lists()  # otherwise built on the first decision
        compile_seconds = time.perf_counter() - started
        baseline = NaiveRule(cfg, PLAN)
        # Same answers, or the comparison means nothing.
        matches = 0
        for called, caller in sample:
            decision = decide(compiled, called, caller)
            expected = baseline.decide(called, caller)
            if (decision.match, decision.effects) != expected:
                print(f"bench: disagreement on {called} <- {caller}", file=sys.stderr)
                return 1
            matches += decision.match
        ours[str(size)] = round(time_per_call(partial(decide, compiled), sample, args.seconds), 1)
        naive_sample = sample if size < 1000 else sample[:20]
        naive[str(size)] = round(time_per_call(baseline.decide, naive_sample, args.seconds), 1)
        print(
            f"bench: {size} patterns per list: compiled in {compile_seconds:.2f} s, "
            f"{matches}/{len(sample)} calls match, ours {ours[str(size)]:.0f} ns, "
            f"naive {naive[str(size)]:.0f} ns",
            file=sys.stderr,
        )
    big, small = str(SIZES[-1]), str(SIZES[0])
    print(
        f"bench: ours at {big} / ours at {small} = {ours[big] / ours[small]:.2f} (target <= 2); "
        f"naive / ours at {big} = {naive[big] / ours[big]:.0f} (target >= 50)",
        file=sys.stderr,
    )
    hook_ns = hook_time(rng, args.hook_instances, SIZES[-1], args.seconds)
    if hook_ns is None:
        return 1
    print(
        json.dumps(
            {
                "ns_per_decision": ours,
                "naive_ns_per_decision": naive,
                "hook_ns_per_call": round(hook_ns, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
