"""Real CPU load for the load step: which kinds reach a model's forward call, and a probe that says.

Two kinds, each one real process per core:

- ``busy``: a Python busy loop at normal priority (the issue's example, one per core).
- ``rt-loop``: a 1 kHz periodic loop under SCHED_FIFO that computes for ``duty`` of each period
  and sleeps the rest: the shape of a robot's real-time controller (ros2_control's controller
  manager runs its update loop at SCHED_FIFO 50, typically at 100 Hz-1 kHz).

Why the second kind: measured on this project's 2-core machines (kernel 6.18, whose EEVDF
scheduler serves a thread that wakes, computes 1-2 ms and sleeps ahead of busy loops), the
backbone's forward call at 20 Hz alone in one process gave p95 2.17 ms quiet, 2.19 ms with two
busy processes, 2.10 ms with six and 2.27 ms with two at nice -10: in that quiet stretch a busy
loop did not reach such a thread by itself (in a noisy one, backbone p50 2.8-4.6 ms quiet, two
raised its p95 3.9 -> 8.2 and 5.7 -> 9.5 ms, not its p50). In the load step's graph it does,
through the graph's own threads (first 2 s span over budget 1.25 s after the start in one
session 11 run), but not always: in two runs of that session the graph was noisy at rest (the
backbone's p95 6.7 and 12.9 ms, 2.0-2.3 ms in other runs), the budget was 1.3x that, and under
two busy processes 99.5 % of the windows still met it: nothing re-evolved, and nothing needed
to. The rt-loop load reaches the forward call directly (probe: backbone p95 2.17 -> 3.01 ms at
30 % duty). `probe` measures this before a load step, so each report says whether its load
reached the forward call and whether the fastest network can still meet the budget under it.
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

LOADS = ("busy", "rt-loop")

BUSY_CODE = """\
import sys, time
end = time.time() + float(sys.argv[1])
while time.time() < end:
    pass
"""

RT_LOOP_CODE = """\
import os, sys, time
seconds, duty, period, priority = (float(sys.argv[1]), float(sys.argv[2]),
                                   float(sys.argv[3]), int(sys.argv[4]))
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
end = time.time() + seconds
deadline = time.perf_counter()
while time.time() < end:
    start = time.perf_counter()
    while time.perf_counter() - start < duty * period:
        pass
    deadline += period
    left = deadline - time.perf_counter()
    if left > 0:
        time.sleep(left)
    else:  # overran (preempted): start a fresh period instead of bursting to catch up
        deadline = time.perf_counter()
