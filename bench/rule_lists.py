"""The benchmarks' rule lists: random patterns of the shapes admins write.

One generator for bench/routing.py and bench/sip.py, so that both measure the same workload
(10 instances x 4 lists x 10,000 patterns from the same seed).
"""

from __future__ import annotations

import random


def random_patterns(rng: random.Random, count: int) -> list[str]:
    """`count` distinct patterns: full numbers, prefixes with `*`, a few `?`; none contains
    "5906", so none matches the benchmarks' numbers (all of 0251 5906 ...) by accident."""
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
