"""DeploymentContext validation and the battery -> λ mapping (no ROS, no torch)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.context.deployment_context import (
    LAMBDA2_FLOOR,
    ContextError,
    DeploymentContext,
    lambdas_from_battery,
)


def ctx(**overrides) -> DeploymentContext:
    fields = dict(battery=0.5, storage_budget_bytes=1_500_000, latency_budget_ms=10.0,
                  accuracy_loss_threshold=1.0)
    fields.update(overrides)
    return DeploymentContext(**fields)


@pytest.mark.parametrize(("battery", "lambda1", "lambda2"), [
    (0.86, 0.7, 0.3),  # full-ish battery: λ2 held at the 0.3 floor
    (0.70, 0.7, 0.3),  # 1 - 0.7 = 0.3 exactly at the floor
    (0.38, 0.38, 0.62),
    (0.0, 0.0, 1.0),
    (1.0, 1.0 - LAMBDA2_FLOOR, LAMBDA2_FLOOR),
])
def test_battery_mapping_follows_paper_section_6_3(battery, lambda1, lambda2):
    got = lambdas_from_battery(battery)
    assert got == pytest.approx((lambda1, lambda2))
    assert sum(got) == pytest.approx(1.0)


@pytest.mark.parametrize("battery", [-0.01, 1.01, math.nan, math.inf])
def test_battery_mapping_rejects_non_fractions(battery):
    with pytest.raises(ContextError, match="battery"):
        lambdas_from_battery(battery)


def test_validated_fills_lambdas_from_battery_and_keeps_the_rest():
    got = ctx(battery=0.38, event_rate_per_min=3.0, stamp_s=12.5).validated()
    assert (got.lambda1, got.lambda2) == pytest.approx((0.38, 0.62))
    assert got.storage_budget_bytes == 1_500_000
    assert isinstance(got.storage_budget_bytes, int)
    assert got.event_rate_per_min == 3.0 and got.stamp_s == 12.5


def test_explicit_lambdas_win_over_battery():
    got = ctx(battery=0.9, lambda1=0.2, lambda2=0.8).validated()
    assert (got.lambda1, got.lambda2) == (0.2, 0.8)


def test_one_lambda_given_fills_the_other():
    assert ctx(lambda1=0.25).validated().lambda2 == pytest.approx(0.75)
    assert ctx(lambda2=0.4).validated().lambda1 == pytest.approx(0.6)


def test_unknown_battery_allowed_only_with_both_lambdas():
    got = ctx(battery=math.nan, lambda1=0.5, lambda2=0.5).validated()
    assert math.isnan(got.battery)
    with pytest.raises(ContextError, match="battery is NaN"):
        ctx(battery=math.nan).validated()
    with pytest.raises(ContextError, match="battery is NaN"):
        ctx(battery=math.nan, lambda1=0.5).validated()


def test_replaceable_lambda_mapping_is_used_and_checked():
    got = ctx(battery=0.5).validated(lambda_fn=lambda b: (0.9, 0.1))
    assert (got.lambda1, got.lambda2) == (0.9, 0.1)
    with pytest.raises(ContextError, match="lambda2 \\(from lambda_fn\\)"):
        ctx().validated(lambda_fn=lambda b: (0.5, 1.5))
    with pytest.raises(ContextError, match="must equal 1"):
        ctx().validated(lambda_fn=lambda b: (0.5, 0.6))
    with pytest.raises(ContextError, match="lambda_fn failed"):
        ctx().validated(lambda_fn=lambda b: 1 / 0)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"battery": -0.1}, "battery"),
    ({"battery": 1.2}, "battery"),
    ({"storage_budget_bytes": -1}, "storage_budget_bytes"),
    ({"storage_budget_bytes": math.nan}, "storage_budget_bytes"),
    ({"latency_budget_ms": -0.5}, "latency_budget_ms"),
    ({"latency_budget_ms": math.nan}, "latency_budget_ms"),
    ({"accuracy_loss_threshold": math.nan}, "accuracy_loss_threshold"),
    ({"event_rate_per_min": -1.0}, "event_rate_per_min"),
    ({"stamp_s": math.inf}, "stamp_s"),
    ({"lambda1": 1.5, "lambda2": -0.5}, "lambda1"),
    ({"lambda1": 0.5, "lambda2": math.nan}, "lambda2"),
    ({"lambda1": 0.6, "lambda2": 0.6}, "must equal 1"),
    ({"battery": "full"}, "battery"),
    ({"latency_budget_ms": True}, "latency_budget_ms"),
    ({"storage_budget_bytes": None}, "storage_budget_bytes"),
])
def test_invalid_fields_are_named(overrides, field):
    with pytest.raises(ContextError, match=field):
        ctx(**overrides).validated()


def test_context_error_is_a_value_error():
    assert issubclass(ContextError, ValueError)


def test_infinite_budgets_mean_no_constraint():
    got = ctx(storage_budget_bytes=math.inf, latency_budget_ms=math.inf,
              accuracy_loss_threshold=math.inf).validated()
    assert got.storage_budget_bytes == math.inf and got.latency_budget_ms == math.inf


def test_context_is_immutable():
    c = ctx()
    with pytest.raises(AttributeError):
        c.battery = 0.1  # type: ignore[misc]


_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(min_value=-10**9, max_value=10**9))


@settings(max_examples=300, deadline=None)
@given(battery=_numbers, storage=_numbers, latency=_numbers, threshold=_numbers,
       rate=_numbers, l1=st.one_of(st.none(), _numbers), l2=st.one_of(st.none(), _numbers))
def test_fuzzed_contexts_validate_or_raise_context_error(battery, storage, latency, threshold,
                                                         rate, l1, l2):
    c = DeploymentContext(battery, storage, latency, threshold, rate, l1, l2)
    try:
        v = c.validated()
    except ContextError:
        return
    assert 0.0 <= v.lambda1 <= 1.0 and 0.0 <= v.lambda2 <= 1.0
    assert v.lambda1 + v.lambda2 == pytest.approx(1.0, abs=1e-6)
    assert math.isnan(v.battery) or 0.0 <= v.battery <= 1.0
    assert v.storage_budget_bytes >= 0 and v.latency_budget_ms >= 0
    assert not math.isnan(v.accuracy_loss_threshold)
    if math.isnan(v.battery):
        assert l1 is not None and l2 is not None
