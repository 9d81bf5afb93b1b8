"""Compiling a configuration has bounded time and memory (issue 11, "one pattern exhausts
memory"): hostile patterns are refused with the line before anything is compiled, and the
worst lists within the limits compile into bounded memory. Memory is measured in a child
process (its peak RSS), so that nothing else of the test run counts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

# The web tests' fixtures: a fresh `sfm serve` per test, logged in, and the module's build.
from tests.browser.harness import ServeProcess, manager_state
from tests.test_web_http import _install, _token, admin, dist, server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]

# The child runs `sfm rules check` in its own process and reports its exit code and peak RSS.
CLI_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from sfm_cli.main import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exited:
        code = exited.code
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"code": code, "peak_mb": peak}), file=sys.stdout)
    """
)


def run_check(config: Path) -> tuple[int, int, str]:
    """(exit code, peak RSS in MB, stderr) of `sfm rules check` on `config`."""
    result = subprocess.run(
        [sys.executable, "-c", CLI_CHILD, "rules", "check", "--config", str(config)]
        + ["--called", "201", "--caller", "202"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], report["peak_mb"], result.stderr


def instance_file(tmp_path: Path, called: list[str]) -> Path:
    path = tmp_path / "hostile.toml"
    listed = ", ".join(json.dumps(pattern) for pattern in called)
    path.write_text(
        f'name = "Hostile"\n[numbers.called]\nactive = [{listed}]\n'
        '[numbers.caller]\nactive = ["*"]\n',
        encoding="utf-8",
    )
    return path


# Over what the same command needs for a plain list, measured in the same run (the CLI's own
# imports take some 150 MB): the 2 KB pattern of the issue took 997 MB, the 10 KB one was
# killed at 12.96 GB.
REFUSAL_EXTRA_MB = 30


@pytest.mark.parametrize(
    ("called", "message"),
    [
        (
            ["*?" * 1024],
            "numbers.called.active line 1: the pattern '*?*?*?*?*?*?*?*?*?*?'... "
            "is 2,048 characters long; a pattern has at most 64.",
        ),
        (["201", "*?" * 5120], "numbers.called.active line 2: the pattern"),
        (["*?" * 524288], "is 1,048,576 characters long; a pattern has at most 64."),
        (
            ["*1*2*3*4*5"],
            "numbers.called.active line 1: '*1*2*3*4*5' has 5 '*'; a pattern has at most 4.",
        ),
        (["2??"] * 10_001, "numbers.called.active: 10,001 patterns; a list holds at most 10,000."),
    ],
)
def test_the_hostile_patterns_of_the_issue_are_refused_in_bounded_memory(
    tmp_path: Path, called: list[str], message: str
) -> None:
    plain_code, plain_mb, _ = run_check(instance_file(tmp_path, ["201", "0251*"]))
    assert plain_code == 0
    code, peak_mb, stderr = run_check(instance_file(tmp_path, called))
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr
    assert peak_mb < plain_mb + REFUSAL_EXTRA_MB


# The child compiles the worst lists within the limits that were found (thousands of `?`
# patterns alive at once, `*` inside), each as a PatternList and into a PatternIndex, and
# checks a sample of numbers against the single-pattern reference matcher.
COMPILE_CHILD = textwrap.dedent(
    """
    import json, random, resource, sys
    from breakthrough.number_forms import NumberPlan
    from breakthrough.pattern_index import PatternIndex, PatternList
    from breakthrough.wildcards import MAX_PATTERNS_PER_LIST, pattern_matches

    kind = sys.argv[1]
    rng = random.Random(1)

    def pattern():
        if kind == "question marks":
            return "".join(rng.choice("0?1?") for _ in range(rng.randint(10, 30))) + "*"
        def run(): return "".join(rng.choice("01?") for _ in range(rng.randint(3, 12)))
        return run() + "*" + run()

    patterns = [pattern() for _ in range(MAX_PATTERNS_PER_LIST)]
    plan = NumberPlan()
    listed = PatternList(patterns, "hostile", plan)
    listed.build()
    index = PatternIndex([(1 << (n % 4), p) for n, p in enumerate(patterns)], plan)
    wrong = 0
    for _ in range(30):
        # (An extension: one form, so the single-pattern matcher is the whole reference.)
        number = "1" + "".join(rng.choice("01") for _ in range(rng.randint(3, 13)))
        expected = [n for n, p in enumerate(patterns) if pattern_matches(p, number)]
        found = listed.first_match(plan.canonical(number))
        bits = index.bits(plan.canonical(number))
        wrong += (found.index if found else None) != (expected[0] if expected else None)
        wrong += bits != sum({1 << (n % 4) for n in expected})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"wrong": wrong, "peak_mb": peak}))
    """
)

# One list and its index; the compile budget (automata.EAGER_STATE_NODES, MAX_STATE_NODES)
# holds these near 300 MB, where they took 735 MB and more than 4 GB without it. The bound
# leaves room for what RSS adds that the code does not choose: 315 MB run alone, 469 MB once
# inside a full test run (the kernel's huge pages count in RSS too).
COMPILE_PEAK_MB = 600


@pytest.mark.parametrize("kind", ["question marks", "stars inside"])
def test_the_worst_lists_within_the_limits_compile_in_bounded_memory(kind: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", COMPILE_CHILD, kind],
        capture_output=True,
        text=True,
        cwd=ROOT / "module_src",
        timeout=600,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["wrong"] == 0
    assert report["peak_mb"] < COMPILE_PEAK_MB


def peak_rss_mb(pid: int) -> int:
    """The peak resident memory of a running process (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) // 1024


def test_the_servers_instance_api_refuses_the_hostile_pattern_in_bounded_memory(
    server: ServeProcess,  # noqa: F811
    admin: httpx.Client,  # noqa: F811
    dist: Path,  # noqa: F811
) -> None:
    # The issue: `POST /api/instances` with "*?" * 524288 never answered and the server was
    # OOM-killed. Now: 400 naming the field and line, nothing stored, the server's peak RSS
    # barely moved.
    module_id = _install(admin, dist)
    token = _token(admin.get("/modules").text)
    before_mb = peak_rss_mb(server.process.pid)
    before = manager_state(server.data_dir)
    answer = admin.post(
        "/api/instances",
        json={
            "module": module_id,
            "config": {"name": "Hostile", "numbers": {"called": {"active": ["*?" * 524288]}}},
        },
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 400
    assert "numbers.called.active line 1" in answer.json()["error"]
    assert "a pattern has at most 64" in answer.json()["error"]
    assert manager_state(server.data_dir) == before
    assert peak_rss_mb(server.process.pid) - before_mb < 100
