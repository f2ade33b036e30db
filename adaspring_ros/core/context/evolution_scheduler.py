"""When the evolution node searches: stale context, minimum interval, pending requests, period.

The rules, in the order they are applied at each tick:

1. No context for ``stale_timeout_s`` (real seconds) after one has arrived: go stale once, and
   plan for a conservative context (``evolution_policy.conservative_context``) until a context
   arrives again. A context that arrives while stale ends the stale period and requests a
   search ("context restored after stale period").
2. Nothing is decided before the first context, nor while stale.
3. Two searches are at least ``min_interval_s`` apart; a burst of contexts is coalesced to the
   latest one, which the next tick after the interval picks up.
4. A pending request (a parameter changed) searches at once, with the context rebuilt under the
   new limits (``Decision.refresh``).
5. Otherwise the trigger thresholds and the period decide (``EvolutionTrigger``).

Plain code on an injected clock, so each rule is unit-tested without ROS; the node only feeds
it contexts and requests and carries out its decisions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.context.evolution_policy import EvolutionTrigger, TriggerThresholds

EVOLVE = "evolve"
STALE = "stale"

ACCEPTED = "accepted"
RESTORED = "restored"
OUT_OF_ORDER = "out_of_order"


class Decision(NamedTuple):
    """What to do now: ``kind`` is EVOLVE or STALE; ``reason`` goes to logs and the message."""

    kind: str
    reason: str
    refresh: bool = False  # EVOLVE after a parameter change: rebuild the context first


class EvolutionScheduler:
    """The evolution node's decision state; times are seconds of one monotonic clock."""

    def __init__(self, thresholds: TriggerThresholds, *, stale_timeout_s: float,
                 min_interval_s: float) -> None:
        self.trigger = EvolutionTrigger(thresholds)
        self.stale_timeout_s = stale_timeout_s
        self.min_interval_s = min_interval_s
        self.latest: DeploymentContext | None = None
        self.stale = False
        self.pending: str | None = None
        self._last_context_at: float | None = None
        self._last_search_at = -math.inf

    def offer(self, ctx: DeploymentContext, now: float) -> str:
        """Take a validated context: ACCEPTED, RESTORED (ends a stale period) or OUT_OF_ORDER."""
        if self.latest is not None and ctx.stamp_s < self.latest.stamp_s:
            return OUT_OF_ORDER
        self.latest = ctx
        self._last_context_at = now
        if not self.stale:
            return ACCEPTED
        self.stale = False
        self.pending = "context restored after stale period"
        return RESTORED

    def request(self, reason: str, *, keep_earlier: bool = False) -> None:
        """Ask for a search at the next tick (a parameter changed); the reason is reported."""
        if not (keep_earlier and self.pending is not None):
            self.pending = reason

    def due(self, now: float) -> Decision | None:
        """The decision for this tick, or None (nothing to do yet)."""
        if (not self.stale and self._last_context_at is not None
                and now - self._last_context_at > self.stale_timeout_s):
            self.stale = True
            waited = now - self._last_context_at
            return Decision(STALE, f"no context for {waited:.1f} s "
                                   f"(timeout {self.stale_timeout_s} s)")
        if self.latest is None or self.stale or now - self._last_search_at < self.min_interval_s:
            return None
        if self.pending is not None:
            return Decision(EVOLVE, self.pending, refresh=True)
        reason = self.trigger.reason(self.latest, self.latest.stamp_s)
        return None if reason is None else Decision(EVOLVE, reason)

    def refreshed(self, ctx: DeploymentContext, thresholds: TriggerThresholds) -> None:
        """The latest context rebuilt under changed parameters, with the thresholds now set."""
        self.latest = ctx
        self.trigger = EvolutionTrigger(thresholds)

    def drop_pending(self) -> None:
        """The pending request cannot be served (its rebuilt context was invalid)."""
        self.pending = None

    def evolved(self, ctx: DeploymentContext, now: float) -> None:
        """A search ran for ``ctx``: the trigger compares later contexts with this one."""
        self._last_search_at = now
        self.pending = None
        self.trigger.mark_evolved(ctx, ctx.stamp_s)
