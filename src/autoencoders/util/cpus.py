"""How many CPUs this process may use, and how many of them other processes keep busy.

Why: torch starts one intra-op thread per core whatever else runs there. A training whose second
thread shares a core with another CPU-bound process waits on it at every step (measured: a 64-feature
table took 4.9 times as long with one core busy; docs/performance.md, "Busy machines"). The count
here decides the threads instead: the CPUs this process is allowed on (its affinity, a container's
CPU quota) less those other processes used since the last look.

Only the standard library: :mod:`autoencoders.util.startup` takes the first look before the
libraries load, so that their import time is the window measured.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
#: /proc/stat's busy columns after the name: user, nice, system, irq, softirq, steal (time a
#: hypervisor gave to another machine is a core this process could not have either).
BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)
#: A window shorter than this says too little (the kernel counts in 10 ms ticks).
SHORTEST_WINDOW_S = 0.2
#: A CPU counts as taken when others kept it at least this busy.
TAKEN = 0.5


@dataclass(frozen=True)
class CpuSample:
    """The machine's busy CPU time on this process's CPUs, and this process's own, at one moment."""

    at_s: float
    busy_s: float
    own_s: float


def allowed_cpus() -> set[int]:
    """The CPUs the scheduler may run this process on (all of them where it cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def quota_cpus(cpu_max: str) -> int | None:
    """A cgroup v2 ``cpu.max`` (``"200000 100000"``: 2 CPUs' worth; ``"max 100000"``: no limit)."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def usable_cpus() -> int:
    """How many CPUs this process may use: its affinity, capped by its container's quota."""
    count = len(allowed_cpus())
    try:
        quota = quota_cpus(CGROUP_CPU_MAX.read_text())
    except (OSError, ValueError):
        quota = None
    return min(count, quota) if quota else count


def busy_seconds(stat: str, cpus: set[int]) -> float | None:
    """The busy time of ``cpus`` since boot from /proc/stat's text (None without per-CPU lines)."""
    ticks, seen = 0, False
    for line in stat.splitlines():
        name, *columns = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += sum(int(columns[index]) for index in BUSY_COLUMNS if index < len(columns))
            seen = True
    return ticks / os.sysconf("SC_CLK_TCK") if seen else None


def sample() -> CpuSample | None:
    """Now's sample, or None where the machine does not say (no /proc/stat: macOS, Windows)."""
    try:
        busy = busy_seconds(PROC_STAT.read_text(), allowed_cpus())
    except (OSError, ValueError):
        return None
    if busy is None:
        return None
    own = os.times()
    return CpuSample(time.monotonic(), busy, own.user + own.system)


def busy_elsewhere(since: CpuSample | None, now: CpuSample | None) -> float | None:
    """How many of this process's CPUs other processes kept busy between two samples, on average
    (None where a sample is missing or the window too short to say)."""
    if since is None or now is None or now.at_s - since.at_s < SHORTEST_WINDOW_S:
        return None
    others_s = (now.busy_s - since.busy_s) - (now.own_s - since.own_s)
    return max(0.0, others_s / (now.at_s - since.at_s))


def free_cpus(since: CpuSample | None, now: CpuSample | None) -> int:
    """The usable CPUs less those others kept at least :data:`TAKEN` busy; at least one."""
    usable = usable_cpus()
    others = busy_elsewhere(since, now)
    if others is None:
        return usable
    return max(1, usable - math.floor(others + (1 - TAKEN)))


class CpuWatch:
    """The free CPUs since the previous look (the first: when this module loaded)."""

    def __init__(self) -> None:
        self.last = sample()

    def free(self) -> int:
        now = sample()
        free = free_cpus(self.last, now)
        if now is not None and (self.last is None or now.at_s - self.last.at_s >= SHORTEST_WINDOW_S):
            self.last = now
        return free


#: The process's watch: its first look is taken when :mod:`autoencoders.util.startup` loads.
WATCH = CpuWatch()
