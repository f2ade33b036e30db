"""The evolution node's decisions (stale, minimum interval, pending request, period) without ROS."""

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.context.evolution_policy import TriggerThresholds
from adaspring_ros.core.context.evolution_scheduler import (
    ACCEPTED,
    EVOLVE,
    OUT_OF_ORDER,
    RESTORED,
    STALE,
    EvolutionScheduler,
)


def ctx(stamp, battery=0.8, storage=1_800_000):
    return DeploymentContext(battery, storage, 5.0, 1.0, stamp_s=stamp).validated()


def scheduler(**kw):
    args = {"stale_timeout_s": 3.0, "min_interval_s": 0.005, **kw}
    return EvolutionScheduler(TriggerThresholds(period_s=100.0), **args)


def run_due(s, now):
    """Carry out the decision as the node does; return it."""
    decision = s.due(now)
    if decision is not None and decision.kind == EVOLVE:
        s.evolved(s.latest, now)
    return decision


def test_nothing_before_the_first_context_then_first_context_searches():
    s = scheduler()
    assert s.due(0.0) is None
    assert s.offer(ctx(10.0), 0.0) == ACCEPTED
    assert run_due(s, 0.0) == (EVOLVE, "first context", False)
    assert run_due(s, 0.01) is None  # same context: nothing new


def test_minimum_interval_coalesces_a_burst_to_the_latest_context():
    s = scheduler(min_interval_s=1.0)
    s.offer(ctx(0.0), 0.0)
    run_due(s, 0.0)
    for i in range(5):  # a burst of changes inside the interval
        s.offer(ctx(1.0 + i, battery=(7 - i) / 10), 0.1 * i)
        assert s.due(0.1 * i) is None
    decision = run_due(s, 1.0)
    assert decision.kind == EVOLVE and "battery 0.80->0.30" in decision.reason
    assert s.trigger.last_context.stamp_s == 5.0  # the latest won


def test_out_of_order_context_is_refused_and_keeps_the_latest():
    s = scheduler()
    s.offer(ctx(5.0), 0.0)
    assert s.offer(ctx(4.0, battery=0.1), 0.1) == OUT_OF_ORDER
    assert s.latest.stamp_s == 5.0


def test_pending_request_searches_with_refresh_and_keeps_the_first_reason():
    s = scheduler()
    s.offer(ctx(0.0), 0.0)
    run_due(s, 0.0)
    s.request("parameter set: latency_budget_ms=2.0")
    s.request("trigger thresholds changed", keep_earlier=True)
    decision = s.due(1.0)
    assert decision == (EVOLVE, "parameter set: latency_budget_ms=2.0", True)
    s.refreshed(ctx(0.0, battery=0.8), TriggerThresholds(period_s=50.0))
    s.evolved(s.latest, 1.0)
    assert s.pending is None and s.due(1.1) is None
    assert s.trigger.thresholds.period_s == 50.0


def test_dropped_pending_request_is_not_retried():
    s = scheduler()
    s.offer(ctx(0.0), 0.0)
    run_due(s, 0.0)
    s.request("parameter set: seed=3")
    s.drop_pending()
    assert s.due(1.0) is None


def test_period_elapsed_in_scene_time_searches_again():
    s = scheduler()
    s.offer(ctx(0.0), 0.0)
    run_due(s, 0.0)
    s.offer(ctx(99.0), 0.5)
    assert s.due(0.5) is None
    s.offer(ctx(100.0), 0.6)
    assert "period" in run_due(s, 0.6).reason


def test_stale_once_then_quiet_until_a_context_restores_it():
    s = scheduler(stale_timeout_s=3.0)
    s.offer(ctx(0.0), 0.0)
    run_due(s, 0.0)
    assert s.due(2.9) is None
    decision = s.due(3.5)
    assert decision.kind == STALE and "no context for 3.5 s (timeout 3.0 s)" == decision.reason
    s.evolved(ctx(0.0, battery=0.3), 3.5)  # the node searched for the conservative context
    assert s.stale and s.due(10.0) is None  # reported once, not at every tick
    assert s.offer(ctx(1.0), 11.0) == RESTORED
    assert not s.stale
    assert run_due(s, 11.0) == (EVOLVE, "context restored after stale period", True)


def test_never_stale_before_any_context():
    s = scheduler(stale_timeout_s=0.1)
    assert s.due(100.0) is None and not s.stale
