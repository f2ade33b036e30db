"""When to re-run Runtime3C, and what to hold when the context goes stale (paper §3.3).

The paper triggers evolution "by noticeable context changes or by a pre-defined frequency (e.g.
every two hours)". Re-searching on every context message would be wasted work (the search is
cheap, but swapping the model is not free, and a burst of 1,000 messages must not queue 1,000
searches), so a change must exceed a threshold to count, and the latest context always wins.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

from adaspring_ros.core.context.deployment_context import DeploymentContext


@dataclass(frozen=True)
class TriggerThresholds:
    battery_delta: float = 0.05  # fraction of charge
    storage_delta_bytes: int = 64 * 1024
    event_rate_rel: float = 1.0  # relative change of the event rate (1.0 = doubled or halved)
    event_rate_floor_per_min: float = 1.0  # rates below this count as "quiet" (no ratio noise)
    period_s: float = 7200.0  # the paper's "every two hours"

    def validate(self) -> TriggerThresholds:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"trigger threshold {f.name} must be finite and >= 0; got {v!r}")
        if self.period_s == 0:
            raise ValueError("trigger period_s must be > 0 seconds")
        return self


class EvolutionTrigger:
    """Decides whether a new context warrants a new search; remembers what the last one saw."""

    def __init__(self, thresholds: TriggerThresholds) -> None:
        self.thresholds = thresholds.validate()
        self._last_ctx: DeploymentContext | None = None
        self._last_time: float | None = None

    @property
    def last_context(self) -> DeploymentContext | None:
        return self._last_ctx

    def reason(self, ctx: DeploymentContext, now_s: float) -> str | None:
        """Why to evolve now (a short phrase for logs and CompressionConfig.trigger), or None."""
        th = self.thresholds
        last = self._last_ctx
        if last is None:
            return "first context"
        changes = []
        if _changed(last.battery, ctx.battery, th.battery_delta):
            changes.append(f"battery {last.battery:.2f}->{ctx.battery:.2f}")
        storage_delta = abs(ctx.storage_budget_bytes - last.storage_budget_bytes)
        if storage_delta >= max(1, th.storage_delta_bytes):
            changes.append(
                f"storage budget {last.storage_budget_bytes / 2**20:.2f}->"
                f"{ctx.storage_budget_bytes / 2**20:.2f} MiB"
            )
        if _rate_changed(last.event_rate_per_min, ctx.event_rate_per_min, th):
            changes.append(
                f"event rate {last.event_rate_per_min:.1f}->{ctx.event_rate_per_min:.1f}/min"
            )
        if changes:
            return "context changed: " + ", ".join(changes)
        if self._last_time is not None and now_s - self._last_time >= th.period_s:
            return f"period of {th.period_s / 3600:g} h elapsed"
        return None

    def mark_evolved(self, ctx: DeploymentContext, now_s: float) -> None:
        self._last_ctx = ctx
        self._last_time = now_s


def _changed(a: float, b: float, delta: float) -> bool:
    if math.isnan(a) != math.isnan(b):
        return True
    return not math.isnan(a) and abs(a - b) >= delta


def _rate_changed(a: float, b: float, th: TriggerThresholds) -> bool:
    lo, hi = sorted((max(a, th.event_rate_floor_per_min), max(b, th.event_rate_floor_per_min)))
    return hi / lo - 1.0 >= th.event_rate_rel


class EventRateMeter:
    """Non-background detections per minute over a sliding window of scene time."""

    def __init__(self, window_s: float = 600.0) -> None:
        if window_s <= 0:
            raise ValueError("event-rate window must be > 0 s")
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, t_s: float) -> None:
        self._times.append(t_s)

    def rate_per_min(self, now_s: float) -> float:
        while self._times and self._times[0] < now_s - self.window_s:
            self._times.popleft()
        # a time that went backwards (clock reset) must not leave events "from the future"
        while self._times and self._times[-1] > now_s:
            self._times.pop()
        return len(self._times) * 60.0 / self.window_s


def conservative_context(last: DeploymentContext | None, *, storage_floor_bytes: int,
                         latency_budget_ms: float, accuracy_loss_threshold: float,
                         now_s: float) -> DeploymentContext:
    """The context to plan for when the context monitor has gone quiet.

    Without fresh readings the safe assumption is the worst plausible platform: an emptier battery
    (energy weighted as for a battery at most at 30 %) and the smallest storage budget the
    contention model allows, with the application's own latency and accuracy limits unchanged.
    """
    battery = 0.3 if last is None or math.isnan(last.battery) else min(last.battery, 0.3)
    storage = storage_floor_bytes if last is None else min(
        last.storage_budget_bytes, storage_floor_bytes)
    return DeploymentContext(
        battery=battery,
        storage_budget_bytes=int(storage),
        latency_budget_ms=latency_budget_ms,
        accuracy_loss_threshold=accuracy_loss_threshold,
        event_rate_per_min=0.0 if last is None else last.event_rate_per_min,
        stamp_s=now_s,
    )
