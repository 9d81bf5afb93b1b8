"""What a case of bench/sip.py cost the machine: CPU time per process, the share the hypervisor
counted as stolen, and what the host's JVM spent compiling."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import jpype


def machine_ticks() -> list[int]:
    """The machine's CPU time so far by kind, in clock ticks (/proc/stat's first line)."""
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


def steal_pct(before: list[int], after: list[int]) -> float:
    """The share of the machine's CPU time counted as stolen by its hypervisor in between (the
    8th field, `steal`): a round whose figures moved with it measured the machine."""
    spent = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(spent[:8])  # user .. steal; guest time is already counted in user
    return round(100 * spent[7] / total, 1) if total else 0.0


def jit_millis() -> int:
    """The milliseconds the JVM (the host's, in this process) spent compiling so far."""
    management = jpype.JClass("java.lang.management.ManagementFactory")
    return int(management.getCompilationMXBean().getTotalCompilationTime())


def gc_totals() -> dict[str, tuple[int, int]]:
    """Per collector of the host's JVM: (collections, milliseconds) so far."""
    management = jpype.JClass("java.lang.management.ManagementFactory")
    return {
        str(bean.getName()): (int(bean.getCollectionCount()), int(bean.getCollectionTime()))
        for bean in management.getGarbageCollectorMXBeans()
    }


def gc_since(before: dict[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    """What each collector did since `before` (gc_totals): its collections and milliseconds."""
    out = {}
    for name, (count, millis) in gc_totals().items():
        count0, millis0 = before.get(name, (0, 0))
        out[name] = {"collections": count - count0, "ms": millis - millis0}
    return out


def process_cpu_seconds(kamailio_pid: int, phone_pid: int) -> dict[str, float]:
    """CPU seconds so far (user + system) of this process (the host and its JVM), of
    Kamailio's process group, of the module processes the host started, of waited-for
    children (the calling sipp) and of the phone."""
    tick = os.sysconf("SC_CLK_TCK")
    kamailio = 0.0
    modules = 0.0  # the module processes the host started (Breakthrough's Python)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _proc_stat(entry.name)
            spent = (int(fields[11]) + int(fields[12])) / tick
            if int(fields[2]) == kamailio_pid:  # the process group
                kamailio += spent
            elif int(fields[1]) == os.getpid():
                command = Path(f"/proc/{entry.name}/cmdline").read_bytes()
                if b"runtime.modules.module_process" in command:
                    modules += spent
        except (OSError, ValueError):
            continue  # it ended meanwhile
    phone = _proc_stat(str(phone_pid))
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "host": own.ru_utime + own.ru_stime,
        "kamailio": kamailio,
        "caller_sipp": children.ru_utime + children.ru_stime,
        "phone_sipp": (int(phone[11]) + int(phone[12])) / tick,
        "module_processes": modules,
    }


def _proc_stat(pid: str) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the state on
