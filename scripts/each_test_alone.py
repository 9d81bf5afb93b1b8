"""Run every test alone: each collected test in a pytest process of its own, nothing shared.

A test that passes in the suite but fails alone leans on another test's leftovers (a fixture's
state, a file, an import's side effect). This collects the node ids as pytest would, runs each
in `python -m pytest -p no:randomly -p no:faulthandler NODEID` under `nice`, a few at a time,
and prints a JSON document at the end: how many ran, how long it took, and every failure with
the end of its output. Not part of .ci/run: it takes long (every process starts its own JVM
and builds what its fixtures need).

Usage: .venv/bin/python scripts/each_test_alone.py [--jobs 2] [--timeout 900] [PATH ...]
Exit code: 0 when every test ran and passed alone, 1 otherwise. Ctrl-C (SIGINT) or SIGTERM lets
the running tests end, starts no other, and prints the document for what ran.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:faulthandler"]
# Several processes at once must not race on pytest's cache folder.
NO_CACHE = ["-p", "no:cacheprovider"]
TAIL_CHARACTERS = 3000


@dataclass
class Outcome:
    node: str
    code: int  # pytest's exit code; -1 for a timeout
    seconds: float
    tail: str  # the end of stdout and stderr


def collect(paths: Sequence[str]) -> list[str]:
    """The node ids pytest collects under `paths` (the project's testpaths when empty)."""
    done = subprocess.run(
        [*PYTEST, *NO_CACHE, "--collect-only", "-q", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"collecting the tests failed (exit {done.returncode}):\n{done.stdout[-4000:]}")
    # One node id a line (parameters may hold spaces); the summary and warnings have no "::".
    return [line for line in done.stdout.splitlines() if "::" in line and line[:1] not in " \t"]


def run_alone(node: str, timeout: float) -> Outcome:
    """`node` in a pytest process of its own, at low priority."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["nice", "-n", "10", *PYTEST, *NO_CACHE, "-q", node],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code = -1
        output = f"timed out after {timeout:.0f} s\n"
        output += _text(expired.stdout) + _text(expired.stderr)
    return Outcome(node, code, time.monotonic() - started, output[-TAIL_CHARACTERS:])


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="test files or folders (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds one test may take (default 900)"
    )
    args = parser.parse_args(argv)
    nodes = collect(args.paths)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = threading.Event()  # set by SIGINT or SIGTERM: the running tests end, no other starts

    def alone(node: str) -> None:
        if stop.is_set():
            return
        outcome = run_alone(node, args.timeout)
        with lock:
            outcomes.append(outcome)
            # pytest's 0 is "passed"; 5 ("no tests ran") cannot happen for a collected id.
            mark = "ok" if outcome.code == 0 else f"FAILED ({outcome.code})"
            print(
                f"[{len(outcomes)}/{len(nodes)}] {mark} {outcome.seconds:6.1f} s  {node}",
                flush=True,
            )

    # SIGTERM too (and SIGINT even where a shell started us with it ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        for future in [pool.submit(alone, node) for node in nodes]:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        print("interrupted: the tests running now end, no other starts", file=sys.stderr)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    failures = [o for o in outcomes if o.code != 0]
    finished = len(outcomes)
    report = {
        "tests": len(nodes),
        "run": finished,
        "passed": finished - len(failures),
        "failed": len(failures),
        "not_run": len(nodes) - finished,
        "seconds": round(time.monotonic() - started, 1),
        "jobs": args.jobs,
        "failures": [
            {"node": f.node, "exit_code": f.code, "seconds": round(f.seconds, 1), "tail": f.tail}
            for f in failures
        ],
    }
    print(json.dumps(report, indent=2))
    return 0 if not failures and finished == len(nodes) else 1


if __name__ == "__main__":
    sys.exit(main())
