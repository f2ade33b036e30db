"""Per-configuration model latency over recent windows: what the inference node reports.

The evolution node corrects its latency table from these figures, so they must describe the
machine as it is now: only windows of the last ``window_s`` real seconds (at most ``max_windows``
per configuration) count, p95 by the nearest-rank rule (a real window's figure, never an
interpolation), and the swap time of each configuration is kept beside it (T_load).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from adaspring_ros.core.measure import percentile


@dataclass(frozen=True)
class Summary:
    config_id: int
    p50_ms: float
    p95_ms: float
    windows: int
    span_s: float
    swap_ms: float  # NaN: never swapped in


class LatencyMeter:
    def __init__(self, window_s: float = 3.0, max_windows: int = 200) -> None:
        if not (math.isfinite(window_s) and window_s > 0) or max_windows < 1:
            raise ValueError("latency meter needs window_s > 0 and max_windows >= 1")
        self.window_s = window_s
        self.max_windows = max_windows
        self._times: dict[int, deque] = {}
        self._swap_ms: dict[int, float] = {}
        # audio and the report timer may run in different threads (a multi-threaded executor)
        self._lock = threading.Lock()

    def add(self, config_id: int, model_ms: float, now_s: float) -> None:
        with self._lock:
            samples = self._times.setdefault(config_id, deque(maxlen=self.max_windows))
            samples.append((now_s, float(model_ms)))

    def note_swap(self, config_id: int, swap_ms: float) -> None:
        with self._lock:
            self._swap_ms[config_id] = float(swap_ms)

    def summaries(self, now_s: float) -> list[Summary]:
        """One summary per configuration with windows in the last ``window_s``; older dropped."""
        with self._lock:
            return self._summaries(now_s)

    def _summaries(self, now_s: float) -> list[Summary]:
        out = []
        for config_id in list(self._times):
            samples = self._times[config_id]
            while samples and samples[0][0] < now_s - self.window_s:
                samples.popleft()
            if not samples:
                del self._times[config_id]
                continue
            ms = sorted(v for _, v in samples)
            out.append(Summary(config_id, percentile(ms, 0.5), percentile(ms, 0.95), len(ms),
                               samples[-1][0] - samples[0][0],
                               self._swap_ms.get(config_id, math.nan)))
        return out
