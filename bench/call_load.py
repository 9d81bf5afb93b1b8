"""The call path under load and under faults (issue 11). Prints one JSON document.

For each scenario a real `sfm serve` (its own process, fresh data folder, development mode:
the builds are signed with the development key) runs with the sample PBX, Breakthrough and
its instance "Teamleiter"; the faulty scenarios add one module built by our own build from
tests/data/faulty_modules/<name>/ (with one active instance), whose call hook

- `baseline`: (no faulty module: Breakthrough alone),
- `throwing`: raises on every call,
- `hanging`: never returns (it waits, releasing the GIL),
- `gil_holding`: catastrophic backtracking in `re`, which never releases the GIL.

`--clients` threads (16) post `{"from": "201", "to": "203"}` to the call tester API
(`POST /api/call`, API token) one after another for `--seconds` (30). A call is answered when
it gets HTTP 200 with a routing result that names the faulty module in `module_errors`. 201 is
on Teamleiter's caller list and 203 has DND on, so Breakthrough makes the outcome `ring` with
Teamleiter applied; an answered call without that (Breakthrough's own hook missed its budget,
so the call routed without it) is counted in `answered_without_breakthrough`.

Per scenario: `calls` (requests sent), `answered`, `errors` by kind (`no_answer`: no HTTP
answer within `--client-timeout`, `http_status`, `wrong_result`: no routing result, or the
faulty module not named), `p50_ms`/`p99_ms`/`max_ms` over every request (one that got no
answer counts with the time until the client gave up, so these never flatter a stall),
`p99_over_baseline` (the ratio to the first baseline's p99 of the same run), and `login`: a plain
`GET /login` once a second while the load runs (`checks`, `answered`, `p50_ms`, `max_ms`).

The baseline runs first and again last (`baseline_end`), since the machine's load drifts. The
verdict: every call of a scenario was answered within `bound_ms` = the host's hook budget (one
faulty hook is asked per call) + the routing time, taken as the larger `max_ms` of the two
baselines of the same run (routing, Breakthrough's hook and HTTP under the same load).

Run: `.venv/bin/python bench/call_load.py [--seconds 30] [--clients 16]
[--scenarios baseline,throwing,hanging,gil_holding]`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "module_src"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from runtime.routing_host import RoutingHost  # noqa: E402
from tests.browser.harness import ServeProcess  # noqa: E402
from tests.data.faulty_modules import FAULTS, SOURCES, build, faulty_id, prepare_data  # noqa: E402
from tests.data.sfm_crafted import TEAMLEITER_TOML  # noqa: E402

SCENARIOS = ("baseline", *FAULTS)
CALL = {"from": "201", "to": "203"}  # a team lead calls the developer, who has DND on
EXPECTED_OUTCOME = "ring"  # Teamleiter breaks through the DND
BREAKTHROUGH_INSTANCE = "Teamleiter"
# The routing core's budget for one hook (its one default, in the host's Python side).
HOOK_BUDGET_MS = float(inspect.signature(RoutingHost.__init__).parameters["hook_budget_ms"].default)


@dataclass
class Tally:
    """What the clients of one scenario saw (appended from many threads; list.append is
    atomic)."""

    latencies_ms: list[float] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)
    http_status: list[int] = field(default_factory=list)
    wrong_result: list[Any] = field(default_factory=list)
    breakthrough_missed: list[Any] = field(default_factory=list)
    module_errors: set[str] = field(default_factory=set)
    login_ms: list[float] = field(default_factory=list)
    login_failed: list[str] = field(default_factory=list)


class Start:
    """The common start of a scenario's threads: the clock runs from when all are ready
    (making an httpx.Client takes a while on a loaded machine)."""

    def __init__(self, parties: int, seconds: float) -> None:
        self._deadline = 0.0
        self._seconds = seconds
        self._barrier = threading.Barrier(parties, action=self._start)

    def _start(self) -> None:
        self._deadline = time.monotonic() + self._seconds

    def wait(self) -> float:
        """Wait for the others; the monotonic deadline of the run."""
        self._barrier.wait()
        return self._deadline


def judge(answer: httpx.Response, faulty_id: str | None, tally: Tally) -> None:
    """Count the answer as answered (HTTP 200, a routing result, the faulty module named in
    its module_errors) or as the kind of error it is."""
    if answer.status_code != 200:
        tally.http_status.append(answer.status_code)
        return
    try:
        result = answer.json()
        errors = [str(e) for e in result["module_errors"]]
        applied = [entry["instance"] for entry in result["applied"]]
        outcome = result["outcome"]
    except (ValueError, KeyError, TypeError):
        tally.wrong_result.append(answer.text[:200])
        return
    tally.module_errors.update(errors)
    if faulty_id is not None and not any(faulty_id in e for e in errors):
        tally.wrong_result.append({"outcome": outcome, "module_errors": errors[:3]})
        return
    if outcome != EXPECTED_OUTCOME or BREAKTHROUGH_INSTANCE not in applied:
        # Answered, but routed without Breakthrough: its own hook missed the budget.
        tally.breakthrough_missed.append({"outcome": outcome, "module_errors": errors[:3]})


def client_loop(
    url: str, token: str, start: Start, timeout: float, faulty_id: str | None, tally: Tally
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        deadline = start.wait()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                answer = client.post("/api/call", json=CALL)
            except httpx.HTTPError as exc:
                tally.latencies_ms.append((time.perf_counter() - started) * 1000)
                tally.no_answer.append(type(exc).__name__)
                continue
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            judge(answer, faulty_id, tally)


def login_loop(url: str, start: Start, timeout: float, tally: Tally) -> None:
    """GET /login once a second (a fresh connection each time, as a browser opening it)."""
    deadline = start.wait()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            answer = httpx.get(url + "login", timeout=timeout)
            if answer.status_code != 200:
                tally.login_failed.append(f"HTTP {answer.status_code}")
        except httpx.HTTPError as exc:
            tally.login_failed.append(type(exc).__name__)
        elapsed = time.perf_counter() - started
        tally.login_ms.append(elapsed * 1000)
        time.sleep(max(0.0, 1.0 - elapsed))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by the nearest-rank method (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return round(ordered[rank - 1], 3)


@contextmanager
def serving(data: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(data)
    try:
        yield server
    finally:
        server.stop()


def run_scenario(
    folder: Path,
    builds: dict[str, Path],
    fault: str | None,
    *,
    clients: int,
    seconds: float,
    timeout: float,
) -> dict[str, Any]:
    data, token = prepare_data(
        folder, builds["breakthrough"], TEAMLEITER_TOML, builds[fault] if fault else None
    )
    faulty = faulty_id(fault) if fault else None
    tally = Tally()
    with serving(data) as server:
        # One call first, so the JIT and the host's first-call work are not in the figures.
        with httpx.Client(base_url=server.url, timeout=timeout) as warm, suppress(httpx.HTTPError):
            warm.post("/api/call", json=CALL, headers={"Authorization": f"Bearer {token}"})
        start = Start(clients + 2, seconds)  # the clients, /login, and this thread
        threads = [
            threading.Thread(
                target=client_loop, args=(server.url, token, start, timeout, faulty, tally)
            )
            for _ in range(clients)
        ]
        threads.append(
            threading.Thread(target=login_loop, args=(server.url, start, timeout, tally))
        )
        for thread in threads:
            thread.start()
        start.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
    latencies = tally.latencies_ms
    errors = {
        "no_answer": len(tally.no_answer),
        "http_status": len(tally.http_status),
        "wrong_result": len(tally.wrong_result),
    }
    return {
        "calls": len(latencies),
        "answered": len(latencies) - sum(errors.values()),
        "errors": errors,
        "answered_per_s": round((len(latencies) - sum(errors.values())) / wall, 1),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 3) if latencies else None,
        "module_errors_seen": sorted(tally.module_errors)[:3],
        "wrong_results_seen": tally.wrong_result[:3],
        "answered_without_breakthrough": len(tally.breakthrough_missed),
        "login": {
            "checks": len(tally.login_ms),
            "answered": len(tally.login_ms) - len(tally.login_failed),
            "p50_ms": percentile(tally.login_ms, 0.50),
            "max_ms": round(max(tally.login_ms), 3) if tally.login_ms else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per scenario (30)")
    parser.add_argument("--clients", type=int, default=16, help="parallel clients (16)")
    parser.add_argument(
        "--client-timeout", type=float, default=10.0,
        help="seconds a client waits for an answer before it counts the call unanswered (10)",
    )  # fmt: skip
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)} (baseline: always, first and last)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    wanted = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        parser.error(f"--scenarios: {unknown[0]!r} is none of {', '.join(SCENARIOS)}")
    order = ["baseline", *(s for s in FAULTS if s in wanted), "baseline_end"]
    result: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "client_timeout_s": args.client_timeout,
        "call": CALL,
        "hook_budget_ms": HOOK_BUDGET_MS,
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-call-load-") as tmp:
        root = Path(tmp)
        dist = root / "dist"
        builds = {"breakthrough": build(root / "state", ROOT / "module_src", dist / "bt")}
        for fault in order[1:-1]:
            builds[fault] = build(root / "state", SOURCES / fault, dist / fault)
        for name in order:
            print(f"scenario {name} ...", file=sys.stderr, flush=True)
            result["scenarios"][name] = run_scenario(
                root / name,
                builds,
                None if name.startswith("baseline") else name,
                clients=args.clients,
                seconds=args.seconds,
                timeout=args.client_timeout,
            )
    scenarios = result["scenarios"]
    base = scenarios["baseline"]
    routing_ms = [scenarios[b]["max_ms"] for b in ("baseline", "baseline_end")]
    bound = None if None in routing_ms else round(HOOK_BUDGET_MS + max(routing_ms), 3)
    result["bound_ms"] = bound
    for figures in scenarios.values():
        p99, base_p99 = figures["p99_ms"], base["p99_ms"]
        figures["p99_over_baseline"] = (
            round(p99 / base_p99, 2) if p99 is not None and base_p99 else None
        )
        figures["every_call_answered_within_bound"] = (
            bound is not None
            and figures["calls"] > 0
            and figures["answered"] == figures["calls"]
            and figures["max_ms"] <= bound
        )
    result["every_call_answered_within_bound"] = all(
        f["every_call_answered_within_bound"] for f in scenarios.values()
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
