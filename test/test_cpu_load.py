"""The load step's loads are real processes that use the CPU the way their names say."""

from __future__ import annotations

import os
import resource
import time

import pytest

from adaspring_ros.testing import cpu_load


def _cpu_share(procs, seconds: float) -> list[float]:
    """CPU seconds each process used over ``seconds`` of wall time, as a share of it."""
    before = [cpu_load.process_cpu_s(p) for p in procs]
    time.sleep(seconds)
    return [(cpu_load.process_cpu_s(p) - b) / seconds for p, b in zip(procs, before, strict=True)]


def test_spec_rejects_what_it_cannot_run():
    for bad in (dict(kind="fan"), dict(processes=-1), dict(duty=0.0), dict(duty=1.0),
                dict(period_s=0.0), dict(period_s=float("nan")), dict(priority=99)):
        with pytest.raises(ValueError):
            cpu_load.LoadSpec(**bad).validate()


def test_rt_rights_come_from_root_or_the_rtprio_limit():
    assert cpu_load.rt_allowed(10, euid=0, rlimit=0)
    assert cpu_load.rt_allowed(10, euid=1000, rlimit=10)
    assert cpu_load.rt_allowed(10, euid=1000, rlimit=resource.RLIM_INFINITY)
    assert not cpu_load.rt_allowed(10, euid=1000, rlimit=9)
    assert not cpu_load.rt_allowed(10, euid=1000, rlimit=0)


def test_busy_load_keeps_each_process_on_a_core():
    procs = cpu_load.start(cpu_load.LoadSpec("busy", processes=1), 10.0)
    try:
        share = _cpu_share(procs, 1.5)
    finally:
        cpu_load.stop(procs)
    assert share[0] > 0.5, share
    assert all(p.poll() is not None for p in procs)


def test_rt_loop_runs_its_duty_under_sched_fifo_or_says_why_not():
    spec = cpu_load.LoadSpec("rt-loop", processes=1, duty=0.3)
    if not cpu_load.rt_allowed(spec.priority):
        with pytest.raises(PermissionError, match="SCHED_FIFO"):
            cpu_load.start(spec, 5.0)
        return
    procs = cpu_load.start(spec, 10.0)
    try:
        assert os.sched_getscheduler(procs[0].pid) == os.SCHED_FIFO
        share = _cpu_share(procs, 2.0)
    finally:
        cpu_load.stop(procs)
    # 30 % of each 1 ms computed, plus Python's sleep/wake overhead: a periodic load, not a
    # busy loop (which would be near 1.0)
    assert 0.2 < share[0] < 0.7, share


def test_a_load_that_cannot_start_is_an_error_not_a_quiet_machine():
    spec = cpu_load.LoadSpec("busy", processes=1)
    broken = cpu_load.BUSY_CODE
    try:
        cpu_load.BUSY_CODE = "raise SystemExit('no CPU for you')"
        with pytest.raises(RuntimeError, match="did not start: no CPU for you"):
            cpu_load.start(spec, 5.0)
    finally:
        cpu_load.BUSY_CODE = broken


def test_the_probe_times_at_the_nodes_priority_and_gives_the_thread_back():
    """A probe at another priority than the inference node's answers another question (a busy
    hog preempts a normal thread, not one at SCHED_FIFO 50), so it runs at the one it is given,
    names it, falls back as the node does where it is refused, and leaves the thread normal."""
    import torch

    module = torch.nn.Linear(8, 4)
    out = cpu_load.probe({"tiny": module}, torch.zeros(1, 8), cpu_load.LoadSpec("busy", 1),
                         seconds=0.3, priority=20)
    expected = "SCHED_FIFO 20" if cpu_load.rt_allowed(20) else "SCHED_OTHER"
    assert [(t.phase, t.policy) for t in out] == [("quiet", expected), ("loaded", expected)]
    assert all(t.calls > 0 for t in out)
    assert expected in out[0].text()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
