"""The CPU busy share the evolution node's CPU veto reads: per-process time, not tick samples."""

from __future__ import annotations

import time

import pytest

from adaspring_ros.core.context.cpu_busy import CpuBusyMeter, used_between
from adaspring_ros.testing import cpu_load


def test_used_between_counts_growth_new_processes_and_not_reused_pids():
    before = {1: (100.0, 5.0), 2: (100.0, 1.0), 3: (100.0, 9.0)}
    after = {1: (100.0, 5.5),   # grew by 0.5
             2: (250.0, 0.3),   # pid reused by a new process: all of its 0.3
             4: (260.0, 0.2)}   # new: all of its 0.2; pid 3 ended: its last interval is lost
    assert used_between(before, after) == pytest.approx(1.0)


def test_meter_reports_each_share_once_and_not_faster_than_its_interval():
    clock = [0.0]
    scans = iter([{1: (0.0, 0.0)}, {1: (0.0, 1.0)}, {1: (0.0, 1.6)}])
    meter = CpuBusyMeter(min_interval_s=0.5, cores=2, scan=lambda: next(scans),
                         clock=lambda: clock[0])
    assert meter.sample() is None  # first scan: nothing to compare with
    clock[0] = 0.2
    assert meter.sample() is None  # too soon: no scan
    clock[0] = 1.0
    assert meter.sample() == pytest.approx(0.5)  # 1 CPU s in 1 s on 2 cores
    clock[0] = 2.0
    assert meter.sample() == pytest.approx(0.3)
    assert meter.share == pytest.approx(0.3)


def test_meter_sees_a_periodic_real_time_load_at_its_true_share():
    """The case /proc/stat aliases: 1 kHz loops locked to the scheduler tick (a busy load where
    real-time rights are missing)."""
    spec = (cpu_load.LoadSpec("rt-loop", duty=0.3) if cpu_load.rt_allowed(10)
            else cpu_load.LoadSpec("busy", processes=1))
    procs = cpu_load.start(spec, 20.0)
    try:
        meter = CpuBusyMeter(min_interval_s=0.0)
        meter.sample()
        load_before = [cpu_load.process_cpu_s(p) for p in procs]
        time.sleep(3.0)
        share = meter.sample()
        load_cpu = sum(cpu_load.process_cpu_s(p) - b
                       for p, b in zip(procs, load_before, strict=True))
    finally:
        cpu_load.stop(procs)
    expected = load_cpu / (3.0 * meter.cores)  # the load alone, from its own accounting
    assert expected > 0.1
    # at least the load's own share, and not far above it (the rest of the machine is quiet)
    assert expected * 0.9 <= share <= expected + 0.25, (share, expected)
