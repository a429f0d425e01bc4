"""The thread policy's view of the machine: the CPUs a process may use and those others keep busy."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from autoencoders.util import cpus

STAT = """cpu  900 0 300 5000 0 0 0 0 0 0
cpu0 400 0 100 2500 7 0 0 50 0 0
cpu1 500 0 200 2500 9 0 0 0 0 0
intr 1 2 3
"""


def test_busy_seconds_count_the_allowed_cpus_busy_columns_steal_included() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    assert cpus.busy_seconds(STAT, {0}) == pytest.approx((400 + 100 + 50) / tick)  # not iowait's 7
    assert cpus.busy_seconds(STAT, {0, 1}) == pytest.approx((550 + 700) / tick)
    assert cpus.busy_seconds("cpu  1 2 3\n", {0}) is None  # no per-CPU lines: it cannot say


@pytest.mark.parametrize(
    ("cpu_max", "expected"), [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000", 1)]
)
def test_a_containers_quota_caps_the_cpus(cpu_max: str, expected: int | None) -> None:
    assert cpus.quota_cpus(cpu_max) == expected


def test_free_cpus_leave_out_those_others_kept_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 4)
    start = cpus.CpuSample(at_s=10.0, busy_s=100.0, own_s=5.0)
    # 2 s: 5 CPU-seconds busy, 1 of them this process's own: others kept 2 CPUs busy
    assert cpus.busy_elsewhere(start, cpus.CpuSample(12.0, 105.0, 6.0)) == pytest.approx(2.0)
    assert cpus.free_cpus(start, cpus.CpuSample(12.0, 105.0, 6.0)) == 2
    assert cpus.free_cpus(start, cpus.CpuSample(12.0, 100.8, 5.0)) == 4  # 0.4 of a CPU: not taken
    assert cpus.free_cpus(start, cpus.CpuSample(12.0, 112.0, 5.0)) == 1  # all busy: still one
    assert cpus.free_cpus(start, cpus.CpuSample(10.1, 105.0, 5.0)) == 4  # too short to say
    assert cpus.free_cpus(None, None) == 4  # no /proc/stat


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")
def test_a_cpu_bound_process_shows_as_busy_elsewhere() -> None:
    spin = "print('spinning', flush=True)\nwhile True: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "spinning"  # started: the window is all spinning
        start = cpus.sample()
        time.sleep(0.5)
        busy = cpus.busy_elsewhere(start, cpus.sample())
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.5  # the spinner, about one CPU (plus any other worker)
    assert 1 <= cpus.usable_cpus() <= (os.cpu_count() or 1)
