import math

import pytest

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.context.evolution_policy import (
    EventRateMeter,
    EvolutionTrigger,
    TriggerThresholds,
    conservative_context,
)


def ctx(battery=0.8, storage=1_800_000, rate=1.0):
    return DeploymentContext(battery, storage, 5.0, 1.0, event_rate_per_min=rate)


def test_trigger_fires_on_first_context_then_only_on_noticeable_change():
    t = EvolutionTrigger(TriggerThresholds(period_s=7200))
    assert t.reason(ctx(), 0) == "first context"
    t.mark_evolved(ctx(), 0)
    assert t.reason(ctx(battery=0.78, storage=1_800_100, rate=1.2), 10) is None
    assert "battery" in t.reason(ctx(battery=0.74), 10)
    assert "storage" in t.reason(ctx(storage=1_700_000), 10)
    assert "event rate" in t.reason(ctx(rate=3.0), 10)
    assert "period" in t.reason(ctx(), 7200)


def test_unknown_battery_appearing_counts_as_change():
    t = EvolutionTrigger(TriggerThresholds())
    t.mark_evolved(ctx(battery=math.nan), 0)
    assert "battery" in t.reason(ctx(battery=0.5), 1)


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="period_s"):
        TriggerThresholds(period_s=0).validate()
    with pytest.raises(ValueError, match="battery_delta"):
        TriggerThresholds(battery_delta=math.nan).validate()


def test_event_rate_meter_slides_and_survives_time_going_back():
    m = EventRateMeter(window_s=60)
    for t in range(0, 60, 10):
        m.add(t)
    assert m.rate_per_min(59) == pytest.approx(6.0)
    assert m.rate_per_min(105) == pytest.approx(1.0)  # only t=50 left
    assert m.rate_per_min(20) == 0.0  # clock went back: later events dropped


def test_conservative_context_assumes_the_worst_platform():
    c = conservative_context(ctx(battery=0.9, storage=1_900_000), storage_floor_bytes=1_000_000,
                             latency_budget_ms=5.0, accuracy_loss_threshold=1.0, now_s=3.0)
    assert c.battery == 0.3 and c.storage_budget_bytes == 1_000_000
    assert c.validated().lambda2 == pytest.approx(0.7)
    assert conservative_context(None, storage_floor_bytes=10, latency_budget_ms=1.0,
                                accuracy_loss_threshold=0.5, now_s=0).battery == 0.3
