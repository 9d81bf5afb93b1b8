"""Real-time scheduling for the threads a SIP call's decision passes through.

A decision goes from a Kamailio worker to a decision thread of the host, from there to each
module's process and back. Every hand-over waits for the kernel to run the thread it woke: on a
busy machine that wait has a long tail, and on a virtual machine whose idle CPUs halt, a thread
woken on the other CPU also waits for the hypervisor to wake that CPU. Measured on the team's
2-core virtual machines with both cores busy, a round trip between two processes had a p99.9
of about 5 ms at normal priority and 0.12 ms with both threads at SCHED_FIFO on one CPU
(docs/BENCHMARKS.md).

`RealtimeCalls` puts the host's part of the path there: the decision service's threads at
SCHED_FIFO `DECISION_PRIORITY`, each module process's call thread (the one that answers calls,
runtime/modules/module_process.py) at the lower `MODULE_PRIORITY`, all on one CPU. A decision
thread that asks a module sleeps on that CPU, the module's thread runs there at once, and its
answer wakes the decision thread there, ahead of the module's thread: uploaded code never keeps
a decision thread from running. Kamailio, the rest of the path, runs every process of its own at
SCHED_FIFO `KAMAILIO_PRIORITY`, below both and on every CPU (its own `real_time` settings,
runtime/sip/kamailio.cfg.j2): at normal priority its workers waited behind whatever else ran
(the JVM's other threads, the phones and callers of a bench on the same machine) before and
after each query, and a worker woken by the decision's answer could land on the call path's CPU
(the kernel favours the waker's) behind the threads that had just answered. All its processes
share the one priority, since they take the same locks and yield to each other while they wait.
Everything else keeps normal priority and every CPU the host had: the JVM's other threads, a
module's admin thread and any thread its code starts (both settings carry SCHED_RESET_ON_FORK,
and a module process gives its other threads the host's CPUs itself, `module_environment`).
Linux's real-time throttling (by default 95% of each second) leaves the rest of the machine its
share even while a module's hook spins or Kamailio is flooded, until the host gives up on that
hook as before (meanwhile the decision threads pause in the throttled 50 ms of each second too:
decisions then wait, calls still go through). When a hook overran its budget, the thread that
carried that call on serves its connection from then on, at normal priority: rare enough to
leave.

The kernel allows this to root, to CAP_SYS_NICE and within RLIMIT_RTPRIO; `choose()` says why
not otherwise, and the path then runs at normal priority as before.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

DECISION_PRIORITY = 3
MODULE_PRIORITY = 2
KAMAILIO_PRIORITY = 1  # every Kamailio process (its configuration, runtime/sip/kamailio.cfg.j2)
# Read by a module's process (runtime/modules/module_process.py): "CALL_CPU:OTHER,CPUS".
MODULE_ENV = "SFM_MODULE_REALTIME"


@dataclass(frozen=True)
class RealtimeCalls:
    """Where the call path runs: `call_cpu` for it, `other_cpus` for everything else."""

    call_cpu: int
    other_cpus: frozenset[int]

    def describe(self) -> str:
        """One line for the host's log."""
        return (
            f"the call path runs at real-time priority on CPU {self.call_cpu} (decision "
            f"threads SCHED_FIFO {DECISION_PRIORITY}, module call threads {MODULE_PRIORITY}; "
            f"Kamailio {KAMAILIO_PRIORITY} on every CPU)"
        )

    def enter_decision_thread(self) -> None:
        """Put the calling thread (a decision thread) on the call path; OSError if refused."""
        enter(self.call_cpu, DECISION_PRIORITY)

    def module_environment(self) -> dict[str, str]:
        """What a module's process needs to put its call thread on the path."""
        others = ",".join(str(c) for c in sorted(self.other_cpus))
        return {MODULE_ENV: f"{self.call_cpu}:{others}"}


def enter(cpu: int, priority: int) -> None:
    """Run the calling thread on `cpu` at SCHED_FIFO `priority`; threads and processes it
    starts later get normal priority back (they keep the CPU: set theirs). OSError (e.g.
    PermissionError) when the kernel refuses; the thread is then unchanged."""
    os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        raise


def choose() -> tuple[RealtimeCalls | None, str]:
    """The call path's placement on this machine, tried on a thread of its own, with a line
    for the log: (RealtimeCalls, what it does) or (None, why the path stays at normal
    priority). The last CPU this process may use carries the call path."""
    cpus = frozenset(os.sched_getaffinity(0))
    if len(cpus) < 2:
        # A spinning module on the only CPU would leave Kamailio 5% of it until it is stopped.
        return None, "the call path runs at normal priority: this host may use only one CPU"
    chosen = RealtimeCalls(max(cpus), cpus)
    refused: list[OSError] = []

    def attempt() -> None:
        try:
            enter(chosen.call_cpu, DECISION_PRIORITY)
        except OSError as exc:
            refused.append(exc)

    probe = threading.Thread(target=attempt, name="sfm-realtime-probe", daemon=True)
    probe.start()
    probe.join()
    if refused:
        return None, (
            "the call path runs at normal priority: the kernel refused real-time scheduling "
            f"({refused[0].strerror or refused[0]}; it needs root, CAP_SYS_NICE or an "
            f"RLIMIT_RTPRIO of at least {DECISION_PRIORITY})"
        )
    return chosen, chosen.describe()


def parse_module_environment(value: str) -> tuple[int, frozenset[int]]:
    """`module_environment`'s value read back: (call CPU, other CPUs); ValueError if garbled."""
    call, _, others = value.partition(":")
    return int(call), frozenset(int(c) for c in others.split(",") if c)
