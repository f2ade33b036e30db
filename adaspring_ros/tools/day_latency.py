"""What the main job reports about latency and energy, judged on measurement, not prediction.

Every window the inference node classifies carries its model's measured forward time
(SoundEvent.model_latency_ms); the day runner stamps it with real time on arrival. A window
*meets* T_bgt when that time is at or below the budget in force when it arrived. Windows in the
first ``SETTLE_S`` real seconds after each budget change (the start of the day included) are
shown but not counted: the system is allowed that long to re-evolve and swap.

The tight period's budget must be one only compression can meet, on this machine, in this
graph: ``backbone_measured_ms`` estimates the backbone's latency from what the graph measured
before 12:00 (the configuration in force's measured p50, scaled by the table's backbone/config
ratio when the backbone is not the one running), and the schedule is set relative to it.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.measure import percentile

SETTLE_S = 10.0


@dataclass
class BudgetTimeline:
    """Budget changes in real (monotonic) time, and which windows count."""

    changes: list[tuple[float, float]] = field(default_factory=list)  # (t, budget_ms)

    def add(self, t: float, budget_ms: float) -> None:
        self.changes.append((t, float(budget_ms)))
        self.changes.sort()

    def _latest(self, t: float) -> tuple[float, float] | None:
        i = bisect.bisect_right([c[0] for c in self.changes], t)
        return self.changes[i - 1] if i else None

    def budget_at(self, t: float) -> float:
        latest = self._latest(t)
        return latest[1] if latest else math.nan

    def counted(self, t: float) -> bool:
        latest = self._latest(t)
        return latest is not None and t >= latest[0] + SETTLE_S


def per_config(windows: list[tuple[float, int, float]], timeline: BudgetTimeline) -> dict:
    """config_id -> measured figures of its windows: count, met, counted, counted_met, p50, p95."""
    groups: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for t, config_id, ms in windows:
        groups[config_id].append((t, ms))
    out = {}
    for config_id, items in groups.items():
        ms = sorted(m for _, m in items)
        met = [m <= timeline.budget_at(t) for t, m in items]
        counted = [timeline.counted(t) for t, _ in items]
        out[config_id] = {
            "windows": len(items), "met": sum(met),
            "counted": sum(counted),
            "counted_met": sum(m and c for m, c in zip(met, counted, strict=True)),
            "p50_ms": statistics.median(ms), "p95_ms": percentile(ms, 0.95)}
    return out


def summary(windows: list[tuple[float, int, float]], timeline: BudgetTimeline) -> dict:
    """Day-level measured latency figures (the share is over counted windows only)."""
    counted = [(t, ms) for t, _, ms in windows if timeline.counted(t)]
    met = sum(ms <= timeline.budget_at(t) for t, ms in counted)
    return {"windows_with_measured_latency": len(windows),
            "windows_counted_for_T_bgt": len(counted),
            "share_meeting_T_bgt_measured": met / len(counted) if counted else math.nan}


def backbone_measured_ms(samples: list[tuple[tuple, float]], profile) -> float:
    """Median over (configuration, measured p50) of p50 x T_table(backbone) / T_table(config)."""
    backbone = profile.predict(ss.backbone_configuration(profile.arch)).latency_ms
    scaled = [p50 * backbone / profile.predict(config).latency_ms for config, p50 in samples]
    return statistics.median(scaled) if scaled else math.nan


def energy_mj(row: dict, measured_ms: float, window: WindowEnergy | None = None) -> float:
    """Energy of one window of this row's configuration at its measured latency, mJ."""
    if not math.isfinite(measured_ms):
        return math.nan
    w = window or WindowEnergy()
    return 1e3 * w.joules(row["macs"], row["params_bytes"], row["activation_bytes"], measured_ms)