"""


@dataclass(frozen=True)
class LoadSpec:
    """What load to start: ``kind`` in LOADS, ``processes`` (0 = one per core), and for rt-loop
    the share of each ``period_s`` it computes (``duty``) and its SCHED_FIFO ``priority``."""

    kind: str = "busy"
    processes: int = 0
    duty: float = 0.3
    period_s: float = 0.001
    priority: int = 10

    def validate(self) -> LoadSpec:
        if self.kind not in LOADS:
            raise ValueError(f"load kind {self.kind!r} is not one of {', '.join(LOADS)}")
        if self.processes < 0:
            raise ValueError(f"processes must be >= 0; got {self.processes}")
        if not (0.0 < self.duty < 1.0):
            raise ValueError(f"duty must be in (0, 1); got {self.duty!r}")
        if not (math.isfinite(self.period_s) and 1e-4 <= self.period_s <= 1.0):
            raise ValueError(f"period_s must be in [0.0001, 1] s; got {self.period_s!r}")
        if not 1 <= self.priority <= 98:
            raise ValueError(f"priority must be in 1-98; got {self.priority}")
        if self.kind == "rt-loop" and not rt_allowed(self.priority):
            raise PermissionError(
                f"the rt-loop load needs SCHED_FIFO {self.priority} (root, CAP_SYS_NICE or an "
                f"RLIMIT_RTPRIO of at least {self.priority}; e.g. '<user> - rtprio 98' in "
                f"/etc/security/limits.conf); use the busy load instead")
        return self

    def count(self) -> int:
        return self.processes or os.cpu_count() or 1

    def text(self) -> str:
        n = self.count()
        if self.kind == "busy":
            return f"{n} busy processes"
        return (f"{n} rt-loop processes (SCHED_FIFO {self.priority}, "
                f"{self.duty:.0%} of every {self.period_s * 1000:g} ms)")


def rt_allowed(priority: int, euid: int | None = None, rlimit: int | None = None) -> bool:
    """Whether this process may ask for SCHED_FIFO ``priority`` (a real-time rlimit this high or
    root; a container without CAP_SYS_NICE can still refuse it, which `start` then reports)."""
    euid = os.geteuid() if euid is None else euid
    if rlimit is None:
        rlimit = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    return euid == 0 or rlimit == resource.RLIM_INFINITY or rlimit >= priority


def start(spec: LoadSpec, seconds: float) -> list[subprocess.Popen]:
    """Start the load; each process stops by itself after ``seconds``."""
    spec.validate()
    if spec.kind == "busy":
        args = [BUSY_CODE, str(seconds)]
    else:
        args = [RT_LOOP_CODE, str(seconds), str(spec.duty), str(spec.period_s),
                str(spec.priority)]
    procs = [subprocess.Popen([sys.executable, "-c", *args], start_new_session=True,
                              stderr=subprocess.PIPE) for _ in range(spec.count())]
    time.sleep(0.2)
    failed = [p for p in procs if p.poll() not in (None, 0)]
    if failed:
        message = failed[0].stderr.read().decode(errors="replace").strip().splitlines()
        stop(procs)
        raise RuntimeError(f"{spec.text()} did not start: {message[-1] if message else '?'}")
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stderr is not None:
            p.stderr.close()


@dataclass(frozen=True)
class ForwardTimes:
    """Forward-call p50/p95 (ms) of one network in one phase of `probe`."""

    name: str
    phase: str
    p50_ms: float
    p95_ms: float
    calls: int
    policy: str = ""  # the scheduling policy of the timing thread, e.g. "SCHED_FIFO 50"

    def text(self) -> str:
        return (f"{self.name} {self.phase}: p50 {self.p50_ms:.2f} ms, p95 {self.p95_ms:.2f} ms"
                + (f" ({self.policy})" if self.policy else ""))


def time_forward(module, x, seconds: float, rate_hz: float = 20.0) -> tuple[float, float, int]:
    """p50, p95 (ms) and count of ``module(x)`` calls, one every 1/rate_hz s for ``seconds``
    (a thread that wakes, computes and sleeps, as the inference node's)."""
    import torch

    from adaspring_ros.core.measure import percentile

    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        with torch.inference_mode():
            module(x)
        times.append((time.perf_counter() - t0) * 1000.0)
        time.sleep(1.0 / rate_hz)
    times.sort()
    return percentile(times, 0.5), percentile(times, 0.95), len(times)


def probe(modules: dict, x, spec: LoadSpec, seconds: float = 6.0,
          priority: int = 0) -> list[ForwardTimes]:
    """Each module's forward times in this process, quiet and then under the load (one thread,
    as the node runs them, at the inference node's SCHED_FIFO ``priority``; 0 = the normal
    scheduler): whether the load reaches the forward call at all, and how far compression
    answers it. Why the priority: a busy hog that preempts a normal thread does not reach one
    at SCHED_FIFO 50 (what config/sound_assistant.yaml ships), so a probe at another priority
    than the node's answers another question. A refused priority falls back to the normal
    scheduler, as the node does, and each result names the policy it ran under."""
    import torch

    from adaspring_ros.nodes import scheduling

    policy = scheduling.set_realtime_priority(priority).policy
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for module in modules.values():  # first calls build kernels' state (stream_classifier)
            time_forward(module, x, 0.3)
        out = [ForwardTimes(name, "quiet", *time_forward(m, x, seconds), policy)
               for name, m in modules.items()]
        procs = start(spec, seconds * len(modules) + 5.0)
        try:
            time.sleep(0.5)
            out += [ForwardTimes(name, "loaded", *time_forward(m, x, seconds), policy)
                    for name, m in modules.items()]
        finally:
            stop(procs)
    finally:
        torch.set_num_threads(threads)
        scheduling.set_realtime_priority(0)
    return out


def process_cpu_s(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) one load process has used so far."""
    import psutil

    times = psutil.Process(proc.pid).cpu_times()
    return times.user + times.system
