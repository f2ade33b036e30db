"""The machine's CPU busy share from per-process CPU time, which a periodic load cannot alias.

`psutil.cpu_percent` reads /proc/stat, whose busy/idle split per CPU is sampled at each scheduler
tick. A periodic load locked to the tick is then seen at whatever phase it drifts to. Measured
on this project's 2-core machines (session 11): two 1 kHz real-time loops each using 31 % of a
core (their own CPU time) read as 0.1 % of the machine for 20 s and then 59-72 %. The evolution
node's CPU veto (`core.model.latency_governor`), given 0.18 as the busy share under such a load,
then held a scale-up back for 40 s after the load had ended.

Per-process CPU time (utime + stime, which the kernel derives from each task's exact run time)
does not alias, so this meter sums it over all processes. A process that started since the last
scan counts with all its CPU time; one that ended loses its last interval (a load of processes
that each live less than a scan is under-counted). A scan costs about 1.2 ms for 62 processes
here, so it runs at most every ``min_interval_s``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

#: pid -> (create_time, CPU seconds used so far)
Scan = dict[int, tuple[float, float]]


def scan_processes() -> Scan:
    """CPU seconds (user + system) of every process this user may read, by pid."""
    import psutil

    out: Scan = {}
    for p in psutil.process_iter(["create_time", "cpu_times"]):
        times = p.info.get("cpu_times")
        created = p.info.get("create_time")
        if times is not None and created is not None:
            out[p.pid] = (float(created), float(times.user + times.system))
    return out


def used_between(before: Scan, after: Scan) -> float:
    """CPU seconds used between two scans: growth of the processes in both (same pid and start
    time), plus all of what the processes new in ``after`` used."""
    total = 0.0
    for pid, (created, cpu) in after.items():
        old = before.get(pid)
        if old is not None and old[0] == created:
            total += max(0.0, cpu - old[1])
        else:
            total += cpu
    return total


class CpuBusyMeter:
    """Busy share of all cores (0-1) between successive `sample` calls."""

    def __init__(self, min_interval_s: float = 0.5, cores: int | None = None,
                 scan: Callable[[], Scan] = scan_processes,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(min_interval_s) and min_interval_s >= 0):
            raise ValueError(f"min_interval_s must be finite and >= 0; got {min_interval_s!r}")
        self.min_interval_s = min_interval_s
        self.cores = cores or os.cpu_count() or 1
        self._scan = scan
        self._clock = clock
        self._last: tuple[float, Scan] | None = None
        self.share: float | None = None  # the latest share, for diagnostics

    def sample(self) -> float | None:
        """A new share since the previous scan, or None: on the first call, and sooner than
        ``min_interval_s`` after the previous scan (so each share is reported once)."""
        now = self._clock()
        if self._last is not None and now - self._last[0] < self.min_interval_s:
            return None
        current = self._scan()
        previous, self._last = self._last, (now, current)
        if previous is None or now <= previous[0]:
            return None
        used = used_between(previous[1], current)
        self.share = min(1.0, used / ((now - previous[0]) * self.cores))
        return self.share
